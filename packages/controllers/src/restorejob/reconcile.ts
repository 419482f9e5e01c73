// The shell: observe (the cache and a few live reads) -> decide (decide.ts, deletion.ts) ->
// the runtime's applyDecision, with this controller's prerequisites. Every `if` that matters
// lives in the decide functions.
import { isDeepStrictEqual } from "node:util";
import type { V1Job, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { AnnotationOriginalReplicas, Finalizer, LabelVolumeType, RestoreJobPhase, type Backup, type BackupRepo, type BackupTool, type RestoreJob, type StorageProvider } from "@dataprotection/api";
import { LabelBackupUID } from "../backup/job.ts";
import {
  applyDecision, controllerOf, isConflict, isNotFound, matchesSelector,
  type Cache, type KubeClient, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult,
} from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { ensureRepoAccess, namespaceLabels, readObject } from "../backuprepo/ensure.ts";
import { decide, type JobState, type Observation, type Prerequisite } from "./decide.ts";
import { planRestore } from "./plan.ts";
import { repoHasNamespaceSelector } from "../backuprepo/tenancy.ts";
import { pvcView, type PvcView, type SnapshotView } from "./snapshot.ts";
import { decideDeletion, type DeletionObservation } from "./deletion.ts";

type Obj<T> = T & KubeObject;

function parseRecorded(rj: RestoreJob): { name: string; replicas: number } | undefined {
  const v = rj.metadata.annotations?.[AnnotationOriginalReplicas];
  const m = v ? /^(.+)=(\d+)$/.exec(v) : null;
  return m ? { name: m[1]!, replicas: Number(m[2]) } : undefined;
}

function jobState(job: V1Job, pods: readonly V1Pod[]): JobState {
  const cond = (t: string) => (job.status?.conditions ?? []).some((c) => c.type === t && c.status === "True");
  const failures = job.status?.failed ?? 0;
  let message: string | undefined;
  let exitCode: number | undefined;
  const failed = pods.filter((p) => p.status?.phase === "Failed").sort((a, b) => (b.metadata?.creationTimestamp ?? "").toString().localeCompare((a.metadata?.creationTimestamp ?? "").toString()));
  for (const p of failed) {
    const statuses = [...(p.status?.initContainerStatuses ?? []), ...(p.status?.containerStatuses ?? [])];
    const t = statuses.map((s) => ({ name: s.name, t: s.state?.terminated })).find((s) => s.t && s.t.exitCode !== 0);
    if (t?.t) {
      const text = (t.t.message ?? "").trim().split("\n").filter(Boolean).slice(-3).join(" | ");
      message = `container "${t.name}" exited ${t.t.exitCode}${text ? `: ${text}` : ""}`;
      exitCode = t.t.exitCode;
      break;
    }
  }
  return { phase: cond("Complete") ? "succeeded" : cond("Failed") ? "failed" : "running", failures, message, exitCode, deleting: !!job.metadata?.deletionTimestamp };
}

/** The RestoreJob's Jobs by name, each judged with its pods. */
function ownedJobs(cache: Cache, rj: RestoreJob, nsPods: readonly Obj<V1Pod>[]): Map<string, JobState> {
  const jobs = new Map<string, JobState>();
  for (const j of cache.ownedBy<Obj<V1Job>>(Kinds.Job, rj.metadata.uid ?? "")) {
    jobs.set(j.metadata.name ?? "", jobState(j, nsPods.filter((p) => controllerOf(p)?.uid === j.metadata.uid)));
  }
  return jobs;
}

async function observe(cache: Cache, client: KubeClient, rj: RestoreJob, ctx: OperatorContext): Promise<Observation> {
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
  // Read as ensureRepoAccess reads it (the cache, else the API server), and only while a Job may still be created.
  const phase = rj.status?.phase;
  const repo = plan.kind === "ok" && phase !== RestoreJobPhase.Completed && phase !== RestoreJobPhase.Failed ? plan.plan.repo : undefined;
  const repoProvider = repo ? await readObject<Obj<StorageProvider>>(client, cache, Kinds.StorageProvider, repo.spec.storageProviderRef) : undefined;
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
    repoProvider,
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

/** Performs the decisions' prerequisites (decide.ts `Prerequisite`) for `rj`. */
function prerequisites(rj: Obj<RestoreJob>, rc: ReconcileContext, ctx: OperatorContext): (p: Prerequisite) => Promise<void> {
  const ns = rj.metadata.namespace ?? "";
  const c = rc.client;
  return async (p) => {
    switch (p.type) {
      case "repoAccess": {
        const ensured = await ensureRepoAccess(c, rc.cache, p.repo, ns, ctx.namespace);
        // The Jobs were built from the repo and provider as observed: a provider that changed since means deciding again.
        if (!isDeepStrictEqual(ensured, p.access)) throw new Error(`BackupRepo "${p.repo.metadata?.name}" or its StorageProvider changed while deciding: deciding again`);
        return;
      }
      case "recordReplicas": {
        // Guarded by resourceVersion: a stale cache must never overwrite the recorded count. The
        // finalizer comes with it: from now on a deletion must scale the workload back. On a
        // conflict the record is dropped like a stale status (its decision carries nothing else).
        const finalizers = [...new Set([...(rj.metadata.finalizers ?? []), Finalizer])];
        const patch = { metadata: { resourceVersion: rj.metadata.resourceVersion, finalizers, annotations: { [AnnotationOriginalReplicas]: `${p.statefulSet}=${p.replicas}` } } };
        return tolerate(c.patch(Kinds.RestoreJob, rj.metadata.name ?? "", ns, patch), isConflict);
      }
      case "scaleBack":
        // A StatefulSet deleted meanwhile has nothing to scale back.
        return tolerate(c.patch(Kinds.StatefulSet, p.statefulSet, ns, { spec: { replicas: p.replicas } }), isNotFound);
      case "deleteJob":
        return tolerate(c.delete(Kinds.Job, p.name, ns, { propagationPolicy: "Foreground" }), isNotFound);
    }
  };
}

export function restoreJobReconciler(ctx: OperatorContext) {
  return async (req: ObjectKey, rc: ReconcileContext): Promise<ReconcileResult | void> => {
    const rj = rc.cache.get<Obj<RestoreJob>>(Kinds.RestoreJob, req.name, req.namespace);
    if (!rj) return;
    const prepare = prerequisites(rj, rc, ctx);
    // A deleted RestoreJob: stop its Jobs' pods, scale the workload back, then let it go (deletion.ts).
    if (rj.metadata.deletionTimestamp) return applyDecision(rc, Kinds.RestoreJob, rj, decideDeletion(observeForDeletion(rc.cache, rj)), { prepare });
    const obs = await observe(rc.cache, rc.client, rj, ctx);
    return applyDecision(rc, Kinds.RestoreJob, rj, decide(obs, new Date(rc.clock.now())), { prepare });
  };
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
