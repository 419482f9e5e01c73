// Pure: the Backups a policy makes, and the narrow view of Backups its decisions read.
import {
  AnnotationLogKeepFrom, BackupProtectionRetain, DataProtectionAPIVersion, LabelAutoBackup, LabelBackupPolicy, LabelBackupProtection,
  LabelBackupProtectionLegacy, LabelBackupType, type Backup,
} from "@dataprotection/api";
import { childName, type KubeObject } from "@dataprotection/runtime";
import type { BackupSummary, BackupType } from "./types.ts";

/** What decisions know about a Backup beyond retention's summary. */
export interface ObservedBackup extends BackupSummary {
  /** metadata.deletionTimestamp is set: already on its way out. */
  deleting: boolean;
  uid?: string;
  /** status.startTimestamp. */
  startTimestamp?: Date;
  /** A logfile Backup's recorded keep-from (log-retention.ts). */
  logKeepFrom?: string;
}

/** Label values are at most 63 characters; longer policy names get a hashed, bounded value. */
export function policyLabelValue(policyName: string): string {
  return policyName.length <= 63 ? policyName : childName(policyName, "");
}

/** The Backup a schedule creates for one tick: labelled with its policy, type and that a schedule made it. */
export function buildScheduledBackup(policy: { namespace: string; name: string }, type: BackupType, name: string): Backup & KubeObject {
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "Backup",
    metadata: {
      name,
      namespace: policy.namespace,
      labels: { [LabelBackupPolicy]: policyLabelValue(policy.name), [LabelBackupType]: type, [LabelAutoBackup]: "true" },
    },
    spec: { backupPolicyName: policy.name, backupType: type },
  };
}

export function isProtected(labels: Readonly<Record<string, string>> | undefined): boolean {
  return labels?.[LabelBackupProtection] === BackupProtectionRetain || labels?.[LabelBackupProtectionLegacy] === BackupProtectionRetain;
}

/** Maps a Backup as stored (timestamps are RFC 3339 strings) onto what the decisions read. */
export function observeBackup(b: Backup): ObservedBackup {
  // Built by assignment, not spreads of optional parts: every reconcile observes each of its
  // policy's Backups, and at a tick of 1,000 policies the spreads' temporary objects showed in GC.
  const m = b.metadata ?? {};
  const labels = m.labels as Record<string, string> | undefined;
  const status = b.status;
  const o: ObservedBackup = {
    name: m.name ?? "",
    namespace: m.namespace ?? "",
    backupType: (b.spec.backupType ?? "datafile") as BackupType,
    phase: status?.phase,
    policyName: b.spec.backupPolicyName ?? "",
    scheduled: labels?.[LabelAutoBackup] === "true",
    protected: isProtected(labels),
    creationTimestamp: toDate(m.creationTimestamp) ?? new Date(0),
    deleting: m.deletionTimestamp !== undefined && m.deletionTimestamp !== null,
  };
  const parent = b.spec.parentBackupName ?? status?.parentBackupName;
  if (parent) o.parentBackupName = parent;
  const completion = toDate(status?.completionTimestamp);
  if (completion) o.completionTimestamp = completion;
  const expiration = toDate(status?.expiration);
  if (expiration) o.expiration = expiration;
  if (m.uid) o.uid = m.uid;
  const start = toDate(status?.startTimestamp);
  if (start) o.startTimestamp = start;
  const keepFrom = m.annotations?.[AnnotationLogKeepFrom];
  if (keepFrom) o.logKeepFrom = keepFrom;
  return o;
}

function toDate(v: unknown): Date | undefined {
  if (v === undefined || v === null || v === "") return undefined;
  const d = v instanceof Date ? v : new Date(String(v));
  return Number.isNaN(d.getTime()) ? undefined : d;
}

/** Still working (or not yet picked up): New, InProgress, Running or no phase, and not being deleted. */
export function isActive(b: ObservedBackup): boolean {
  return !b.deleting && (b.phase === undefined || b.phase === "New" || b.phase === "InProgress" || b.phase === "Running");
}
