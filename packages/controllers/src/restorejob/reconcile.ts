// The shell: read the world from the cache, call decide(), apply its actions, record
// its Events, write status. Every `if` that matters lives in decide.ts.
import type { V1Job, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { AnnotationOriginalReplicas, Finalizer, LabelVolumeType, type Backup, type BackupRepo, type BackupTool, type RestoreJob } from "@dataprotection/api";
import { LabelBackupUID } from "../backup/job.ts";
import {
  clone, controllerOf, hasFinalizer, isAlreadyExists, isConflict, isNotFound, matchesSelector, removeFinalizer,
  type Cache, type KubeClient, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult,
} from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { mountAccess, type RepoAccess } from "../backuprepo/access.ts";
import { ensureRepoAccess } from "../backuprepo/ensure.ts";
import { decide, type Action, type JobState, type Observation } from "./decide.ts";
import { planRestore, type RestorePlan } from "./plan.ts";
import { namespaceLabels } from "../backuprepo/ensure.ts";
import { repoHasNamespaceSelector } from "../backuprepo/tenancy.ts";
import { pvcView, type PvcView, type SnapshotView } from "./snapshot.ts";
import { decideDeletion, type DeletionObservation } from "./deletion.ts";


type Obj<T> = T & KubeObject;

export function parseRecorded(rj: RestoreJob): { name: string; replicas: number } | undefined {
  const v = rj.metadata.annotations?.[AnnotationOriginalReplicas];
  const m = v ? /^(.+)=(\d+)$/.exec(v) : null;
  return m ? { name: m[1]!, replicas: Number(m[2]) } : undefined;
}

/** A KubeBlocks 0.6 backup PVC (no repo): mounted at /backupdata, read as a filesystem repo. */
function legacyAccess(pvc: string): RepoAccess {
  return mountAccess(pvc);
}

/** Makes the plan's repo usable in `namespace` and says how tool pods reach it. */
async function accessFor(plan: RestorePlan, rc: ReconcileContext, namespace: string, ctx: OperatorContext): Promise<RepoAccess> {
  if (plan.repo) return ensureRepoAccess(rc.client, rc.cache, plan.repo, namespace, ctx.namespace);
  return legacyAccess(plan.legacyPVC ?? "");
}

function jobState(job: V1Job, pods: readonly V1Pod[]): JobState {
  const cond = (t: string) => (job.status?.conditions ?? []).some((c) => c.type === t && c.status === "True");
  const failures = job.status?.failed ?? 0;
  let message: string | undefined;
  const failed = pods.filter((p) => p.status?.phase === "Failed").sort((a, b) => (b.metadata?.creationTimestamp ?? "").toString().localeCompare((a.metadata?.creationTimestamp ?? "").toString()));
  for (const p of failed) {
    const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
    const t = statuses.map((s) => ({ name: s.name, t: s.state?.terminated })).find((s) => s.t && s.t.exitCode !== 0);
    if (t?.t) {
      const text = (t.t.message ?? "").trim().split("\n").filter(Boolean).slice(-3).join(" | ");
      message = `container "${t.name}" exited ${t.t.exitCode}${text ? `: ${text}` : ""}`;
      break;
    }
  }
  return { phase: cond("Complete") ? "succeeded" : cond("Failed") ? "failed" : "running", failures, message, deleting: !!job.metadata?.deletionTimestamp };
}

/** The RestoreJob's Jobs by name, each judged with its pods. */
function ownedJobs(cache: Cache, rj: RestoreJob, nsPods: readonly Obj<V1Pod>[]): Map<string, JobState> {
  const jobs = new Map<string, JobState>();
  for (const j of cache.ownedBy<Obj<V1Job>>(Kinds.Job, rj.metadata.uid ?? "")) {
    jobs.set(j.metadata.name ?? "", jobState(j, nsPods.filter((p) => controllerOf(p)?.uid === j.metadata.uid)));
  }
  return jobs;
}

export async function observe(cache: Cache, client: KubeClient, rj: RestoreJob, ctx: OperatorContext): Promise<Observation> {
  const ns = rj.metadata.namespace ?? "";
  const repos = cache.list<Obj<BackupRepo>>(Kinds.BackupRepo);
  const plan = planRestore({
    restore: rj,
    backups: cache.list<Obj<Backup>>(Kinds.Backup, { namespace: ns }),
    tools: new Map(cache.list<Obj<BackupTool>>(Kinds.BackupTool).map((t) => [t.metadata.name ?? "", t])),
    repos: new Map(repos.map((r) => [r.metadata.name ?? "", r])),
    allowHostPath: ctx.allowHostPathRestore,
    namespaceLabels: repos.some(repoHasNamespaceSelector) ? await namespaceLabels(client, ns) : undefined,
  });
  const selector = rj.spec.target.labelsSelector ?? {};
  const statefulSets = cache.list<Obj<V1StatefulSet>>(Kinds.StatefulSet, { namespace: ns }).filter((s) => matchesSelector(s.metadata.labels, selector));
  const nsPods = cache.list<Obj<V1Pod>>(Kinds.Pod, { namespace: ns });
  const statefulSetPods = new Map(statefulSets.map((s) => [s.metadata.name ?? "", nsPods.filter((p) => controllerOf(p)?.uid === s.metadata.uid).length]));
  const jobs = ownedJobs(cache, rj, nsPods);
  const pvcs = new Map<string, PvcView>();
  let snapshots: SnapshotView[] | undefined;
  if (plan.kind === "ok" && plan.plan.volumeSnapshotName) {
    for (const v of rj.spec.targetVolumes ?? []) {
      const claim = v.persistentVolumeClaim?.claimName;
      const pvc = claim ? cache.get<Obj<V1PersistentVolumeClaim>>(Kinds.PersistentVolumeClaim, claim, ns) : undefined;
      if (claim && pvc) pvcs.set(claim, pvcView(pvc, rj));
    }
    snapshots = await backupSnapshots(client, ns, plan.plan.backup, plan.plan.volumeSnapshotName);
  }
  return {
    restore: rj,
    plan,
    statefulSets,
    statefulSetPods,
    recorded: parseRecorded(rj),
    pods: nsPods.filter((p) => matchesSelector(p.metadata.labels, selector)),
    jobs,
    pvcs,
    snapshots,
    agentImage: ctx.agentImage,
    timeouts: ctx.timeouts,
  };
}

async function tolerate(p: Promise<unknown>, ok: (e: unknown) => boolean): Promise<void> {
  try {
    await p;
  } catch (e) {
    if (!ok(e)) throw e;
  }
}

async function apply(a: Action, rj: RestoreJob, obs: Observation, rc: ReconcileContext, ctx: OperatorContext): Promise<void> {
  const ns = rj.metadata.namespace ?? "";
  const c = rc.client;
  switch (a.type) {
    case "createJob": {
      if (obs.plan.kind !== "ok") return;
      const access = await accessFor(obs.plan.plan, rc, ns, ctx);
      return tolerate(c.create(Kinds.Job, a.build(access) as Obj<V1Job>), isAlreadyExists);
    }
    case "recordReplicas": {
      // Guarded by resourceVersion: a stale cache must never overwrite the recorded count.
      // The finalizer comes with it: from now on a deletion must scale the workload back.
      const finalizers = [...new Set([...(rj.metadata.finalizers ?? []), Finalizer])];
      await c.patch(Kinds.RestoreJob, rj.metadata.name ?? "", ns, { metadata: { resourceVersion: rj.metadata.resourceVersion, finalizers, annotations: { [AnnotationOriginalReplicas]: `${a.statefulSet}=${a.replicas}` } } });
      return;
    }
    case "scale":
      await c.patch(Kinds.StatefulSet, a.statefulSet, ns, { spec: { replicas: a.replicas } });
      return;
    case "deletePVC":
      return tolerate(c.delete(Kinds.PersistentVolumeClaim, a.name, ns), isNotFound);
    case "createPVC":
      return tolerate(c.create(Kinds.PersistentVolumeClaim, a.pvc as Obj<V1PersistentVolumeClaim>), isAlreadyExists);
  }
}

export function restoreJobReconciler(ctx: OperatorContext) {
  return async (req: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult> => {
    const rj = rc.cache.get<Obj<RestoreJob>>(Kinds.RestoreJob, req.name, req.namespace);
    if (!rj) return {};
    if (rj.metadata.deletionTimestamp) return finalizeDeletion(rj, rc);
    const obs = await observe(rc.cache, rc.client, rj, ctx);
    const d = decide(obs, new Date(rc.clock.now()));
    for (const a of d.actions) {
      if (rc.signal.aborted) return {};
      try {
        await apply(a, rj, obs, rc, ctx);
      } catch (e) {
        if (isConflict(e)) return { requeue: true };
        throw e;
      }
    }
    for (const ev of d.events) rc.events.record(rj, ev.type, ev.reason, ev.message);
    const draft = clone(rj);
    draft.status = d.status;
    if (JSON.stringify(draft.status) !== JSON.stringify(rj.status ?? {})) {
      try {
        // The cached resourceVersion: a decision made on stale status is dropped, not merged.
        await rc.client.replace(Kinds.RestoreJob, draft, "status");
      } catch (e) {
        if (isConflict(e)) return { requeue: true };
        throw e;
      }
    }
    // After the status write: a crash in between finds the terminal phase and releases then.
    if (d.releaseFinalizer && hasFinalizer(rj, Finalizer)) await tolerate(removeFinalizer(rc.client, Kinds.RestoreJob, rj, Finalizer), isNotFound);
    return d.requeueAfter ? { requeueAfter: d.requeueAfter } : {};
  };
}

/** A deleted RestoreJob: stop its Jobs' pods, scale the workload back, then let it go. */
async function finalizeDeletion(rj: Obj<RestoreJob>, rc: ReconcileContext): Promise<ReconcileResult> {
  if (!hasFinalizer(rj, Finalizer)) return {};
  const obs = observeForDeletion(rc.cache, rj);
  const d = decideDeletion(obs);
  const ns = rj.metadata.namespace ?? "";
  for (const a of d.actions) {
    if (rc.signal.aborted) return {};
    switch (a.type) {
      case "deleteJob":
        await tolerate(rc.client.delete(Kinds.Job, a.name, ns, { propagationPolicy: "Foreground" }), isNotFound);
        break;
      case "scale":
        await tolerate(rc.client.patch(Kinds.StatefulSet, a.statefulSet, ns, { spec: { replicas: a.replicas } }), isNotFound);
        break;
      case "removeFinalizer":
        await tolerate(removeFinalizer(rc.client, Kinds.RestoreJob, rj, Finalizer), isNotFound);
        break;
    }
  }
  for (const ev of d.events) rc.events.record(rj, ev.type, ev.reason, ev.message);
  return d.requeueAfter ? { requeueAfter: d.requeueAfter } : {};
}

function observeForDeletion(cache: Cache, rj: Obj<RestoreJob>): DeletionObservation {
  const ns = rj.metadata.namespace ?? "";
  const nsPods = cache.list<Obj<V1Pod>>(Kinds.Pod, { namespace: ns });
  const jobs = ownedJobs(cache, rj, nsPods);
  const recorded = parseRecorded(rj);
  const sts = recorded ? cache.get<Obj<V1StatefulSet>>(Kinds.StatefulSet, recorded.name, ns) : undefined;
  return { restore: rj, jobs, recorded, statefulSets: sts ? [sts] : [] };
}

type SnapshotObj = KubeObject & { spec?: { source?: { persistentVolumeClaimName?: string } }; status?: { readyToUse?: boolean; restoreSize?: string | number } };

/**
 * The VolumeSnapshots of a snapshot backup: those labelled with its uid (one per volume), else
 * the one its status names. Read directly: clusters without the snapshot CRDs must not stall the cache.
 */
async function backupSnapshots(client: KubeClient, ns: string, backup: Backup, recorded: string): Promise<SnapshotView[]> {
  const view = (s: SnapshotObj): SnapshotView => ({
    name: s.metadata.name!,
    volumeType: s.metadata.labels?.[LabelVolumeType] ?? "data",
    sourceClaim: s.spec?.source?.persistentVolumeClaimName,
    readyToUse: !!s.status?.readyToUse,
    restoreSize: s.status?.restoreSize === undefined ? undefined : String(s.status.restoreSize),
  });
  const labelled = backup.metadata?.uid ? (await client.list<SnapshotObj>(Kinds.VolumeSnapshot, { namespace: ns, labelSelector: `${LabelBackupUID}=${backup.metadata!.uid}` }).catch((e: unknown) => {
    if (isNotFound(e)) return { items: [] as SnapshotObj[] };
    throw e;
  })).items.filter((s) => !s.metadata.deletionTimestamp) : [];
  if (labelled.length) return labelled.map(view);
  const one = await client.get<SnapshotObj>(Kinds.VolumeSnapshot, recorded, ns).catch((e: unknown) => {
    if (isNotFound(e)) return undefined;
    throw e;
  });
  return one ? [view(one)] : [];
}
