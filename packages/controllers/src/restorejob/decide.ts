// Pure state machine of a RestoreJob: (observation, now) -> the runtime's Decision (status,
// prerequisites, creates, patches, deletes, Events, finalizer).
// New (plan, target check, verify) -> InProgressPhy (scale down, restore Job or PVCs
// from a snapshot, scale back) -> InProgressLogic (per-pod Jobs) -> Completed | Failed.
import type { V1Job, V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import { Finalizer, PodRestoreScope, RestoreJobPhase, type BackupRepo, type RestoreJob, type RestoreJobStatus, type StorageProvider } from "@dataprotection/api";
import { setCondition, type DecidedEvent, type Decision, type EventType, type Kind } from "@dataprotection/runtime";
import { mountAccess, repoAccessFor, type RepoAccess } from "../backuprepo/access.ts";
import { Kinds } from "../kinds.ts";
import type { Timeouts } from "../options.ts";
import { buildLogicalJob, buildPhysicalJob, buildVerifyJob, logicalJobName, physicalJobName, verifyJobName } from "./job.ts";
import type { PlanResult, RestorePlan } from "./plan.ts";
import { buildSnapshotPVC, mapClaimsToSnapshots, type PvcView, type SnapshotView } from "./snapshot.ts";
import { buildTargetlessJob, restoresTargetless, targetlessJobName } from "./targetless.ts";
import { EventReason, Reason } from "./reasons.ts";
import { toolImage } from "../backup/job.ts";
import { EXIT_STORAGE_UNREACHABLE } from "@dataprotection/storage";

export interface JobState {
  phase: "running" | "succeeded" | "failed";
  /** Failed pods so far (status.attempts). */
  failures: number;
  /** The failing container's termination message, when there is one. */
  message?: string;
  /** The failing container's exit code, when known. */
  exitCode?: number;
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
  /** The StorageProvider of the plan's repo (read while the restore may still start a Job). */
  repoProvider?: StorageProvider;
  agentImage: string;
  timeouts: Timeouts;
}

/**
 * What apply does before anything else in a decision (the shell's `prepare`), in order.
 * The Jobs' repo access and the scale-back come before the status that relies on them.
 */
export type Prerequisite =
  /** The repo's Secret copies and PVC in the namespace (ensureRepoAccess); `access` is what the decision's Jobs were built from. */
  | { type: "repoAccess"; repo: BackupRepo; access: RepoAccess }
  /** The StatefulSet's replicas (annotation) and the finalizer on the RestoreJob, in one patch guarded by its resourceVersion. */
  | { type: "recordReplicas"; statefulSet: string; replicas: number }
  /** Before the status says WorkloadRestarted and before the finalizer goes: a crash in between must not leave the workload down. */
  | { type: "scaleBack"; statefulSet: string; replicas: number }
  /** Foreground: the Job object stays until its pods are gone, so its absence means "stopped". */
  | { type: "deleteJob"; name: string };

export type RestoreDecision = Decision<RestoreJobStatus, Prerequisite>;

export const Cond = { Progressing: "Progressing", Verified: "Verified", WorkloadStopped: "WorkloadStopped", WorkloadRestarted: "WorkloadRestarted" } as const;
/** Role label values that mark the ReadWrite (primary/leader) pod. */
const ReadWriteRoles = ["primary", "leader", "master"];
const LabelRole = "kubeblocks.io/role";
const POLL_MS = 5_000;

class Builder {
  readonly d: RestoreDecision & { status: RestoreJobStatus; events: DecidedEvent[] };
  constructor(
    readonly obs: Observation,
    readonly now: Date,
  ) {
    this.d = { status: structuredClone(obs.restore.status ?? {}), events: [] };
  }
  get ref(): string {
    const m = this.obs.restore.metadata;
    return `RestoreJob "${m.namespace}/${m.name}"`;
  }
  event(reason: string, message: string, type: EventType = "Normal"): this {
    this.d.events.push({ type, reason, message });
    return this;
  }
  prepare(p: Prerequisite): this {
    (this.d.prepare ??= []).push(p);
    return this;
  }
  create(kind: Kind, object: object): this {
    (this.d.creates ??= []).push({ kind, object });
    return this;
  }
  /** A Job built with how its pods reach the plan's repo; the repo's Secret copies and PVC come first. */
  createJob(plan: RestorePlan, build: (access: RepoAccess) => V1Job): this {
    // A KubeBlocks 0.6 backup without a repo: its PVC, mounted at /backupdata, read as a filesystem repo.
    const access = plan.repo ? repoAccessFor(plan.repo, this.obs.repoProvider) : mountAccess(plan.legacyPVC ?? "");
    if (plan.repo && !this.d.prepare?.some((p) => p.type === "repoAccess")) this.prepare({ type: "repoAccess", repo: plan.repo, access });
    return this.create(Kinds.Job, build(access));
  }
  /** A merge patch to an object in the RestoreJob's namespace. */
  patch(kind: Kind, name: string, patch: object): this {
    (this.d.patches ??= []).push({ kind, name, namespace: this.obs.restore.metadata.namespace, patch });
    return this;
  }
  delete(kind: Kind, name: string): this {
    (this.d.deletes ??= []).push({ kind, name, namespace: this.obs.restore.metadata.namespace });
    return this;
  }
  wait(ms = POLL_MS): RestoreDecision {
    this.d.requeueAfterMs = ms;
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
  phase(p: RestoreJobPhase, reason: string, message: string, type: EventType = "Normal"): RestoreDecision {
    this.d.status.phase = p;
    this.condition(Cond.Progressing, p !== RestoreJobPhase.Completed && p !== RestoreJobPhase.Failed, p, message);
    return this.event(reason, message, type).wait(p === RestoreJobPhase.Completed || p === RestoreJobPhase.Failed ? 0 : 1);
  }
  /** Ends the restore; a StatefulSet scaled down is always scaled back first. */
  finish(ok: boolean, reason: string, message: string): RestoreDecision {
    this.scaleBack();
    this.d.status.completionTimestamp = this.now.toISOString();
    if (!ok) this.d.status.failureReason = `${reason}: ${message}`;
    const exp = this.obs.plan.kind === "ok" ? this.obs.plan.plan.backup.status?.expiration : undefined;
    if (exp) this.d.status.expiration = exp;
    this.phase(ok ? RestoreJobPhase.Completed : RestoreJobPhase.Failed, reason, message, ok ? "Normal" : "Warning");
    delete this.d.requeueAfterMs;
    return this.releaseFinalizer();
  }
  /** The restore is over and its workload scaled back: the deletion finalizer has nothing left to guard. */
  releaseFinalizer(): RestoreDecision {
    this.d.finalizer = { remove: Finalizer };
    return this.d;
  }
  scaleBack(): void {
    const r = this.obs.recorded;
    if (!r || this.conditionTrue(Cond.WorkloadRestarted)) return;
    const sts = this.obs.statefulSets.find((s) => s.metadata?.name === r.name);
    if (sts && (sts.spec?.replicas ?? 1) !== r.replicas) {
      this.prepare({ type: "scaleBack", statefulSet: r.name, replicas: r.replicas });
      this.event(EventReason.ScalingUp, `scaling StatefulSet "${r.name}" back to ${r.replicas} replicas`);
    }
    this.condition(Cond.WorkloadRestarted, true, "ScaledBack", `StatefulSet "${r.name}" has ${r.replicas} replicas again`);
  }
}

export function decide(obs: Observation, now: Date): RestoreDecision {
  const b = new Builder(obs, now);
  const phase = obs.restore.status?.phase;
  if (obs.restore.metadata.generation !== undefined) b.d.status.observedGeneration = obs.restore.metadata.generation;
  if (phase === RestoreJobPhase.Completed || phase === RestoreJobPhase.Failed) {
    b.scaleBack();
    return b.releaseFinalizer();
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

/** The one StatefulSet the selector matches, or the decision that fails the restore for none or several. */
function theStatefulSet(b: Builder): { sts: V1StatefulSet } | { failed: RestoreDecision } {
  const list = b.obs.statefulSets;
  const sel = JSON.stringify(b.obs.restore.spec.target.labelsSelector ?? {});
  if (list.length === 1) return { sts: list[0]! };
  if (list.length === 0) return { failed: b.finish(false, Reason.TargetNotFound, `no StatefulSet in namespace "${b.obs.restore.metadata.namespace}" matches ${b.ref} .spec.target.labelsSelector ${sel}: fix the selector or create the workload`) };
  const names = list.map((s) => s.metadata?.name).sort().join(", ");
  return { failed: b.finish(false, Reason.TargetAmbiguous, `${list.length} StatefulSets (${names}) match ${b.ref} .spec.target.labelsSelector ${sel}: narrow the selector to exactly one`) };
}

/** A restore step that ended on dp-agent's unreachable-repo status (75) names the repo, not the tool. */
function failedJobReason(job: JobState): Reason {
  return job.exitCode === EXIT_STORAGE_UNREACHABLE ? Reason.StorageUnreachable : Reason.JobFailed;
}

function decideNew(b: Builder, plan: RestorePlan): RestoreDecision {
  const physical = plan.modes.includes("physical");
  let sts: V1StatefulSet | undefined;
  if (physical) {
    const found = theStatefulSet(b);
    if ("failed" in found) return found.failed;
    sts = found.sts;
  }
  // Before anything is verified or stopped: every step's tool has an image to run.
  const noImage = plan.volumeSnapshotName ? undefined : imageProblem(b, plan, sts);
  if (noImage) return b.finish(false, Reason.ToolUnsuitable, noImage);
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
      return b.createJob(plan, (a) => buildVerifyJob(b.obs.restore, plan, a, b.obs.agentImage))
        .event(EventReason.Verifying, `verifying the checksums of Backup ${names} before touching the target`)
        .wait();
    }
    if (job.phase === "running") return b.wait();
    if (job.phase === "failed" && job.exitCode === EXIT_STORAGE_UNREACHABLE) {
      return b.finish(false, Reason.StorageUnreachable, `could not read Backup "${plan.backup.metadata.namespace}/${plan.backup.metadata.name}" from its repo to verify it (${job.failures} attempt(s)), the target was not touched: ${job.message ?? `see the logs of Job "${name}"`}; create a new RestoreJob once the repo is reachable`);
    }
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

/**
 * Why a step's tool has no image, or undefined. An empty BackupTool image means the target's
 * first container's image (toolImage): the StatefulSet's pod template for a physical restore;
 * a targetless logical restore has no target to take it from. Pods always name an image.
 */
function imageProblem(b: Builder, plan: RestorePlan, sts: V1StatefulSet | undefined): string | undefined {
  const step = plan.steps.find((s) => !s.tool.spec.image);
  if (!step) return undefined;
  const problem = (where: string) => `BackupTool "${step.tool.metadata.name}" has an empty image, which means the target's first container's image, but ${where}: set the tool's .spec.image`;
  if (sts) return toolImage(step.tool, sts.spec?.template.spec) ? undefined : problem(`the first container of StatefulSet "${sts.metadata?.name}"'s pod template names none`);
  // A logical restore runs against each target pod and takes its image.
  return restoresTargetless(b.obs.restore, plan) ? problem("this restore runs without a target pod (targetless) to take it from") : undefined;
}

function decidePhysical(b: Builder, plan: RestorePlan): RestoreDecision {
  const found = theStatefulSet(b);
  if ("failed" in found) return found.failed;
  const sts = found.sts;
  const name = sts.metadata?.name ?? "";
  const rj = b.obs.restore;
  const jobName = physicalJobName(rj);
  const job = b.obs.jobs.get(jobName);
  // Only the record: its patch moves the resourceVersion, so a status decided with it would conflict.
  if (!b.obs.recorded) return { prepare: [{ type: "recordReplicas", statefulSet: name, replicas: sts.spec?.replicas ?? 1 }], requeueAfterMs: 1 };
  if (!job && (sts.spec?.replicas ?? 1) !== 0) {
    return b.patch(Kinds.StatefulSet, name, { spec: { replicas: 0 } })
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
    return b.createJob(plan, (a) => buildPhysicalJob(rj, plan, a, b.obs.agentImage, sts.spec?.template.spec))
      .event(EventReason.Restoring, `restoring ${plan.steps.map((s) => `${s.kind} Backup "${s.backup.metadata.name}"`).join(", then ")} into the volumes of StatefulSet "${name}"`)
      .wait();
  }
  b.d.status.attempts = job.failures;
  if (job.phase === "running") return b.wait();
  if (job.phase === "failed") return b.finish(false, failedJobReason(job), `restore Job "${jobName}" failed after ${job.failures} attempt(s): ${job.message ?? "see its pod logs"}; the StatefulSet was scaled back`);
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

function snapshotStep(b: Builder, plan: RestorePlan, sts: V1StatefulSet): RestoreDecision {
  const m = snapshotMap(b, plan, sts);
  if (!m.ok) return b.finish(false, m.reason, m.message);
  let pending = false;
  for (const [claim, snap] of m.map) {
    const v = b.obs.pvcs.get(claim);
    if (v && !v.ours) {
      pending = true;
      if (!v.terminating) b.delete(Kinds.PersistentVolumeClaim, claim).event(EventReason.ProvisioningFromSnapshot, `replacing PVC "${claim}" with a copy of VolumeSnapshot "${snap.name}"`);
    } else if (!v) {
      pending = true;
      b.create(Kinds.PersistentVolumeClaim, buildSnapshotPVC(b.obs.restore, claim, snap.name, sts, snap.restoreSize));
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
function decideTargetless(b: Builder, plan: RestorePlan): RestoreDecision {
  const name = targetlessJobName(b.obs.restore);
  const job = b.obs.jobs.get(name);
  if (!job) {
    return b.createJob(plan, (a) => buildTargetlessJob(b.obs.restore, plan, a))
      .event(EventReason.LogicalRestoring, `running the logical restore of Backup "${plan.backup.metadata.name}" once, without a target pod (BackupTool "${plan.steps[0]!.tool.metadata.name}" is targetless)`)
      .wait();
  }
  if (job.phase === "failed") return b.finish(false, failedJobReason(job), `logical restore Job "${name}" failed after ${job.failures} attempt(s): ${job.message ?? "see its pod logs"}`);
  if (job.phase === "running") return b.wait();
  return b.finish(true, EventReason.Completed, `restored Backup "${plan.backup.metadata.name}" (targetless, Job "${name}")`);
}

function decideLogical(b: Builder, plan: RestorePlan): RestoreDecision {
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
      b.createJob(plan, (a) => buildLogicalJob(rj, plan, a, pod, b.obs.agentImage))
        .event(EventReason.LogicalRestoring, `running the logical restore of Backup "${plan.backup.metadata.name}" against pod "${pod.metadata?.name}" (podScope ${scope})`);
      running++;
      continue;
    }
    if (job.phase === "failed") return b.finish(false, failedJobReason(job), `logical restore Job "${name}" for pod "${pod.metadata?.name}" failed after ${job.failures} attempt(s): ${job.message ?? "see its pod logs"}`);
    if (job.phase === "running") running++;
  }
  if (running > 0) return b.wait();
  const names = targets.map((p) => `"${p.metadata?.name}"`).join(", ");
  return b.finish(true, EventReason.Completed, `restored Backup "${plan.backup.metadata.name}" through pod(s) ${names}`);
}
