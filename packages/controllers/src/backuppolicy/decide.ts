// Pure: one BackupPolicy reconcile as the runtime's Decision. (policy, its Backups, which tools
// and repos exist, now) -> Backups to create, Backups to delete, status, Events, requeue.
// No I/O and no clock: the shell in reconcile.ts applies it.
import { BackupPolicyPhase, type Backup, type BackupPolicy, type BackupPolicyStatus, type Condition } from "@dataprotection/api";
import type { DecidedEvent, Decision, Kind, KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { backupNameForTick } from "./backup-name.ts";
import { buildScheduledBackup, isActive, type ObservedBackup } from "./backups.ts";
import { latestTickAtOrBefore, nextTickAfter } from "./cron.ts";
import { decideLogRetention } from "./log-retention.ts";
import { EventReason, PruneReason } from "./reasons.ts";
import { selectBackupsToPrune, type HistoryLimit } from "./retention.ts";
import { decideTick, formatTime } from "./schedule.ts";
import { BACKUP_TYPES, type BackupType } from "./types.ts";
import { failureReasonOf, validatePolicy, type PolicyValidation, type PolicyWorld } from "./validate.ts";

/** KubeBlocks 0.6's default when backupsHistoryLimit is left out (the CRD defaults it too). */
export const DEFAULT_HISTORY_LIMIT = 7;

export interface PolicyObservation {
  policy: BackupPolicy;
  /**
   * The policy's Backups and every Backup descending from one of them (retention keeps the
   * parents of any kept Backup); more of the namespace's Backups change nothing.
   */
  backups: readonly ObservedBackup[];
  world: PolicyWorld;
  now: Date;
  /** OperatorOptions.logKeepFromMarginMs; LOG_KEEP_FROM_MARGIN_MS when absent. */
  logKeepFromMarginMs?: number;
}

/** A Backup to create for one tick, and the Event its creation gets. */
export interface BackupCreate {
  kind: Kind;
  object: Backup & KubeObject;
  tick: Date;
  event: DecidedEvent;
  /**
   * Record `event` once this pass created the Backup (logfile Backups), or else (a scheduled
   * tick) with the status write that records the tick, after the tick's burst of creates.
   * Never when the Backup existed already (made before a restart).
   */
  eventOnCreate: boolean;
}

/**
 * The runtime's Decision, its creates saying which Event each Backup's creation gets (recorded
 * only when the create made it, which only the shell learns). `requeueAfterMs` runs from `now`.
 */
export interface PolicyDecision extends Decision<BackupPolicyStatus> {
  creates: BackupCreate[];
  /** The running logfile Backups' log-retention ConfigMaps to create if absent (log-retention.ts); its patches are in `patches`. */
  logRetentionCreates: Array<{ kind: Kind; object: object }>;
  deletes: Array<{ kind: Kind; name: string; namespace: string }>;
  status: BackupPolicyStatus;
  events: DecidedEvent[];
}

/**
 * The schedules' part of a decision: the Backups their due ticks (and the logfile schedule)
 * call for, and what the rest of the decision takes from them. The shell asks this first: a pass
 * that creates records nothing (the next pass does), so it need not decide retention or status.
 */
export interface ScheduleDecision {
  creates: BackupCreate[];
  validation: PolicyValidation;
  enabled: ReturnType<typeof enabledSince>;
  /** The latest tick acted on, status.lastScheduleTime's next value. */
  lastScheduleTime?: Date;
  /** Skips (Warnings) and schedule enable/disable Events. */
  events: DecidedEvent[];
  wakeAt: Date[];
}

export function decideSchedule(o: PolicyObservation): ScheduleDecision {
  const { policy, now } = o;
  const name = policy.metadata?.name ?? "";
  const prev = policy.status ?? {};
  const validation = validatePolicy(policy, o.world);
  const enabled = enabledSince(policy, now, prev.observedGeneration === undefined);
  const s: ScheduleDecision = { creates: [], validation, enabled, lastScheduleTime: toDate(prev.lastScheduleTime), events: [...enabled.events], wakeAt: [] };
  if (validation.problems.length > 0) return s;
  const own = o.backups.filter((b) => b.policyName === name);
  const names = new Set(o.backups.map((b) => b.name));
  for (const type of ["snapshot", "datafile"] as const) {
    const cron = validation.crons[type];
    if (!cron) continue;
    const running = own.find((b) => b.backupType === type && b.scheduled && isActive(b));
    const tick = decideTick({
      policyName: name, backupType: type, cron, now, existingBackupNames: names,
      lastScheduleTime: toDate(prev.lastScheduleTime),
      policyCreationTime: enabled.since[type] ?? now,
      startingDeadlineMinutes: policy.spec.schedule?.startingDeadlineMinutes,
      runningBackupOfType: running ? { name: running.name, phase: running.phase ?? "" } : undefined,
    });
    s.wakeAt.push(tick.next);
    if (tick.action === "wait") continue;
    s.lastScheduleTime = later(s.lastScheduleTime, tick.tick);
    if (tick.action === "create") {
      s.creates.push(backupCreate(policy, type, tick.name, tick.tick, scheduledEvent(type, tick.name, tick.tick, now), false));
    } else if (tick.action === "skip") {
      s.events.push({ type: "Warning", reason: tick.reason, message: tick.message });
    }
  }
  const logfile = decideLogfile(policy, own, names, validation.crons.logfile, now);
  if (logfile.create) {
    s.creates.push(logfile.create);
    s.lastScheduleTime = later(s.lastScheduleTime, logfile.create.tick);
  }
  if (logfile.wakeAt) s.wakeAt.push(logfile.wakeAt);
  return s;
}

/** The whole decision; `schedule` is decideSchedule(o), passed when the shell has it already. */
export function decidePolicy(o: PolicyObservation, schedule: ScheduleDecision = decideSchedule(o)): PolicyDecision {
  const { policy, now } = o;
  const name = policy.metadata?.name ?? "";
  const namespace = policy.metadata?.namespace ?? "";
  const prev = policy.status ?? {};
  const { validation, enabled, lastScheduleTime } = schedule;
  const failed = validation.problems.length > 0;
  const own = o.backups.filter((b) => b.policyName === name);
  const d: PolicyDecision = { creates: [...schedule.creates], logRetentionCreates: [], deletes: [], status: {}, events: [] };
  const events: DecidedEvent[] = [...schedule.events];
  const wakeAt: Date[] = [...schedule.wakeAt];

  // Retention runs even on a Failed policy: expiration and history limits do not depend on the tool.
  const live = o.backups.filter((b) => !b.deleting);
  const limits: HistoryLimit[] = BACKUP_TYPES.filter((t) => policy.spec[t] !== undefined).map((t) => ({
    namespace, policyName: name, backupType: t, limit: policy.spec[t]?.backupsHistoryLimit ?? DEFAULT_HISTORY_LIMIT,
  }));
  const byName = new Map(live.map((b) => [b.name, b]));
  const pruneEvents: DecidedEvent[] = [];
  for (const s of selectBackupsToPrune(live, { now, historyLimits: limits })) {
    const b = byName.get(s.name);
    if (!b || b.policyName !== name || s.namespace !== namespace) continue;
    const why = s.reason === PruneReason.Expired
      ? `expired at ${formatTime(b.expiration ?? now)}${policy.spec.retention?.ttl ? ` (retention.ttl ${policy.spec.retention.ttl})` : ""}`
      : `beyond backupsHistoryLimit ${limits.find((l) => l.backupType === b.backupType)?.limit} of the policy's scheduled ${b.backupType} Backups`;
    d.deletes.push({ kind: Kinds.Backup, name: s.name, namespace });
    pruneEvents.push({ type: "Normal", reason: EventReason.BackupPruned, message: `deleted Backup "${s.name}": ${why}` });
  }
  const pruned = new Set(d.deletes.map((x) => x.name));
  for (const b of own) if (b.expiration && b.expiration > now && !b.deleting && !pruned.has(b.name)) wakeAt.push(b.expiration);

  // Which archived log the running logfile Backup may prune: decided from the Backups kept above.
  const logRetention = decideLogRetention(own.filter((b) => !pruned.has(b.name)), namespace, o.logKeepFromMarginMs);
  d.logRetentionCreates = logRetention.creates;
  if (logRetention.patches.length) d.patches = logRetention.patches;

  const failureReason = failed ? failureReasonOf(validation.problems) : undefined;
  if (failed && (prev.phase !== BackupPolicyPhase.Failed || prev.failureReason !== failureReason)) {
    events.push({ type: "Warning", reason: validation.problems[0].reason, message: failureReason ?? "" });
  } else if (!failed && prev.phase !== BackupPolicyPhase.Available) {
    const was = prev.phase === BackupPolicyPhase.Failed ? ` (recovered from: ${prev.failureReason ?? "Failed"})` : "";
    events.push({ type: "Normal", reason: EventReason.PolicyAvailable, message: `BackupPolicy "${namespace}/${name}" is Available${was}` });
  }

  const status: BackupPolicyStatus = { ...prev, observedGeneration: policy.metadata?.generation, phase: failed ? BackupPolicyPhase.Failed : BackupPolicyPhase.Available };
  if (failureReason) status.failureReason = failureReason;
  else delete status.failureReason;
  if (lastScheduleTime) status.lastScheduleTime = formatTime(lastScheduleTime);
  const lastSuccess = lastSuccessfulTime(own, toDate(prev.lastSuccessfulTime));
  if (lastSuccess) status.lastSuccessfulTime = formatTime(lastSuccess);
  status.conditions = enabled.conditions(prev.conditions ?? []);
  d.status = status;
  d.events.push(...events, ...pruneEvents);

  // When to look again: the next tick or expiration; none = only on change.
  const wake = wakeAt.reduce<Date | undefined>((a, b) => (a === undefined || b < a ? b : a), undefined);
  if (wake) d.requeueAfterMs = wake.getTime() - now.getTime();
  return d;
}

function backupCreate(policy: BackupPolicy, type: BackupType, name: string, tick: Date, event: DecidedEvent, eventOnCreate: boolean): BackupCreate {
  const object = buildScheduledBackup({ namespace: policy.metadata?.namespace ?? "", name: policy.metadata?.name ?? "" }, type, name);
  return { kind: Kinds.Backup, object, tick, event, eventOnCreate };
}

function scheduledEvent(type: BackupType, name: string, tick: Date, now: Date): DecidedEvent {
  const lateMs = now.getTime() - tick.getTime();
  const late = lateMs >= 60_000 ? ` (late by ${Math.floor(lateMs / 60_000)}m: catching up once)` : "";
  return { type: "Normal", reason: EventReason.BackupScheduled, message: `created Backup "${name}" for the ${type} tick ${formatTime(tick)}${late}` };
}

/**
 * Keeps one logfile Backup going while the logfile schedule is enabled. Its name is that
 * of the latest cron tick, so a logfile Backup that ended (Failed) is replaced at the next
 * tick at the earliest, not in a tight loop.
 */
function decideLogfile(policy: BackupPolicy, own: readonly ObservedBackup[], names: ReadonlySet<string>, cron: Parameters<typeof nextTickAfter>[0] | undefined, now: Date): { create?: BackupCreate; wakeAt?: Date } {
  if (!cron) return {};
  if (own.some((b) => b.backupType === "logfile" && isActive(b))) return {};
  const tick = latestTickAtOrBefore(cron, now) ?? new Date(Math.floor(now.getTime() / 60_000) * 60_000);
  const name = backupNameForTick(policy.metadata?.name ?? "", "logfile", tick);
  if (names.has(name)) return { wakeAt: nextTickAfter(cron, now) };
  const message = `created logfile Backup "${name}": archives logs continuously while .spec.schedule.logfile is enabled`;
  return { create: backupCreate(policy, "logfile", name, tick, { type: "Normal", reason: EventReason.LogfileBackupCreated, message }, true) };
}

const CONDITION_OF: Record<BackupType, string> = {
  snapshot: "SnapshotScheduleEnabled",
  datafile: "DatafileScheduleEnabled",
  logfile: "LogfileScheduleEnabled",
};

/**
 * Since when each schedule has been enabled, kept in a `<Type>ScheduleEnabled` condition:
 * ticks at or before it never fire, so enabling a schedule (or creating a policy) does not
 * back up the past. It is when the controller first saw the schedule enabled (on its own
 * clock, so API-server clock skew cannot fire a past tick).
 */
function enabledSince(policy: BackupPolicy, now: Date, firstReconcile: boolean): {
  since: Partial<Record<BackupType, Date>>;
  events: DecidedEvent[];
  conditions: (prev: readonly Condition[]) => Condition[];
} {
  const created = toDate(policy.metadata?.creationTimestamp) ?? now;
  const generation = policy.metadata?.generation;
  const prevConditions = policy.status?.conditions ?? [];
  const since: Partial<Record<BackupType, Date>> = {};
  const events: DecidedEvent[] = [];
  const next = new Map<string, Condition | undefined>();
  for (const type of BACKUP_TYPES) {
    const condType = CONDITION_OF[type];
    const current = prevConditions.find((c) => c.type === condType);
    const schedule = policy.spec.schedule?.[type];
    if (schedule?.enable === true) {
      if (current?.status === "True") {
        since[type] = toDate(current.lastTransitionTime) ?? created;
        next.set(condType, { ...current, observedGeneration: generation });
        continue;
      }
      // First seen now: ticks before it never fire, whether the policy is new or the operator was down
      // when it was created (as a KubeBlocks 0.6 CronJob made at reconcile). Never before creation.
      const at = created > now ? created : now;
      since[type] = at;
      const message = `${type} schedule "${schedule.cronExpression}" enabled; ticks after ${formatTime(at)} fire`;
      next.set(condType, { type: condType, status: "True", reason: "Enabled", message, lastTransitionTime: formatTime(at), observedGeneration: generation });
      if (!firstReconcile) events.push({ type: "Normal", reason: EventReason.ScheduleEnabled, message });
    } else if (current?.status === "True") {
      const message = `${type} schedule disabled`;
      next.set(condType, { type: condType, status: "False", reason: "Disabled", message, lastTransitionTime: formatTime(now), observedGeneration: generation });
      events.push({ type: "Normal", reason: EventReason.ScheduleDisabled, message });
    }
  }
  const conditions = (prev: readonly Condition[]): Condition[] => {
    const out = prev.map((c) => (next.has(c.type) ? next.get(c.type) : c)).filter((c): c is Condition => c !== undefined);
    for (const [t, c] of next) if (c && !prev.some((p) => p.type === t)) out.push(c);
    return out;
  };
  return { since, events, conditions };
}

function lastSuccessfulTime(own: readonly ObservedBackup[], prev: Date | undefined): Date | undefined {
  let t = prev;
  for (const b of own) if (b.scheduled && b.phase === "Completed") t = later(t, b.completionTimestamp ?? b.creationTimestamp);
  return t;
}

function later(a: Date | undefined, b: Date): Date {
  return a === undefined || b > a ? b : a;
}

function toDate(v: unknown): Date | undefined {
  if (typeof v !== "string" || v === "") return undefined;
  const d = new Date(v);
  return Number.isNaN(d.getTime()) ? undefined : d;
}
