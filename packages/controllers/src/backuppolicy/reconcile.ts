// observe (the policy, its Backups and which tools and repos exist, from the cache) -> decide
// (decideSchedule; when it creates nothing, decidePolicy; both pure) -> apply (applyDecision).
// Every `if` that matters lives in decide.ts; this file only does I/O in a crash-safe order
// (create before recording the tick, so a restart finds the Backup by its name).
import type { BackupPolicy, BackupRepo, BackupTool } from "@dataprotection/api";
import {
  applyDecision, createIfAbsent, keyOf,
  type DecidedEvent, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult, type Reconciler,
} from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { observeBackup } from "./backups.ts";
import { decidePolicy, decideSchedule } from "./decide.ts";
import { CreatesInFlight } from "./in-flight.ts";
import { relatedBackups } from "./related.ts";

type PolicyObject = BackupPolicy & KubeObject;

/**
 * One reconciler per controller. It remembers, per policy, the BackupScheduled Events of the
 * Backups it created until the pass that records their tick: when many policies share a tick,
 * every create goes out before any Event or status write. Lost on a crash, like an Event
 * not yet written; a Backup found after a restart gets none.
 */
export function backupPolicyReconciler(logKeepFromMarginMs?: number): Reconciler {
  const shared: Shared = { pendingEvents: new Map(), creates: new CreatesInFlight() };
  return { reconcile: (req, ctx) => reconcileBackupPolicy(req, ctx, shared, logKeepFromMarginMs) };
}

/** What the reconciler's passes share: Events waiting for their tick's record, and the creates in flight. */
interface Shared {
  pendingEvents: Map<string, DecidedEvent[]>;
  creates: CreatesInFlight;
}

async function reconcileBackupPolicy(req: ObjectKey, ctx: ReconcileContext, { pendingEvents, creates }: Shared, logKeepFromMarginMs: number | undefined): Promise<ReconcileResult | void> {
  const key = keyOf(req);
  // A pass that will record a tick this reconciler created waits for the other policies' creates
  // of that tick first, then observes.
  if (pendingEvents.has(key)) {
    await creates.idle(ctx.signal);
    ctx.signal.throwIfAborted();
  }
  const policy = ctx.cache.get<PolicyObject>(Kinds.BackupPolicy, req.name, req.namespace);
  if (!policy || policy.metadata.deletionTimestamp) {
    pendingEvents.delete(key);
    return;
  }
  const now = ctx.clock.now();
  const observation = {
    policy,
    backups: relatedBackups(ctx.cache, policy.metadata.namespace ?? "", req.name).map(observeBackup),
    world: {
      tools: new Set(ctx.cache.list<BackupTool & KubeObject>(Kinds.BackupTool).map((t) => t.metadata.name ?? "")),
      repos: new Set(ctx.cache.list<BackupRepo & KubeObject>(Kinds.BackupRepo).map((r) => r.metadata.name ?? "")),
    },
    now: new Date(now),
    logKeepFromMarginMs,
  };
  const schedule = decideSchedule(observation);

  // The schedules' creates go out first, through the same createIfAbsent applyDecision uses, but
  // here: only its answer tells a Backup this pass made (its Event is due) from one that existed
  // (made before a restart, or seen late by the cache: that tick is done, and gets no Event).
  let created = false;
  for (const c of schedule.creates) {
    if (!(await creates.track(() => createIfAbsent(ctx.client, c.kind, c.object)))) continue;
    created = true;
    if (c.eventOnCreate) ctx.events.record(policy, c.event.type, c.event.reason, c.event.message);
    else pendingEvents.set(key, [...(pendingEvents.get(key) ?? []), c.event]);
    ctx.log.info("created scheduled backup", { backup: c.object.metadata.name, backupType: c.object.spec.backupType, tick: c.tick.toISOString() });
  }
  // The tick is recorded by the next pass (which finds the Backup by its name), so when many
  // policies share a tick every Backup is created before any Event or status is written.
  // That pass is woken by the created Backup's watch event (level-based: the cache holds the
  // Backup by then), not by a timer: a timer on an injected clock only fires when it moves.
  if (created) return;
  const d = decidePolicy(observation, schedule);

  // The rest in the runtime's order: status (whole, with the observed resourceVersion; a 409 means
  // this pass decided on a stale policy, say one that had not yet seen the tick the last pass
  // recorded, so everything below is dropped and a fresh pass decides again), then the retention
  // deletes (after the status now, harmless: decide is level-based, so a pass that stops before
  // them decides them again), then Events: a tick's Event is written once, by the pass whose
  // record of that tick landed.
  const r = await applyDecision(ctx, Kinds.BackupPolicy, policy, { ...d, creates: d.logRetentionCreates, events: [...(pendingEvents.get(key) ?? []), ...d.events], requeueAfterMs: undefined });
  if (r?.requeue) return r;
  pendingEvents.delete(key);
  // Measured after the writes, so a slow reconcile does not push the next tick late.
  return d.requeueAfterMs !== undefined ? { requeueAfter: Math.max(1, d.requeueAfterMs - (ctx.clock.now() - now)) } : undefined;
}
