// Which Backups retention deletes: one pure decision over a namespace's Backups.
import { PruneReason } from "./reasons.ts";
import type { BackupSummary, BackupType } from "./types.ts";

export { expirationFor, parseTTL, type ParseTTLResult } from "./ttl.ts";

/** backupsHistoryLimit of one policy and type; 0 = no limit. */
export interface HistoryLimit {
  namespace: string;
  policyName: string;
  backupType: BackupType;
  limit: number;
}

export interface PruneOptions {
  now: Date;
  historyLimits?: readonly HistoryLimit[];
}

export interface PruneSelection {
  namespace: string;
  name: string;
  reason: PruneReason;
}

/**
 * Selects the Backups to delete, oldest first. Pass every Backup of the namespace, not
 * only the policy's: a retained Backup anywhere keeps its parents.
 *
 * - Expired (expiration <= now) ones are deleted.
 * - A history limit L keeps the newest L of a policy's scheduled, finished (Completed or
 *   Failed, as KubeBlocks 0.6 counted), unprotected Backups of one type; older ones go.
 *   Failed ones count so they cannot pile up, but the newest Completed one always takes
 *   a slot, so failures never push out the last good backup.
 * - Never deleted: an unfinished Backup (New, InProgress, Running, Deleting, no phase), a
 *   protected one, the newest Completed of a (policy, type) — by creation, the newest
 *   data — and every ancestor of a Backup that is kept.
 */
export function selectBackupsToPrune(backups: readonly BackupSummary[], options: PruneOptions): PruneSelection[] {
  const pinned = pinnedBackups(backups);
  const selected = new Map<BackupSummary, PruneReason>();
  for (const b of backups) {
    if (!pinned.has(b) && isExpired(b, options.now)) selected.set(b, PruneReason.Expired);
  }
  for (const limit of options.historyLimits ?? []) {
    if (limit.limit <= 0) continue;
    const counted = backups
      .filter((b) => inGroup(b, limit) && b.scheduled && isFinished(b) && !b.protected && !selected.has(b))
      .sort(newestFirst);
    // The pinned newest Completed takes its slot first, whatever its age.
    let slots = limit.limit - counted.filter((b) => pinned.has(b)).length;
    for (const b of counted) {
      if (pinned.has(b)) continue;
      if (slots > 0) slots--;
      else selected.set(b, PruneReason.HistoryLimit);
    }
  }
  for (const ancestor of ancestorsOfKept(backups, selected)) selected.delete(ancestor);
  return [...selected]
    .sort(([a], [b]) => -newestFirst(a, b))
    .map(([b, reason]) => ({ namespace: b.namespace, name: b.name, reason }));
}

export function isFinished(b: BackupSummary): boolean {
  return b.phase === "Completed" || b.phase === "Failed";
}

function isExpired(b: BackupSummary, now: Date): boolean {
  return b.expiration !== undefined && b.expiration.getTime() <= now.getTime();
}

function inGroup(b: BackupSummary, g: { namespace: string; policyName: string; backupType: BackupType }): boolean {
  return b.namespace === g.namespace && b.policyName === g.policyName && b.backupType === g.backupType;
}

/** Backups no rule may delete, ancestors aside. */
function pinnedBackups(backups: readonly BackupSummary[]): Set<BackupSummary> {
  const pinned = new Set<BackupSummary>();
  const newestCompleted = new Map<string, BackupSummary>();
  for (const b of backups) {
    if (!isFinished(b) || b.protected) pinned.add(b);
    if (b.phase !== "Completed") continue;
    const group = groupKey(b);
    const current = newestCompleted.get(group);
    if (current === undefined || newestFirst(b, current) < 0) newestCompleted.set(group, b);
  }
  for (const b of newestCompleted.values()) pinned.add(b);
  return pinned;
}

/**
 * Every ancestor of a Backup that stays. Keeping an ancestor keeps its own ancestors,
 * and those are on the same parent chain, so one transitive walk from the kept ones
 * reaches the fixed point. The visited set makes cyclic parent names harmless.
 */
function ancestorsOfKept(backups: readonly BackupSummary[], selected: ReadonlyMap<BackupSummary, unknown>): Set<BackupSummary> {
  const ancestors = new Set<BackupSummary>();
  // Most policies make no incremental chains: then there is nothing to walk.
  if (!backups.some((b) => b.parentBackupName)) return ancestors;
  const byName = new Map(backups.map((b) => [nameKey(b.namespace, b.name), b]));
  const parentOf = (b: BackupSummary): BackupSummary | undefined =>
    b.parentBackupName ? byName.get(nameKey(b.namespace, b.parentBackupName)) : undefined;
  for (const kept of backups) {
    if (selected.has(kept)) continue;
    for (let p = parentOf(kept); p !== undefined && !ancestors.has(p); p = parentOf(p)) ancestors.add(p);
  }
  return ancestors;
}

// Map keys joined by "/" (every reconcile computes retention: no JSON.stringify of a fresh
// array). Namespaces and object names never hold one, and backupType is an enum (the CRD checks
// both), so a key reads one way only, even with a "/" in a policy name.
function nameKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

function groupKey(b: BackupSummary): string {
  return `${b.namespace}/${b.policyName}/${b.backupType}`;
}

/** Newest creation first; ties broken by namespace and name so the order never depends on input order. */
function newestFirst(a: BackupSummary, b: BackupSummary): number {
  const byTime = b.creationTimestamp.getTime() - a.creationTimestamp.getTime();
  if (byTime !== 0) return byTime;
  if (a.namespace !== b.namespace) return a.namespace < b.namespace ? 1 : -1;
  if (a.name !== b.name) return a.name < b.name ? 1 : -1;
  return 0;
}
