// What a Backup or RestoreJob update event means for the counters and histograms: something
// only when the object moves from a running phase into a terminal one. Objects that are
// already terminal when first seen (the initial list after a restart) arrive as adds, not
// updates, so they are never counted twice.
import { BackupPhase, RestoreJobPhase, type Backup, type RestoreJob } from "@dataprotection/api";
import { Outcome } from "@dataprotection/api";
import { durationSeconds, parseSize } from "./parse.ts";
import { backupReasons, reasonLabel, restoreReasons } from "./reason.ts";
import { policyLabelsOf } from "./sample.ts";

export interface BackupFinished {
  labels: Record<"namespace" | "policy" | "type", string>;
  outcome: Outcome;
  durationSeconds?: number;
  /** Completed only. */
  bytes?: number;
  /** Failed only: a known reason or Other. */
  reason?: string;
}

export interface RestoreFinished {
  namespace: string;
  outcome: Outcome;
  durationSeconds?: number;
  reason?: string;
}

const BACKUP_RUNNING: ReadonlySet<string | undefined> = new Set([undefined, "", BackupPhase.New, BackupPhase.InProgress, BackupPhase.Running]);
const RESTORE_RUNNING: ReadonlySet<string | undefined> = new Set([undefined, "", RestoreJobPhase.New, RestoreJobPhase.InProgressPhy, RestoreJobPhase.InProgressLogic]);

type Phased = { metadata?: { uid?: string }; status?: { phase?: string } };

/** The terminal phase `cur` entered from a running phase of the same object, if it did. */
function entered(old: Phased, cur: Phased, running: ReadonlySet<string | undefined>, completed: string, failed: string): Outcome | undefined {
  if (old.metadata?.uid !== cur.metadata?.uid || !running.has(old.status?.phase)) return undefined;
  if (cur.status?.phase === completed) return Outcome.Succeeded;
  if (cur.status?.phase === failed) return Outcome.Failed;
  return undefined;
}

export function backupFinished(old: Backup, cur: Backup): BackupFinished | undefined {
  const outcome = entered(old, cur, BACKUP_RUNNING, BackupPhase.Completed, BackupPhase.Failed);
  if (!outcome) return undefined;
  const out: BackupFinished = { labels: policyLabelsOf(cur), outcome };
  const duration = durationSeconds(cur.status);
  if (duration !== undefined) out.durationSeconds = duration;
  if (outcome === Outcome.Succeeded) {
    const bytes = parseSize(cur.status?.totalSize);
    if (bytes !== undefined) out.bytes = bytes;
  } else {
    out.reason = reasonLabel(cur.status?.failureReason, backupReasons);
  }
  return out;
}

export function restoreFinished(old: RestoreJob, cur: RestoreJob): RestoreFinished | undefined {
  const outcome = entered(old, cur, RESTORE_RUNNING, RestoreJobPhase.Completed, RestoreJobPhase.Failed);
  if (!outcome) return undefined;
  const out: RestoreFinished = { namespace: cur.metadata?.namespace ?? "", outcome };
  const duration = durationSeconds(cur.status);
  if (duration !== undefined) out.durationSeconds = duration;
  if (outcome === Outcome.Failed) out.reason = reasonLabel(cur.status?.failureReason, restoreReasons);
  return out;
}
