// Pure: what `kubectl-dp status` prints, one line per BackupPolicy: its last success, the age
// of its newest recovery point against its schedule's period, its next tick and, where it has
// a logfile backup, the point-in-time window. (policies, the Backups, now) -> rows.
import type { Backup, BackupPolicy } from "@dataprotection/api";
import { ticksAround } from "./cron.ts";
import { humanDuration, isoTime } from "./table.ts";

/**
 * OK: the newest recovery point is younger than the schedule's period. LATE: it is older and no
 * backup is under way. RUNNING: it is older (or there is none) but a backup of the policy is
 * under way. NO-BACKUP: there is no Completed datafile or snapshot backup and none is under way.
 * UNSCHEDULED: no datafile or snapshot schedule is enabled (with a valid cron), so there is no
 * period to hold the age against.
 */
export type Health = "OK" | "LATE" | "RUNNING" | "NO-BACKUP" | "UNSCHEDULED";

export interface ScheduleStatus {
  type: "datafile" | "snapshot";
  cronExpression: string;
  /** Absent when the expression is one the operator refuses (the policy is then Failed). */
  nextTick?: string;
  periodSeconds?: number;
}

/** One logfile backup's span, and the part of it a point-in-time restore can reach. */
export interface PitrWindow {
  /** The logfile backup. */
  backup: string;
  phase: string;
  /** status.manifests.backupLog.startTime / stopTime. */
  logStart: string;
  logStop: string;
  /** The window: from the first Completed datafile backup inside the log's span (KubeBlocks 0.6 rule), else logStart; to logStop. */
  from: string;
  to: string;
  /** That datafile backup; absent when none lies inside the span (a restore then has no base to start from). */
  base?: string;
}

export interface PolicyStatus {
  namespace: string;
  name: string;
  phase?: string;
  failureReason?: string;
  /** The newest completion of any of its backups (or status.lastSuccessfulTime when newer). */
  lastSuccess?: string;
  /** The newest Completed datafile or snapshot backup, and when its data stops. */
  newestPoint?: { backup: string; type: string; time: string; ageSeconds: number };
  schedules: ScheduleStatus[];
  /** The shortest period among the valid enabled schedules. */
  periodSeconds?: number;
  /** The earliest next tick among them. */
  nextTick?: string;
  health: Health;
  /** Datafile or snapshot backups of the policy not done yet. */
  inProgress: string[];
  /** Oldest window first (by its end). */
  pitr: PitrWindow[];
}

const ACTIVE = new Set(["", "New", "InProgress"]);

const time = (s: string | undefined): number | undefined => {
  if (!s) return undefined;
  const t = Date.parse(String(s));
  return Number.isNaN(t) ? undefined : t;
};
const typeOf = (b: Backup): string => b.spec.backupType ?? "datafile";
/** When a backup's data stops: the logged stopTime, else its completion (as the restore controller reads it). */
const stopOf = (b: Backup): number | undefined => time(b.status?.manifests?.backupLog?.stopTime) ?? time(b.status?.completionTimestamp);
const startOf = (b: Backup): number | undefined => time(b.status?.manifests?.backupLog?.startTime) ?? time(b.status?.startTimestamp);
const created = (b: Backup): number | undefined => time(b.metadata?.creationTimestamp ? String(b.metadata.creationTimestamp) : undefined);

/** The status of one policy; `backups` may hold other policies' and namespaces' Backups. */
export function policyStatus(policy: BackupPolicy, backups: readonly Backup[], now: Date): PolicyStatus {
  const name = policy.metadata?.name ?? "";
  const namespace = policy.metadata?.namespace ?? "";
  const own = backups.filter((b) => b.spec.backupPolicyName === name && (b.metadata?.namespace ?? namespace) === namespace && !b.metadata?.deletionTimestamp);
  const completed = own.filter((b) => b.status?.phase === "Completed");

  let lastSuccess = time(policy.status?.lastSuccessfulTime);
  for (const b of completed) {
    const t = time(b.status?.completionTimestamp) ?? stopOf(b) ?? created(b);
    if (t !== undefined && (lastSuccess === undefined || t > lastSuccess)) lastSuccess = t;
  }

  let newest: { b: Backup; t: number } | undefined;
  for (const b of completed) {
    if (typeOf(b) === "logfile") continue;
    const t = stopOf(b) ?? created(b);
    if (t !== undefined && (!newest || t > newest.t || (t === newest.t && (b.metadata?.name ?? "") > (newest.b.metadata?.name ?? "")))) newest = { b, t };
  }

  const schedules: ScheduleStatus[] = [];
  for (const type of ["datafile", "snapshot"] as const) {
    const s = policy.spec.schedule?.[type];
    if (s?.enable !== true) continue;
    const ticks = ticksAround(s.cronExpression, now);
    schedules.push({ type, cronExpression: s.cronExpression, ...(ticks ? { nextTick: isoTime(ticks.next), periodSeconds: Math.round(ticks.periodMs / 1000) } : {}) });
  }
  const periods = schedules.flatMap((s) => (s.periodSeconds !== undefined ? [s.periodSeconds] : []));
  const nexts = schedules.flatMap((s) => (s.nextTick ? [s.nextTick] : [])).sort();
  const periodSeconds = periods.length ? Math.min(...periods) : undefined;

  const inProgress = own
    .filter((b) => typeOf(b) !== "logfile" && ACTIVE.has(b.status?.phase ?? ""))
    .map((b) => b.metadata?.name ?? "")
    .sort();

  const ageSeconds = newest ? Math.max(0, Math.floor((now.getTime() - newest.t) / 1000)) : undefined;
  let health: Health;
  if (periodSeconds === undefined) health = "UNSCHEDULED";
  else if (ageSeconds !== undefined && ageSeconds <= periodSeconds) health = "OK";
  else if (inProgress.length) health = "RUNNING";
  else health = ageSeconds === undefined ? "NO-BACKUP" : "LATE";

  return {
    namespace,
    name,
    ...(policy.status?.phase ? { phase: policy.status.phase } : {}),
    ...(policy.status?.failureReason ? { failureReason: policy.status.failureReason } : {}),
    ...(lastSuccess !== undefined ? { lastSuccess: isoTime(lastSuccess) } : {}),
    ...(newest ? { newestPoint: { backup: newest.b.metadata?.name ?? "", type: typeOf(newest.b), time: isoTime(newest.t), ageSeconds: ageSeconds! } } : {}),
    schedules,
    ...(periodSeconds !== undefined ? { periodSeconds } : {}),
    ...(nexts.length ? { nextTick: nexts[0] } : {}),
    health,
    inProgress,
    pitr: pitrWindows(own),
  };
}

/** The windows of a policy's logfile backups (Running or Completed, with a logged span). */
export function pitrWindows(own: readonly Backup[]): PitrWindow[] {
  const bases = own.filter((b) => b.status?.phase === "Completed" && typeOf(b) === "datafile" && stopOf(b) !== undefined);
  const out: PitrWindow[] = [];
  for (const log of own) {
    const phase = log.status?.phase ?? "";
    if (typeOf(log) !== "logfile" || (phase !== "Completed" && phase !== "Running")) continue;
    const ls = startOf(log);
    const le = stopOf(log);
    if (ls === undefined || le === undefined) continue;
    let base: { name: string; t: number } | undefined;
    for (const b of bases) {
      const t = stopOf(b)!;
      if (t >= ls && t <= le && (!base || t < base.t)) base = { name: b.metadata?.name ?? "", t };
    }
    out.push({
      backup: log.metadata?.name ?? "",
      phase,
      logStart: isoTime(ls),
      logStop: isoTime(le),
      from: isoTime(base?.t ?? ls),
      to: isoTime(le),
      ...(base ? { base: base.name } : {}),
    });
  }
  return out.sort((a, b) => a.to.localeCompare(b.to) || a.backup.localeCompare(b.backup));
}

/** Every policy's status, by namespace then name. */
export function statusRows(policies: readonly BackupPolicy[], backups: readonly Backup[], now: Date): PolicyStatus[] {
  return policies
    .map((p) => policyStatus(p, backups, now))
    .sort((a, b) => a.namespace.localeCompare(b.namespace) || a.name.localeCompare(b.name));
}

const NONE = "<none>";

/** The table: durations in kubectl's age style; the PITR window of the log that ends last. */
export function statusTable(rows: readonly PolicyStatus[], all: boolean, now: Date): { header: string[]; rows: string[][] } {
  const since = (iso: string | undefined): string => (iso ? humanDuration(now.getTime() - Date.parse(iso)) : NONE);
  return {
    header: [...(all ? ["NAMESPACE"] : []), "NAME", "PHASE", "LAST-SUCCESS", "NEWEST-POINT", "PERIOD", "HEALTH", "NEXT-TICK", "PITR-WINDOW"],
    rows: rows.map((r) => {
      const w = r.pitr.at(-1);
      return [
        ...(all ? [r.namespace] : []),
        r.name,
        r.phase ?? NONE,
        since(r.lastSuccess),
        r.newestPoint ? humanDuration(r.newestPoint.ageSeconds * 1000) : NONE,
        r.periodSeconds !== undefined ? humanDuration(r.periodSeconds * 1000) : NONE,
        r.health,
        r.nextTick ? humanDuration(Date.parse(r.nextTick) - now.getTime()) : NONE,
        w ? `${w.from}/${w.to}` : NONE,
      ];
    }),
  };
}
