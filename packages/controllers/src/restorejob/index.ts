import { RestoreJobPhase, type RestoreJob } from "@dataprotection/api";
import type { KubeObject, Manager, ObjectKey } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { restoreJobReconciler } from "./reconcile.ts";

/**
 * Registers the RestoreJob controller: for(RestoreJob), owns(Job); Pods, StatefulSets,
 * Backups and PVCs of a namespace wake the RestoreJobs there that are still working.
 */
const finished = (r: RestoreJob & KubeObject): boolean => r.status?.phase === RestoreJobPhase.Completed || r.status?.phase === RestoreJobPhase.Failed;

export function registerRestoreJobController(manager: Manager, ctx: OperatorContext): void {
  const active = (obj: KubeObject): ObjectKey[] =>
    manager.cache
      .list<RestoreJob & KubeObject>(Kinds.RestoreJob, { namespace: obj.metadata.namespace ?? "" })
      .filter((r) => !finished(r))
      .map((r) => ({ namespace: r.metadata.namespace, name: r.metadata.name ?? "" }));
  manager.cache.informer(Kinds.BackupTool);
  manager.cache.informer(Kinds.BackupRepo);
  manager
    .controller("restorejob")
    .for(Kinds.RestoreJob)
    .owns(Kinds.Job)
    .watches(Kinds.Pod, active)
    .watches(Kinds.StatefulSet, active)
    .watches(Kinds.Backup, active)
    .watches(Kinds.PersistentVolumeClaim, active)
    // A finished RestoreJob changes only through events (its deletion): no resync for it.
    .withOptions({ workers: 2, resyncPeriodMs: 60_000, resyncFilter: (r) => !!r.metadata.deletionTimestamp || !finished(r as RestoreJob & KubeObject) })
    .reconciler(restoreJobReconciler(ctx));
}
