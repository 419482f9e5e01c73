// Deterministic names of scheduled Backups: one name per (policy, type, tick), so a
// restarted operator finds the Backup it already created instead of making a twin.
import { createHash } from "node:crypto";
import type { BackupType } from "./types.ts";

/** Backup names become Job/Pod names and label values, so they stay DNS-1123 labels. */
export const MAX_NAME_LENGTH = 63;
const HASH_LENGTH = 8;

/**
 * `<policy>-<type>-<UTC yyyymmddhhmm>` as issue 7 asks. A tick off the minute (only a cron
 * with a seconds field makes one) gets `ss` appended so two ticks in one minute never share
 * a name. A policy name that is too long or not a valid label (e.g. it has dots) is cut and
 * followed by a hash of the full name, so distinct policies keep distinct names.
 */
export function backupNameForTick(policyName: string, type: BackupType, tick: Date): string {
  const suffix = `-${type}-${tickStamp(tick)}`;
  const simple = `${policyName}${suffix}`;
  if (simple.length <= MAX_NAME_LENGTH && isDNS1123Label(simple)) return simple;
  const hash = createHash("sha256").update(policyName).digest("hex").slice(0, HASH_LENGTH);
  const room = MAX_NAME_LENGTH - suffix.length - HASH_LENGTH - 1;
  const prefix = policyName
    .toLowerCase()
    .replace(/[^a-z0-9-]/g, "-")
    .slice(0, room)
    .replace(/^-+|-+$/g, "");
  return prefix === "" ? `${hash}${suffix}` : `${prefix}-${hash}${suffix}`;
}

/** yyyymmddhhmm in UTC, plus ss when the tick is not on a whole minute. */
export function tickStamp(tick: Date): string {
  const pad = (n: number): string => String(n).padStart(2, "0");
  const minutes =
    `${tick.getUTCFullYear()}${pad(tick.getUTCMonth() + 1)}${pad(tick.getUTCDate())}` +
    `${pad(tick.getUTCHours())}${pad(tick.getUTCMinutes())}`;
  return tick.getUTCSeconds() === 0 ? minutes : `${minutes}${pad(tick.getUTCSeconds())}`;
}

export function isDNS1123Label(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(name);
}
