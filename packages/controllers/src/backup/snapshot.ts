// Pure: snapshot backups. pre hooks (a Job) -> pre-stage backupStatusUpdates (Jobs) -> one
// VolumeSnapshot per target data PVC (and log PVC) -> all readyToUse -> post hooks (a Job) ->
// post-stage backupStatusUpdates -> Completed. Each step is read back from the children, so a
// restart resumes where it stopped; each wait is bounded.
import type { V1Container, V1Job, V1PersistentVolumeClaim, V1Pod, V1EnvVar, V1EnvFromSource } from "@kubernetes/client-node";
import { BackupPhase, LabelVolumeType, type Backup, type BackupPolicy, type BackupPolicyHook, type BackupStatus } from "@dataprotection/api";
import { childName, rfc3339, type DecidedEvent } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { failed, helperJobName, startedStatus, touched } from "./decide.ts";
import { deletions, owned, withStatus, type BackupDecision } from "./decision.ts";
import { childLabels, LabelBackupUID, nodeAffinity } from "./job.ts";
import { Reason } from "./reasons.ts";
import { formatBytes, formatDuration, parseQuantity, terminationMessageOf } from "./report.ts";
import type { VolumeSnapshotObject } from "./snapshot-types.ts";
import type { BackupPlan } from "./validate.ts";
import { buildStatusUpdateJob, followStatusUpdates, type ObservedUpdate, type Stage } from "./statusupdate.ts";

export const HOOK_CONTAINER = "hook";

/** A hook runs as a Job on the target's node, in the target container's image, env and mounts. */
export function buildHookJob(b: Backup, role: "prehook" | "posthook", command: string[], hooks: BackupPolicyHook, pod: V1Pod, container: V1Container): V1Job {
  const names = new Set((container.volumeMounts ?? []).map((m) => m.name));
  const volumes = (pod.spec?.volumes ?? []).filter((v) => names.has(v.name) && !v.projected?.sources?.some((s) => s.serviceAccountToken));
  const kept = new Set(volumes.map((v) => v.name));
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: helperJobName(b.metadata!.name!, role), namespace: b.metadata?.namespace, labels: childLabels(b, role) },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: childLabels(b, role) },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          securityContext: pod.spec?.securityContext,
          tolerations: pod.spec?.tolerations,
          affinity: pod.spec?.nodeName ? nodeAffinity(pod.spec.nodeName) : undefined,
          volumes,
          containers: [{
            name: HOOK_CONTAINER,
            image: hooks.image || container.image,
            command,
            env: (container.env ?? []) as V1EnvVar[],
            envFrom: (container.envFrom ?? []) as V1EnvFromSource[],
            securityContext: container.securityContext,
            volumeMounts: (container.volumeMounts ?? []).filter((m) => kept.has(m.name)),
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
}

/**
 * The claims to snapshot: those labelled data or log; every claim of the pod when none is
 * labelled. Data claims first, then log, each by name: the first becomes the Backup's
 * volumeSnapshotName, and a StatefulSet lists its pods' claim volumes in no fixed order.
 */
export function claimsToSnapshot(pod: V1Pod, claims: readonly V1PersistentVolumeClaim[]): Array<{ claim: string; volumeType: string }> {
  const used = (pod.spec?.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter((n): n is string => !!n);
  const byName = new Map(claims.map((c) => [c.metadata?.name, c]));
  const labelled = used
    .map((n) => ({ claim: n, volumeType: byName.get(n)?.metadata?.labels?.[LabelVolumeType] ?? "" }))
    .filter((c) => c.volumeType === "data" || c.volumeType === "log");
  const chosen = labelled.length ? labelled : used.map((claim) => ({ claim, volumeType: "data" }));
  return chosen.sort((a, b) => (a.volumeType === b.volumeType ? a.claim.localeCompare(b.claim) : a.volumeType === "data" ? -1 : 1));
}

export function snapshotName(backupName: string, index: number, volumeType: string): string {
  if (index === 0) return backupName;
  return childName(backupName, `${volumeType}-${index}`);
}

/**
 * A VolumeSnapshot of one claim. No owner reference: the garbage collector would delete it with
 * the Backup even when the Backup is protected. The finalizer deletes it explicitly instead
 * (delete.ts); the Backup finds its snapshots by the uid label.
 */
export function buildVolumeSnapshot(b: Backup, name: string, claim: string, volumeType: string): VolumeSnapshotObject {
  return {
    apiVersion: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshot",
    metadata: { name, namespace: b.metadata?.namespace, labels: { ...childLabels(b, "snapshot"), [LabelBackupUID]: b.metadata?.uid ?? "", [LabelVolumeType]: volumeType } },
    spec: { source: { persistentVolumeClaimName: claim } },
  };
}

/** A snapshot Backup on a cluster that does not serve snapshot.storage.k8s.io/v1 VolumeSnapshots. */
export function snapshotApiUnavailable(b: Backup, now: Date): BackupDecision {
  return failed(b, Reason.SnapshotAPIUnavailable, `this cluster does not serve snapshot.storage.k8s.io/v1 VolumeSnapshots: install the CSI external-snapshotter CRDs and controller (and a VolumeSnapshotClass), or use backupType datafile in BackupPolicy "${b.metadata?.namespace}/${b.spec.backupPolicyName}"`, now);
}

export function startSnapshot(b: Backup, plan: BackupPlan, now: Date): BackupDecision {
  const status = withStatus(b, startedStatus(b, plan, now, BackupPhase.InProgress));
  return { status, events: [{ type: "Normal", reason: Reason.BackupStarted, message: `started snapshot backup of pod ${plan.target?.pod.metadata?.name}` }], requeueAfterMs: 1 };
}

interface HookObservation {
  job?: V1Job;
  pods: readonly V1Pod[];
}

export interface SnapshotObservation {
  backup: Backup;
  policy?: BackupPolicy;
  /** The pod named in status.manifests.target, if it still exists. */
  target?: { pod: V1Pod; container: V1Container };
  claims: readonly V1PersistentVolumeClaim[];
  preHook: HookObservation;
  postHook: HookObservation;
  snapshots: readonly VolumeSnapshotObject[];
  /** The snapshot policy's backupStatusUpdates of each stage with their Jobs (index order). */
  pre?: readonly ObservedUpdate[];
  post?: readonly ObservedUpdate[];
  hookMs: number;
  snapshotReadyMs: number;
}

const cond = (j: V1Job, type: string) => j.status?.conditions?.some((c) => c.type === type && c.status === "True");
const ageMs = (o: { metadata?: { creationTimestamp?: unknown } }, now: Date) => now.getTime() - (Date.parse(String(o.metadata?.creationTimestamp ?? "")) || now.getTime());

type HookState = { done: true } | { done: false; decision: BackupDecision };

function followHook(o: SnapshotObservation, role: "prehook" | "posthook", commands: string[] | undefined, h: HookObservation, now: Date): HookState {
  if (!commands?.length) return { done: true };
  const b = o.backup;
  const hooks = o.policy?.spec.snapshot?.hooks ?? {};
  if (!h.job) {
    if (!o.target) return { done: false, decision: failed(b, Reason.TargetPodNotFound, `target pod of the backup is gone: the ${role} cannot run`, now) };
    return { done: false, decision: { creates: [owned(b, Kinds.Job, buildHookJob(b, role, commands, hooks, o.target.pod, o.target.container))], requeueAfterMs: 2_000 } };
  }
  if (cond(h.job, "Complete")) return { done: true };
  const which = role === "prehook" ? "preCommands" : "postCommands";
  if (cond(h.job, "Failed")) {
    const why = terminationMessageOf(h.pods[h.pods.length - 1], HOOK_CONTAINER).trim().slice(-300) || "exit status non-zero";
    return { done: false, decision: failed(b, Reason.HookFailed, `hooks.${which} failed (Job ${h.job.metadata?.name}): ${why}`, now) };
  }
  if (ageMs(h.job, now) > o.hookMs) {
    const d = failed(b, Reason.HookFailed, `hooks.${which} did not finish within ${Math.round(o.hookMs / 1000)}s (Job ${h.job.metadata?.name})`, now);
    return { done: false, decision: { ...d, deletes: deletions(b, Kinds.Job, [h.job.metadata!.name!]) } };
  }
  return { done: false, decision: { requeueAfterMs: 2_000 } };
}

/**
 * The base of a status-update Job of a snapshot backup (there is no tool Job to start from): the
 * hook Job's pod (target node, the target container's mounts and security context) with only
 * BACKUP_NAME in its env; buildStatusUpdateJob puts the target container's env in front.
 */
export function snapshotStatusBase(b: Backup, target: { pod: V1Pod; container: V1Container }): V1Job {
  const base = buildHookJob(b, "prehook", ["true"], {}, target.pod, target.container);
  const c = base.spec!.template.spec!.containers[0];
  c.env = [{ name: "BACKUP_NAME", value: b.metadata!.name! }];
  c.envFrom = [];
  return base;
}

type StageState =
  | { done: true; status: Partial<BackupStatus>; events: DecidedEvent[]; stop: NonNullable<BackupDecision["deletes"]> }
  | { done: false; decision: BackupDecision };

/** Creates one stage's missing Jobs, then follows them (statusupdate.ts) until each has ended. */
function followStage(o: SnapshotObservation, stage: Stage, status: Partial<BackupStatus>, now: Date): StageState {
  const b = o.backup;
  const updates = (stage === "pre" ? o.pre : o.post) ?? [];
  if (!updates.length) return { done: true, status: {}, events: [], stop: [] };
  const missing = updates.map((u, i) => ({ u, i })).filter(({ u }) => !u.job);
  if (missing.length) {
    if (!o.target) return { done: false, decision: failed(b, Reason.TargetPodNotFound, `target pod of the backup is gone: its ${stage}-stage backupStatusUpdates cannot run`, now) };
    const base = snapshotStatusBase(b, o.target);
    return { done: false, decision: { creates: missing.map(({ u, i }) => owned(b, Kinds.Job, buildStatusUpdateJob(b, u.update, stage, i, base, o.target))), requeueAfterMs: 1_000 } };
  }
  const s = followStatusUpdates(b.metadata!.name!, stage, updates, status, o.hookMs, now);
  const stop = deletions(b, Kinds.Job, s.stop);
  if (!s.done) return { done: false, decision: { deletes: stop, requeueAfterMs: s.requeueAfterMs } };
  return { done: true, status: touched(s.status, updates), events: s.events, stop };
}

export function decideSnapshot(o: SnapshotObservation, now: Date): BackupDecision {
  const b = o.backup;
  const name = b.metadata!.name!;
  const hooks = o.policy?.spec.snapshot?.hooks;
  const pre = followHook(o, "prehook", hooks?.preCommands, o.preHook, now);
  if (!pre.done) return pre.decision;

  let snaps = [...o.snapshots];
  if (snaps.length === 0) {
    if (!o.target) return failed(b, Reason.TargetPodNotFound, `target pod of the backup is gone before its volumes were snapshotted`, now);
    const claims = claimsToSnapshot(o.target.pod, o.claims);
    if (!claims.length) return failed(b, Reason.SnapshotFailed, `target pod ${o.target.pod.metadata?.name} has no PersistentVolumeClaim to snapshot`, now);
    // Pre-stage updates are followed only until the snapshots exist, so their Events are recorded once.
    const st = followStage(o, "pre", b.status ?? {}, now);
    if (!st.done) return st.decision;
    const names = claims.map((c, i) => snapshotName(name, i, c.volumeType));
    const created = { type: "Normal" as const, reason: Reason.SnapshotCreated, message: `created VolumeSnapshot(s) of ${claims.map((c) => c.claim).join(", ")}` };
    return {
      prepare: names.map((n) => ({ kind: "snapshotNameFree", name: n })),
      creates: claims.map((c, i) => ({ kind: Kinds.VolumeSnapshot, object: buildVolumeSnapshot(b, names[i], c.claim, c.volumeType) })),
      ...(Object.keys(st.status).length ? { status: withStatus(b, st.status) } : {}),
      deletes: st.stop,
      events: [...st.events, created],
      requeueAfterMs: 1_000,
    };
  }
  snaps = snaps.sort((a, b2) => String(a.metadata.name).localeCompare(String(b2.metadata.name)));
  const broken = snaps.find((s) => s.status?.error?.message);
  if (broken) return failed(b, Reason.SnapshotFailed, `VolumeSnapshot ${broken.metadata.name}: ${broken.status!.error!.message}`, now);
  const pending = snaps.filter((s) => !s.status?.readyToUse);
  if (pending.length) {
    const oldest = Math.max(...pending.map((s) => ageMs(s, now)));
    if (oldest > o.snapshotReadyMs) return failed(b, Reason.SnapshotFailed, `VolumeSnapshot ${pending[0].metadata.name} not readyToUse after ${Math.round(o.snapshotReadyMs / 1000)}s: check the CSI snapshotter`, now);
    return { requeueAfterMs: 1_000 };
  }

  const post = followHook(o, "posthook", hooks?.postCommands, o.postHook, now);
  if (!post.done) return post.decision;

  const total = snaps.reduce((n, s) => n + (parseQuantity(s.status?.restoreSize) || 0), 0);
  const start = Date.parse(b.status?.startTimestamp ?? "") || now.getTime();
  const main = snaps.find((s) => s.metadata.name === name) ?? snaps[0];
  const completed: Partial<BackupStatus> = {
    phase: BackupPhase.Completed,
    completionTimestamp: rfc3339(now),
    duration: formatDuration(now.getTime() - start),
    totalSize: formatBytes(total),
    manifests: {
      ...b.status?.manifests,
      backupSnapshot: { volumeSnapshotName: main.metadata.name, ...(main.status?.boundVolumeSnapshotContentName ? { volumeSnapshotContentName: main.status.boundVolumeSnapshotContentName } : {}) },
    },
  };
  // Post-stage results are merged on top of the completed status (they may refine it).
  const st = followStage(o, "post", { ...b.status, ...completed }, now);
  if (!st.done) return st.decision;
  return {
    status: withStatus(b, { ...completed, ...st.status }),
    deletes: st.stop,
    events: [...st.events, { type: "Normal", reason: Reason.BackupCompleted, message: `snapshot backup completed: ${snaps.map((s) => s.metadata.name).join(", ")} (${formatBytes(total)})` }],
  };
}
