// Pure: point-in-time restore. Which base backup and which logfile backup recover a
// policy's data to a given time, and the window of times that can be recovered.
import { BackupPhase, BackupType, type Backup } from "@dataprotection/api";

export interface RecoveryWindow {
  /** The logfile backup whose log covers the window. */
  log: Backup;
  start: Date;
  end: Date;
}

export type PitrChoice =
  | { ok: true; base: Backup; log: Backup }
  | { ok: false; reason: "NoLogfileBackup" | "RestoreTimeOutOfWindow"; message: string };

/** When a backup's data stops: the logged stopTime, else its completion. */
function stopTimeOf(b: Backup): Date | undefined {
  return parseTime(b.status?.manifests?.backupLog?.stopTime ?? b.status?.completionTimestamp);
}

/** When a backup's data starts: the logged startTime, else when it started. */
export function startTimeOf(b: Backup): Date | undefined {
  return parseTime(b.status?.manifests?.backupLog?.startTime ?? b.status?.startTimestamp);
}

function parseTime(s: string | undefined): Date | undefined {
  if (!s) return undefined;
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? undefined : d;
}

function isBase(b: Backup): boolean {
  return b.status?.phase === BackupPhase.Completed && (b.spec.backupType ?? BackupType.Datafile) === BackupType.Datafile && stopTimeOf(b) !== undefined;
}

function isLog(b: Backup): boolean {
  const p = b.status?.phase;
  return b.spec.backupType === BackupType.Logfile && (p === BackupPhase.Completed || p === BackupPhase.Running)
    && startTimeOf(b) !== undefined && stopTimeOf(b) !== undefined;
}

/**
 * Each logfile backup's recoverable window: from the stopTime of the first base
 * backup inside the log's span up to the log's last stopTime (KubeBlocks 0.6 rule).
 * Oldest window first.
 */
export function recoverableWindows(backups: readonly Backup[]): RecoveryWindow[] {
  const bases = backups.filter(isBase);
  const out: RecoveryWindow[] = [];
  for (const log of backups.filter(isLog)) {
    const ls = startTimeOf(log)!.getTime();
    const le = stopTimeOf(log)!.getTime();
    const inside = bases.map((b) => stopTimeOf(b)!.getTime()).filter((t) => t >= ls && t <= le);
    if (inside.length === 0) continue;
    out.push({ log, start: new Date(Math.min(...inside)), end: new Date(le) });
  }
  return out.sort((a, b) => a.start.getTime() - b.start.getTime());
}

/**
 * The newest Completed base backup at or before `time` (inside the log's span) plus the
 * logfile backup that covers `time`. `backups` are the Backups of one policy.
 */
export function choosePitr(time: Date, backups: readonly Backup[], policy: string): PitrChoice {
  const windows = recoverableWindows(backups);
  if (windows.length === 0) {
    return { ok: false, reason: "NoLogfileBackup", message: `BackupPolicy "${policy}" has no logfile backup whose log span contains a Completed datafile backup: run a logfile backup (and a datafile backup while it runs) before restoring to a point in time` };
  }
  const t = time.getTime();
  // Among windows holding t, prefer the log that ends last (the most complete log).
  const holding = windows.filter((w) => w.start.getTime() <= t && t <= w.end.getTime()).sort((a, b) => b.end.getTime() - a.end.getTime());
  const w = holding[0];
  if (!w) {
    const list = windows.map((x) => `${iso(x.start)} to ${iso(x.end)} (logfile backup "${x.log.metadata.name}")`).join(", ");
    return { ok: false, reason: "RestoreTimeOutOfWindow", message: `restoreTime ${iso(time)} is outside the recoverable window of BackupPolicy "${policy}": ${list}; choose a restoreTime inside it` };
  }
  const ls = startTimeOf(w.log)!.getTime();
  const base = backups
    .filter(isBase)
    .filter((b) => {
      const s = stopTimeOf(b)!.getTime();
      return s >= ls && s <= t;
    })
    .sort((a, b) => stopTimeOf(b)!.getTime() - stopTimeOf(a)!.getTime() || (b.metadata.name ?? "").localeCompare(a.metadata.name ?? ""))[0]!;
  return { ok: true, base, log: w.log };
}

/** RFC 3339 without milliseconds, as users write it. */
export function iso(d: Date): string {
  return d.toISOString().replace(/\.000Z$/, "Z");
}
