// Helpers of the BackupPolicy suites: objects through the runtime client, Backup statuses set
// by the test (standing in for the Backup controller), and a FakeClock driven tick by tick.
import { DataProtectionAPIVersion, type Backup, type BackupPolicy, type BackupStatus } from "@dataprotection/api";
import { Kinds } from "@dataprotection/controllers";
import { FakeClock, isNotFound, KubeClient, type KubeObject } from "@dataprotection/runtime";
import type { KubeConfig } from "@kubernetes/client-node";
import { until } from "../harness.ts";

export type BackupObject = Backup & KubeObject;
export type PolicyObject = BackupPolicy & KubeObject;

export const MINUTE = 60_000;

export function kube(kc: KubeConfig): KubeClient {
  return new KubeClient(kc);
}

/** A tool that does nothing: the policy controller only needs it to exist. */
export async function createTool(c: KubeClient, name: string): Promise<void> {
  await c.create(Kinds.BackupTool, {
    apiVersion: DataProtectionAPIVersion, kind: "BackupTool", metadata: { name },
    spec: { image: "busybox", deployKind: "job", backupCommands: ["true"] },
  });
}

export async function deleteTool(c: KubeClient, name: string): Promise<void> {
  await c.delete(Kinds.BackupTool, name).catch(() => undefined);
}

export async function createPolicy(c: KubeClient, ns: string, name: string, spec: PolicyObject["spec"]): Promise<PolicyObject> {
  return c.create<PolicyObject>(Kinds.BackupPolicy, { apiVersion: DataProtectionAPIVersion, kind: "BackupPolicy", metadata: { name, namespace: ns }, spec });
}

export async function getPolicy(c: KubeClient, ns: string, name: string): Promise<PolicyObject> {
  return c.get<PolicyObject>(Kinds.BackupPolicy, name, ns);
}

/** The datafile section of a policy with the given tool; history unlimited unless told. */
export function datafile(tool: string, backupsHistoryLimit = 0): NonNullable<PolicyObject["spec"]["datafile"]> {
  return { target: { labelsSelector: { matchLabels: { app: "db" } } }, backupToolName: tool, backupsHistoryLimit };
}

/** Backups of one policy, oldest name first (names carry the tick). */
export async function backupsOf(c: KubeClient, ns: string, policy: string): Promise<BackupObject[]> {
  const list = await c.list<BackupObject>(Kinds.Backup, { namespace: ns });
  return list.items.filter((b) => b.spec.backupPolicyName === policy).sort((a, b) => (a.metadata.name ?? "").localeCompare(b.metadata.name ?? ""));
}

export async function backupNames(c: KubeClient, ns: string, policy: string): Promise<string[]> {
  return (await backupsOf(c, ns, policy)).map((b) => b.metadata.name ?? "");
}

/** Sets a Backup's status as the Backup controller would. */
export async function setBackupStatus(c: KubeClient, ns: string, name: string, status: BackupStatus): Promise<void> {
  await c.patch(Kinds.Backup, name, ns, { status }, { subresource: "status" });
}

/** The test's Backup controller: every Backup of the policy without a phase becomes Completed. */
export async function completeNew(c: KubeClient, ns: string, policy: string, at: Date): Promise<void> {
  for (const b of await backupsOf(c, ns, policy)) {
    if (b.status?.phase) continue;
    await setBackupStatus(c, ns, b.metadata.name ?? "", { phase: "Completed", startTimestamp: rfc3339(at), completionTimestamp: rfc3339(at) });
  }
}

/** `<policy>-<type>-<UTC yyyymmddhhmm>`, the documented name of a scheduled Backup. */
export function tickName(policy: string, type: string, tick: Date): string {
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${policy}-${type}-${tick.getUTCFullYear()}${p(tick.getUTCMonth() + 1)}${p(tick.getUTCDate())}${p(tick.getUTCHours())}${p(tick.getUTCMinutes())}`;
}

export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/**
 * A FakeClock that starts on a whole minute plus 30 s, ahead of real time, so every policy's
 * real creationTimestamp is older than the fake now (the controller counts from first sight).
 */
export function schedulingClock(): FakeClock {
  return new FakeClock(Math.ceil(Date.now() / MINUTE) * MINUTE + 2 * MINUTE + 30_000);
}

/** Moves the fake clock to `t` (never backwards). */
export function advanceTo(clock: FakeClock, t: number): void {
  if (t > clock.now()) clock.advance(t - clock.now());
}

/**
 * Polls fn; while it has no answer, nudges the clock forward by a second (up to maxNudgeMs)
 * so a requeue timer the controller armed a moment after the last advance still fires.
 */
export async function untilTicked<T>(clock: FakeClock, what: string, fn: () => Promise<T | undefined>, maxNudgeMs = 20_000): Promise<T> {
  const limit = clock.now() + maxNudgeMs;
  const nudge = (): void => {
    if (clock.now() + 1000 <= limit) clock.advance(1000);
  };
  return until(what, async () => {
    let v: T | undefined;
    try {
      v = await fn();
    } catch (e) {
      nudge();
      throw e; // until reports the last one: what the test saw instead
    }
    if (v === undefined) nudge();
    return v;
  }, 90_000, 200);
}

export async function exists(c: KubeClient, ns: string, name: string): Promise<boolean> {
  try {
    await c.get(Kinds.Backup, name, ns);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}
