// Pure state machine of a RestoreJob: (observation, now) -> status + actions + Events.
// New (plan, target check, verify) -> InProgressPhy (scale down, restore Job or PVCs
// from a snapshot, scale back) -> InProgressLogic (per-pod Jobs) -> Completed | Failed.
import type { V1Job, V1PersistentVolumeClaim, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { PodRestoreScope, RestoreJobPhase, type RestoreJob, type RestoreJobStatus } from "@dataprotection/api";
import { setCondition, type EventType } from "@dataprotection/runtime";
import type { RepoAccess } from "../backuprepo/access.ts";
import type { Timeouts } from "../options.ts";
import { buildLogicalJob, buildPhysicalJob, buildVerifyJob, logicalJobName, physicalJobName, verifyJobName } from "./job.ts";
import type { PlanResult, RestorePlan } from "./plan.ts";
import { buildSnapshotPVC, mapClaimsToSnapshots, type PvcView, type SnapshotView } from "./snapshot.ts";
import { buildTargetlessJob, restoresTargetless, targetlessJobName } from "./targetless.ts";
import { EventReason, Reason } from "./reasons.ts";

export interface JobState {
  phase: "running" | "succeeded" | "failed";
  /** Failed pods so far (status.attempts). */
  failures: number;
  /** The failing container's termination message, when there is one. */
  message?: string;
  /** The Job's deletion has begun. */
  deleting?: boolean;
}

export interface Observation {
  restore: RestoreJob;
  plan: PlanResult;
  /** StatefulSets in the namespace whose labels match target.labelsSelector. */
  statefulSets: V1StatefulSet[];
  /** Pods owned by each matching StatefulSet, by StatefulSet name. */
  statefulSetPods: ReadonlyMap<string, number>;
  /** The StatefulSet and replicas recorded before scaling down (annotation). */
  recorded?: { name: string; replicas: number };
  /** Pods matching target.labelsSelector. */
  pods: V1Pod[];
  jobs: ReadonlyMap<string, JobState>;
  /** The claims named by targetVolumes (snapshot restores). */
  pvcs: ReadonlyMap<string, PvcView>;
  /** Snapshot restores: the backup's VolumeSnapshots (each volume's own), with readiness and size. */
  snapshots?: readonly SnapshotView[];
  agentImage: string;
  timeouts: Timeouts;
}

export type Action =
  /** The shell makes the repo usable in the namespace (ensureRepoAccess) and builds the Job with what it returns. */
  | { type: "createJob"; name: string; build: (access: RepoAccess) => V1Job }
  | { type: "recordReplicas"; statefulSet: string; replicas: number }
  | { type: "scale"; statefulSet: string; replicas: number }
  | { type: "deletePVC"; name: string }
  | { type: "createPVC"; pvc: V1PersistentVolumeClaim };

export interface Decision {
  status: RestoreJobStatus;
  actions: Action[];
  events: Array<{ type: EventType; reason: string; message: string }>;
  requeueAfter?: number;
  /** The restore is over and its workload scaled back: the deletion finalizer has nothing left to guard. */
  releaseFinalizer?: boolean;
}

export const Cond = { Progressing: "Progressing", Verified: "Verified", WorkloadStopped: "WorkloadStopped", WorkloadRestarted: "WorkloadRestarted" } as const;
/** Role label values that mark the ReadWrite (primary/leader) pod. */
export const ReadWriteRoles = ["primary", "leader", "master"];
export const LabelRole = "kubeblocks.io/role";
const POLL_MS = 5_000;

class Builder {
  readonly d: Decision;
  constructor(
    readonly obs: Observation,
    readonly now: Date,
  ) {
    this.d = { status: structuredClone(obs.restore.status ?? {}), actions: [], events: [] };
  }
  get ref(): string {
    const m = this.obs.restore.metadata;
    return `RestoreJob "${m.namespace}/${m.name}"`;
  }
  event(reason: string, message: string, type: EventType = "Normal"): this {
    this.d.events.push({ type, reason, message });
    return this;
  }
  act(a: Action): this {
    this.d.actions.push(a);
    return this;
  }
  wait(ms = POLL_MS): Decision {
    this.d.requeueAfter = ms;
    return this.d;
  }
  condition(type: string, status: boolean, reason: string, message = ""): this {
    this.d.status.conditions = setCondition(this.d.status.conditions, { type, status: status ? "True" : "False", reason, message }, this.now);
    return this;
  }
  conditionTrue(type: string): boolean {
    return (this.d.status.conditions ?? []).some((c) => c.type === type && c.status === "True");
  }
  /** Time spent in the current phase. */
  inPhaseMs(): number {
    const c = (this.d.status.conditions ?? []).find((x) => x.type === Cond.Progressing);
    return c?.lastTransitionTime ? this.now.getTime() - new Date(c.lastTransitionTime).getTime() : 0;
  }
  phase(p: RestoreJobPhase, reason: string, message: string, type: EventType = "Normal"): Decision {
    this.d.status.phase = p;
    this.condition(Cond.Progressing, p !== RestoreJobPhase.Completed && p !== RestoreJobPhase.Failed, p, message);
    return this.event(reason, message, type).wait(p === RestoreJobPhase.Completed || p === RestoreJobPhase.Failed ? 0 : 1);
  }
  /** Ends the restore; a StatefulSet scaled down is always scaled back first. */
  finish(ok: boolean, reason: string, message: string): Decision {
    this.scaleBack();
    this.d.status.completionTimestamp = this.now.toISOString();
    if (!ok) this.d.status.failureReason = `${reason}: ${message}`;
    const exp = this.obs.plan.kind === "ok" ? this.obs.plan.plan.backup.status?.expiration : undefined;
    if (exp) this.d.status.expiration = exp;
    const d = this.phase(ok ? RestoreJobPhase.Completed : RestoreJobPhase.Failed, reason, message, ok ? "Normal" : "Warning");
    delete d.requeueAfter;
    d.releaseFinalizer = true;
    return d;
  }
  scaleBack(): void {
    const r = this.obs.recorded;
    if (!r || this.conditionTrue(Cond.WorkloadRestarted)) return;
    const sts = this.obs.statefulSets.find((s) => s.metadata?.name === r.name);
    if (sts && (sts.spec?.replicas ?? 1) !== r.replicas) {
      this.act({ type: "scale", statefulSet: r.name, replicas: r.replicas });
      this.event(EventReason.ScalingUp, `scaling StatefulSet "${r.name}" back to ${r.replicas} replicas`);
    }
    this.condition(Cond.WorkloadRestarted, true, "ScaledBack", `StatefulSet "${r.name}" has ${r.replicas} replicas again`);
  }
}

export function decide(obs: Observation, now: Date): Decision {
  const b = new Builder(obs, now);
  const phase = obs.restore.status?.phase;
  if (obs.restore.metadata.generation !== undefined) b.d.status.observedGeneration = obs.restore.metadata.generation;
  if (phase === RestoreJobPhase.Completed || phase === RestoreJobPhase.Failed) {
    b.scaleBack();
    b.d.releaseFinalizer = true;
    return b.d;
  }
  if (!phase) {
    b.d.status.startTimestamp = now.toISOString();
    return b.phase(RestoreJobPhase.New, EventReason.Started, `restoring Backup "${obs.restore.metadata.namespace}/${obs.restore.spec.backupJobName}"`);
  }
  const pr = obs.plan;
  if (pr.kind === "fail") return b.finish(false, pr.reason, pr.message);
  if (pr.kind === "wait") return b.wait();
  const plan = pr.plan;
  if (phase === RestoreJobPhase.New) return decideNew(b, plan);
  if (phase === RestoreJobPhase.InProgressPhy) return decidePhysical(b, plan);
  return decideLogical(b, plan);
}

function theStatefulSet(b: Builder): V1StatefulSet | Decision {
  const list = b.obs.statefulSets;
  const sel = JSON.stringify(b.obs.restore.spec.target.labelsSelector ?? {});
  if (list.length === 1) return list[0]!;
  if (list.length === 0) return b.finish(false, Reason.TargetNotFound, `no StatefulSet in namespace "${b.obs.restore.metadata.namespace}" matches ${b.ref} .spec.target.labelsSelector ${sel}: fix the selector or create the workload`);
  const names = list.map((s) => s.metadata?.name).sort().join(", ");
  return b.finish(false, Reason.TargetAmbiguous, `${list.length} StatefulSets (${names}) match ${b.ref} .spec.target.labelsSelector ${sel}: narrow the selector to exactly one`);
}

function decideNew(b: Builder, plan: RestorePlan): Decision {
  const physical = plan.modes.includes("physical");
  let sts: V1StatefulSet | undefined;
  if (physical) {
    const found = theStatefulSet(b);
    if ("status" in found && "actions" in found) return found;
    sts = found;
  }
  if (plan.volumeSnapshotName) {
    // Every target claim must have its snapshot before anything is stopped.
    const m = snapshotMap(b, plan, sts);
    if (!m.ok) return b.finish(false, m.reason, m.message);
    const pending = [...new Set(m.map.values())].filter((s) => !s.readyToUse);
    if (pending.length) return b.wait();
  } else if (plan.verify.length > 0 && !b.conditionTrue(Cond.Verified)) {
    const name = verifyJobName(b.obs.restore);
    const job = b.obs.jobs.get(name);
    if (!job) {
      const names = plan.verify.map((x) => `"${x.metadata.name}"`).join(", ");
      return b.act({ type: "createJob", name, build: (a) => buildVerifyJob(b.obs.restore, plan, a, b.obs.agentImage) })
        .event(EventReason.Verifying, `verifying the checksums of Backup ${names} before touching the target`)
        .wait();
    }
    if (job.phase === "running") return b.wait();
    if (job.phase === "failed") {
      return b.finish(false, Reason.VerificationFailed, `Backup "${plan.backup.metadata.namespace}/${plan.backup.metadata.name}" failed verification, the target was not touched: ${job.message ?? `see the logs of Job "${name}"`}; take a new backup`);
    }
    b.condition(Cond.Verified, true, "ChecksumsMatch", "every object of the backup matched its checksum");
    b.event(EventReason.Verified, `every object of Backup "${plan.backup.metadata.name}" matched its checksum`);
  } else if (!plan.volumeSnapshotName && plan.verify.length === 0 && !b.conditionTrue(Cond.Verified)) {
    b.condition(Cond.Verified, false, "NoChecksums", "the backup records no data format and no checksum (its tool stored nothing, or it was made before dataFormat was recorded): nothing to verify");
    b.event(EventReason.VerificationSkipped, `Backup "${plan.backup.metadata.name}" records no checksum: restoring without verification`, "Warning");
  }
  if (physical) return b.phase(RestoreJobPhase.InProgressPhy, EventReason.ScalingDown, `stopping the target and restoring ${plan.volumeSnapshotName ? `VolumeSnapshot "${plan.volumeSnapshotName}"` : "the data files"}`);
  return b.phase(RestoreJobPhase.InProgressLogic, EventReason.LogicalRestoring, "restoring through the running target pods");
}

function decidePhysical(b: Builder, plan: RestorePlan): Decision {
  const found = theStatefulSet(b);
  if ("status" in found && "actions" in found) return found;
  const sts = found;
  const name = sts.metadata?.name ?? "";
  const rj = b.obs.restore;
  const jobName = physicalJobName(rj);
  const job = b.obs.jobs.get(jobName);
  if (!b.obs.recorded) return b.act({ type: "recordReplicas", statefulSet: name, replicas: sts.spec?.replicas ?? 1 }).wait(1);
  if (!job && (sts.spec?.replicas ?? 1) !== 0) {
    return b.act({ type: "scale", statefulSet: name, replicas: 0 })
      .event(EventReason.ScalingDown, `scaling StatefulSet "${name}" from ${b.obs.recorded.replicas} to 0 replicas`)
      .wait(1);
  }
  if (!job && ((b.obs.statefulSetPods.get(name) ?? 0) > 0 || (sts.status?.replicas ?? 0) > 0)) {
    if (b.inPhaseMs() > b.obs.timeouts.podStartMs) return b.finish(false, Reason.Timeout, `the pods of StatefulSet "${name}" did not stop within ${b.obs.timeouts.podStartMs / 1000}s: check for stuck pods`);
    return b.wait(1_000);
  }
  if (!b.conditionTrue(Cond.WorkloadStopped)) b.condition(Cond.WorkloadStopped, true, "ScaledDown", `StatefulSet "${name}" has no pods`);
  if (plan.volumeSnapshotName) return snapshotStep(b, plan, sts);

  if (!job) {
    return b.act({ type: "createJob", name: jobName, build: (a) => buildPhysicalJob(rj, plan, a, b.obs.agentImage) })
      .event(EventReason.Restoring, `restoring ${plan.steps.map((s) => `${s.kind} Backup "${s.backup.metadata.name}"`).join(", then ")} into the volumes of StatefulSet "${name}"`)
      .wait();
  }
  b.d.status.attempts = job.failures;
  if (job.phase === "running") return b.wait();
  if (job.phase === "failed") return b.finish(false, Reason.JobFailed, `restore Job "${jobName}" failed after ${job.failures} attempt(s): ${job.message ?? "see its pod logs"}; the StatefulSet was scaled back`);
  if (plan.modes.includes("logical")) {
    b.scaleBack();
    return b.phase(RestoreJobPhase.InProgressLogic, EventReason.LogicalRestoring, `data files restored; restoring through the running pods of StatefulSet "${name}"`);
  }
  return b.finish(true, EventReason.Completed, `restored Backup "${plan.backup.metadata.name}" into StatefulSet "${name}"`);
}

/** Each target claim's VolumeSnapshot (snapshot.ts), or why there is none. */
function snapshotMap(b: Builder, plan: RestorePlan, sts: V1StatefulSet | undefined): { ok: true; map: Map<string, SnapshotView> } | { ok: false; reason: Reason; message: string } {
  const claims = (b.obs.restore.spec.targetVolumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((c): c is string => !!c);
  if (claims.length === 0) return { ok: false, reason: Reason.TargetNotFound, message: `${b.ref} .spec.targetVolumes names no persistentVolumeClaim to provision from VolumeSnapshot "${plan.volumeSnapshotName}": add one` };
  // A backup whose snapshots carry no labels (made by hand) has its one recorded snapshot.
  const snapshots = b.obs.snapshots?.length ? b.obs.snapshots : [{ name: plan.volumeSnapshotName!, volumeType: "data", readyToUse: false }];
  const m = mapClaimsToSnapshots(claims, snapshots, sts, b.obs.pvcs);
  return m.ok ? m : { ok: false, reason: Reason.SnapshotNotReady, message: `${b.ref}: ${m.message}` };
}

function snapshotStep(b: Builder, plan: RestorePlan, sts: V1StatefulSet): Decision {
  const m = snapshotMap(b, plan, sts);
  if (!m.ok) return b.finish(false, m.reason, m.message);
  let pending = false;
  for (const [claim, snap] of m.map) {
    const v = b.obs.pvcs.get(claim);
    if (v && !v.ours) {
      pending = true;
      if (!v.terminating) b.act({ type: "deletePVC", name: claim }).event(EventReason.ProvisioningFromSnapshot, `replacing PVC "${claim}" with a copy of VolumeSnapshot "${snap.name}"`);
    } else if (!v) {
      pending = true;
      b.act({ type: "createPVC", pvc: buildSnapshotPVC(b.obs.restore, claim, snap.name, sts, snap.restoreSize) });
    } else if (!v.bound) pending = true;
  }
  if (pending) return b.wait(1_000);
  const what = [...m.map].map(([c, s]) => `PVC "${c}" from VolumeSnapshot "${s.name}"`).join(", ");
  return b.finish(true, EventReason.Completed, `provisioned ${what} for StatefulSet "${sts.metadata?.name}"`);
}

function isReady(p: V1Pod): boolean {
  return p.status?.phase === "Running" && !p.metadata?.deletionTimestamp && !!p.status.podIP
    && (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** A targetless tool with no pods selected: one Job, no target pod (targetless.ts). */
function decideTargetless(b: Builder, plan: RestorePlan): Decision {
  const name = targetlessJobName(b.obs.restore);
  const job = b.obs.jobs.get(name);
  if (!job) {
    return b.act({ type: "createJob", name, build: (a) => buildTargetlessJob(b.obs.restore, plan, a) })
      .event(EventReason.LogicalRestoring, `running the logical restore of Backup "${plan.backup.metadata.name}" once, without a target pod (BackupTool "${plan.steps[0]!.tool.metadata.name}" is targetless)`)
      .wait();
  }
  if (job.phase === "failed") return b.finish(false, Reason.JobFailed, `logical restore Job "${name}" failed after ${job.failures} attempt(s): ${job.message ?? "see its pod logs"}`);
  if (job.phase === "running") return b.wait();
  return b.finish(true, EventReason.Completed, `restored Backup "${plan.backup.metadata.name}" (targetless, Job "${name}")`);
}

function decideLogical(b: Builder, plan: RestorePlan): Decision {
  const rj = b.obs.restore;
  if (restoresTargetless(rj, plan)) return decideTargetless(b, plan);
  const scope = plan.steps[0]!.tool.spec.logical?.podScope ?? PodRestoreScope.All;
  const pods = [...b.obs.pods].sort((x, y) => (x.metadata?.name ?? "").localeCompare(y.metadata?.name ?? ""));
  const ready = pods.filter(isReady);
  const want = b.obs.recorded?.replicas ?? 1;
  const started = pods.filter((p) => b.obs.jobs.has(logicalJobName(rj, p.metadata?.name ?? "")));
  let targets: V1Pod[];
  if (started.length > 0) targets = started;
  else if (ready.length === 0 || ready.length < pods.length || ready.length < want) {
    if (b.inPhaseMs() > b.obs.timeouts.targetPodWaitMs) {
      return b.finish(false, Reason.TargetPodNotFound, `${ready.length} of ${Math.max(pods.length, want)} target pods matching ${b.ref} .spec.target.labelsSelector are running and ready after ${b.obs.timeouts.targetPodWaitMs / 1000}s: start the workload`);
    }
    return b.wait(1_000);
  } else if (scope === PodRestoreScope.ReadWrite) {
    const rw = ready.filter((p) => ReadWriteRoles.includes(p.metadata?.labels?.[LabelRole] ?? ""));
    if (rw.length === 0 && ready.length === 1) targets = ready;
    else if (rw.length === 0) {
      if (b.inPhaseMs() > b.obs.timeouts.targetPodWaitMs) return b.finish(false, Reason.NoReadWritePod, `none of the ${ready.length} target pods is labelled ${LabelRole}=primary|leader: label the read-write pod or use podScope All`);
      return b.wait(1_000);
    } else targets = rw.slice(0, 1);
  } else targets = ready;

  let running = 0;
  for (const pod of targets) {
    const name = logicalJobName(rj, pod.metadata?.name ?? "");
    const job = b.obs.jobs.get(name);
    if (!job) {
      b.act({ type: "createJob", name, build: (a) => buildLogicalJob(rj, plan, a, pod, b.obs.agentImage) })
        .event(EventReason.LogicalRestoring, `running the logical restore of Backup "${plan.backup.metadata.name}" against pod "${pod.metadata?.name}" (podScope ${scope})`);
      running++;
      continue;
    }
    if (job.phase === "failed") return b.finish(false, Reason.JobFailed, `logical restore Job "${name}" for pod "${pod.metadata?.name}" failed after ${job.failures} attempt(s): ${job.message ?? "see its pod logs"}`);
    if (job.phase === "running") running++;
  }
  if (running > 0) return b.wait();
  const names = targets.map((p) => `"${p.metadata?.name}"`).join(", ");
  return b.finish(true, EventReason.Completed, `restored Backup "${plan.backup.metadata.name}" through pod(s) ${names}`);
}
