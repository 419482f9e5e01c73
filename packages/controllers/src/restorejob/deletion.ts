// What deleting an unfinished RestoreJob must undo, as a pure function. A restore scales its
// StatefulSet to 0; without this, deleting the RestoreJob mid-restore would leave the
// workload down for good (KubeBlocks 0.6 does). Order matters: the restore Jobs' pods must
// be gone before the StatefulSet's pods start again, so two writers never share a volume.
// The finalizer (the shared one) is carried from the moment the replicas are recorded.
import { Finalizer, type RestoreJob } from "@dataprotection/api";
import type { V1StatefulSet } from "@kubernetes/client-node";
import { Cond, type JobState, type Prerequisite, type RestoreDecision } from "./decide.ts";
import { EventReason } from "./reasons.ts";

export interface DeletionObservation {
  restore: RestoreJob;
  /** Jobs the RestoreJob owns, by name, with whether their deletion has begun. */
  jobs: ReadonlyMap<string, JobState>;
  /** The StatefulSet and replicas recorded before scaling down. */
  recorded?: { name: string; replicas: number };
  statefulSets: readonly V1StatefulSet[];
}

export function decideDeletion(obs: DeletionObservation): RestoreDecision {
  if (!(obs.restore.metadata.finalizers ?? []).includes(Finalizer)) return {};
  if (obs.jobs.size > 0) {
    // Deleted in the foreground (a prerequisite, not `deletes`): the Job stays until its pods are gone.
    const prepare = [...obs.jobs].filter(([, job]) => !job.deleting).map(([name]): Prerequisite => ({ type: "deleteJob", name }));
    return { prepare, requeueAfterMs: 1_000 };
  }
  const d: RestoreDecision = { finalizer: { remove: Finalizer } };
  const restarted = (obs.restore.status?.conditions ?? []).some((c) => c.type === Cond.WorkloadRestarted && c.status === "True");
  const r = obs.recorded;
  const sts = r && obs.statefulSets.find((s) => s.metadata?.name === r.name);
  if (r && sts && !restarted && (sts.spec?.replicas ?? 1) !== r.replicas) {
    d.prepare = [{ type: "scaleBack", statefulSet: r.name, replicas: r.replicas }];
    const m = obs.restore.metadata;
    d.events = [{ type: "Warning", reason: EventReason.ScalingUp, message: `RestoreJob "${m.namespace}/${m.name}" was deleted before it finished: scaling StatefulSet "${r.name}" back to ${r.replicas} replicas; its volumes may hold a partial restore` }];
  }
  return d;
}
