// The schedule decision of one BackupPolicy type: given the cron, what was last scheduled
// and what exists, say what to do about the due tick. The shell applies it and requeues
// at `next`; a restart re-runs it against the API server's state and reaches the same answer.
import { backupNameForTick } from "./backup-name.ts";
import { latestTickAtOrBefore, nextTickAfter, type ParsedCron } from "./cron.ts";
import { SkipReason } from "./reasons.ts";
import type { BackupType, RunningBackup } from "./types.ts";

export { parseCron, type ParsedCron, type ParseCronResult } from "./cron.ts";
export { backupNameForTick } from "./backup-name.ts";
export { archiveIntervalEnv, archiveIntervalSeconds, DEFAULT_ARCHIVE_INTERVAL_SECONDS } from "./archive-interval.ts";

/**
 * A reconcile lands a little after its tick (workqueue, API latency), so a tick this
 * late is on time, not a catch-up: startingDeadlineMinutes 0 then means "never catch up
 * after an outage" rather than "never run".
 */
export const ON_TIME_GRACE_MS = 60_000;

export interface TickInput {
  policyName: string;
  backupType: BackupType;
  cron: ParsedCron;
  /** status.lastScheduleTime: the last tick acted on (created, skipped or found). */
  lastScheduleTime?: Date;
  /** Ticks at or before this never fire (a new policy does not back up its past). */
  policyCreationTime: Date;
  now: Date;
  /** spec.schedule.startingDeadlineMinutes; undefined = a missed tick is taken however late. */
  startingDeadlineMinutes?: number;
  /** A Backup of this policy and type that has not finished, if any. */
  runningBackupOfType?: RunningBackup;
  /** Names of this namespace's Backups, to find one created before a restart. */
  existingBackupNames: ReadonlySet<string>;
}

/** Every decision carries `next`, the following tick: the shell's requeueAfter is next - now. */
export type TickDecision =
  | { action: "create"; tick: Date; name: string; next: Date }
  | { action: "skip"; tick: Date; reason: SkipReason; message: string; next: Date }
  /** The Backup for the due tick already exists (made before a restart): only record the tick. */
  | { action: "advance"; tick: Date; name: string; next: Date }
  | { action: "wait"; next: Date };

/**
 * The due tick is the latest one at or before now and after lastScheduleTime (or after the
 * policy's creation). Older missed ticks are collapsed into it, so an outage yields at most
 * one catch-up. After create/skip/advance the shell sets lastScheduleTime = tick.
 */
export function decideTick(input: TickInput): TickDecision {
  const { cron, now } = input;
  const next = nextTickAfter(cron, now);
  const tick = latestTickAtOrBefore(cron, now);
  const since = Math.max(input.lastScheduleTime?.getTime() ?? 0, input.policyCreationTime.getTime());
  if (tick === undefined || tick.getTime() <= since) return { action: "wait", next };

  const name = backupNameForTick(input.policyName, input.backupType, tick);
  if (input.existingBackupNames.has(name)) return { action: "advance", tick, name, next };

  const skipped = `skipped tick ${formatTime(tick)} of ${input.backupType} schedule`;
  const lateMs = now.getTime() - tick.getTime();
  if (input.startingDeadlineMinutes !== undefined) {
    const deadlineMs = Math.max(input.startingDeadlineMinutes * 60_000, ON_TIME_GRACE_MS);
    if (lateMs > deadlineMs) {
      const message =
        `${skipped}: ${formatMinutes(lateMs)} late at ${formatTime(now)}, ` +
        `past startingDeadlineMinutes ${input.startingDeadlineMinutes}`;
      return { action: "skip", tick, reason: SkipReason.MissedDeadline, message, next };
    }
  }
  const running = input.runningBackupOfType;
  if (running !== undefined) {
    const message = `${skipped}: previous backup "${running.name}" still ${running.phase || "New"}`;
    return { action: "skip", tick, reason: SkipReason.PreviousRunning, message, next };
  }
  return { action: "create", tick, name, next };
}

/** RFC 3339 without milliseconds: ticks are whole seconds. */
export function formatTime(t: Date): string {
  return t.toISOString().replace(/\.\d{3}Z$/, "Z");
}

function formatMinutes(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  return minutes >= 1 ? `${minutes}m` : `${Math.floor(ms / 1000)}s`;
}
