// The shell: read the policy, its Backups and which tools and repos exist from the cache,
// call decidePolicy, apply: create Backups, delete pruned ones, write status. Every `if` that
// matters lives in decide.ts; this file only does I/O in a crash-safe order (create before
// recording the tick, so a restart finds the Backup by its name).
import type { BackupPolicy, BackupRepo, BackupTool } from "@dataprotection/api";
import {
  createIfAbsent, isConflict, isNotFound, keyOf, updateStatus,
  type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult, type Reconciler,
} from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { buildScheduledBackup, observeBackup } from "./backups.ts";
import { decidePolicy, type PolicyEvent } from "./decide.ts";
import { relatedBackups } from "./related.ts";

type PolicyObject = BackupPolicy & KubeObject;

/**
 * One reconciler per controller. It remembers, per policy, the BackupScheduled Events of the
 * Backups it created until the pass that records their tick: when many policies share a tick,
 * every create goes out before any Event or status write. Lost on a crash, like an Event
 * not yet written; a Backup found after a restart gets none.
 */
export function backupPolicyReconciler(): Reconciler {
  const pendingEvents = new Map<string, PolicyEvent[]>();
  return { reconcile: (req, ctx) => reconcileBackupPolicy(req, ctx, pendingEvents) };
}

async function reconcileBackupPolicy(req: ObjectKey, ctx: ReconcileContext, pendingEvents: Map<string, PolicyEvent[]>): Promise<ReconcileResult | void> {
  const key = keyOf(req);
  const policy = ctx.cache.get<PolicyObject>(Kinds.BackupPolicy, req.name, req.namespace);
  if (!policy || policy.metadata.deletionTimestamp) {
    pendingEvents.delete(key);
    return;
  }
  const namespace = policy.metadata.namespace ?? "";
  const decision = decidePolicy({
    policy,
    backups: relatedBackups(ctx.cache, namespace, req.name).map(observeBackup),
    world: {
      tools: new Set(ctx.cache.list<BackupTool & KubeObject>(Kinds.BackupTool).map((t) => t.metadata.name ?? "")),
      repos: new Set(ctx.cache.list<BackupRepo & KubeObject>(Kinds.BackupRepo).map((r) => r.metadata.name ?? "")),
    },
    now: new Date(ctx.clock.now()),
  });
  const record = (e: PolicyEvent): void => ctx.events.record(policy, e.type, e.reason, e.message);

  let created = false;
  for (const c of decision.creates) {
    if (ctx.signal.aborted) return;
    // Already there (made before a restart, or seen late by the cache): this tick is done.
    if (await createIfAbsent(ctx.client, Kinds.Backup, buildScheduledBackup({ namespace, name: req.name }, c.type, c.name))) {
      created = true;
      if (c.eventOnCreate) record(c.event);
      else pendingEvents.set(key, [...(pendingEvents.get(key) ?? []), c.event]);
      ctx.log.info("created scheduled backup", { backup: c.name, backupType: c.type, tick: c.tick.toISOString() });
    }
  }
  // The tick is recorded by the next pass (which finds the Backup by its name), so when many
  // policies share a tick every Backup is created before any Event or status is written.
  // That pass is woken by the created Backup's watch event (level-based: the cache holds the
  // Backup by then), not by a timer: a timer on an injected clock only fires when it moves.
  if (created) return;
  for (const del of decision.deletes) {
    if (ctx.signal.aborted) return;
    try {
      await ctx.client.delete(Kinds.Backup, del.name, namespace);
      record(del.event);
    } catch (e) {
      if (!isNotFound(e)) throw e;
    }
  }
  if (ctx.signal.aborted) return;
  // Guarded by the cached resourceVersion, and no conflict retry: a 409 means this pass
  // decided on a stale policy (say, one that had not yet seen the tick the last pass
  // recorded), so its decision and Events are dropped and a fresh pass decides again.
  try {
    await updateStatus(ctx.client, Kinds.BackupPolicy, policy, (draft) => {
      draft.status = decision.status;
    }, { mode: "merge", retries: 0 });
  } catch (e) {
    if (isConflict(e)) return { requeue: true };
    throw e;
  }
  // Events after the status they describe: a tick's Event is written once, by the pass
  // whose record of that tick landed.
  for (const e of [...(pendingEvents.get(key) ?? []), ...decision.events]) record(e);
  pendingEvents.delete(key);
  // Measured after the writes, so a slow reconcile does not push the next tick late.
  return decision.wakeAt ? { requeueAfter: Math.max(1, decision.wakeAt.getTime() - ctx.clock.now()) } : {};
}
