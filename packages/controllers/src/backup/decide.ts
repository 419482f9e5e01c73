// Pure state machine of datafile Backups (and the New-phase outcomes every type shares):
// observation + now -> Decision. No I/O, no clock: everything comes in as arguments.
import type { V1Container, V1Job, V1Pod } from "@kubernetes/client-node";
import { BackupDataFormat, BackupPhase, type Backup, type BackupStatus } from "@dataprotection/api";
import { childName, rfc3339, setCondition } from "@dataprotection/runtime";
import { parseTTL } from "../backuppolicy/ttl.ts";
import { Kinds } from "../kinds.ts";
import { deletions, owned, withStatus, type BackupDecision, type BackupPrereq } from "./decision.ts";
import { backupDirOf, integrityEnv, toolEnv } from "./env.ts";
import { buildBackupJob, toolJobName } from "./job.ts";
import { Condition, Reason, failureReason } from "./reasons.ts";
import { formatDuration, podStartProblem, terminationMessageOf, toolStartedAt } from "./report.ts";
import { dataOutcome } from "./completion.ts";
import { importOutcome } from "./import.ts";
import { SEAL_CONTAINER, dataFormatOf, sealedLayout, sealsPlainFiles, unsealContainer } from "./plain-files.ts";
import { sourceClusterOf, targetManifest } from "./target.ts";
import { buildStatusUpdateJob, followStatusUpdates, statusUpdatesOf, type ObservedUpdate } from "./statusupdate.ts";
import type { BackupPlan, Validation } from "./validate.ts";

/** status for a Backup that failed for `reason`, with the Warning Event that says so. */
export function failed(backup: Backup, reason: Reason, message: string, now: Date): BackupDecision {
  return {
    status: withStatus(backup, {
      phase: BackupPhase.Failed,
      failureReason: failureReason(reason, message),
      completionTimestamp: rfc3339(now),
      conditions: setCondition(backup.status?.conditions, { type: Condition.Validated, status: backup.status?.phase === BackupPhase.InProgress ? "True" : "False", reason, message }, now),
    }),
    events: [{ type: "Warning", reason, message: `Backup failed: ${message}` }],
  };
}

/** The status keys every type sets when it starts (withStatus makes them the whole status). */
export function startedStatus(b: Backup, plan: BackupPlan, now: Date, phase: BackupStatus["phase"]): Partial<BackupStatus> {
  const ttl = plan.policy.spec.retention?.ttl;
  const parsed = ttl ? parseTTL(ttl) : undefined;
  const d = plan.destination;
  return {
    phase,
    startTimestamp: rfc3339(now),
    ...(parsed?.ok ? { expiration: rfc3339(new Date(now.getTime() + parsed.milliseconds)) } : {}),
    ...(plan.tool ? { backupToolName: plan.tool.metadata?.name } : {}),
    ...(d?.repoName ? { backupRepoName: d.repoName } : {}),
    ...(d?.access.pvcName ? { persistentVolumeClaimName: d.access.pvcName } : {}),
    ...(plan.target ? { sourceCluster: sourceClusterOf(plan.target.pod) } : {}),
    manifests: {
      ...b.status?.manifests,
      ...(plan.target ? { target: targetManifest(plan.target.pod, plan.target.container) } : {}),
      ...(d ? { backupTool: { filePath: plan.filePath, ...(d.access.pvcName ? { volumeName: d.access.pvcName } : {}), encrypted: d.access.encrypted } } : {}),
    },
    ...(plan.parent ? { parentBackupName: plan.parent.metadata?.name, incrementalChain: plan.chain } : {}),
    attempts: 0,
    failureReason: undefined,
    observedGeneration: b.metadata?.generation,
    conditions: setCondition(b.status?.conditions, { type: Condition.Validated, status: "True", reason: Reason.BackupStarted, message: "policy, tool, destination and target resolved" }, now),
  };
}

/** New datafile Backup, validated: set up the repo access, start attempt 0, go InProgress. */
export function startDatafile(b: Backup, plan: BackupPlan, now: Date, agentImage: string): BackupDecision {
  const d = plan.destination!;
  const tool = plan.tool!;
  const parent = plan.parent;
  // Plain files never reach an object store or an encrypted repo unsealed (plain-files.ts).
  const sealed = sealsPlainFiles(d.access);
  const access = sealed ? sealedLayout(d.access) : d.access;
  const env = toolEnv({
    backupName: b.metadata!.name!,
    filePath: plan.filePath,
    target: plan.target,
    secret: plan.secret,
    ttl: plan.policy.spec.retention?.ttl,
    access,
    tool,
    backupId: b.metadata?.uid,
    parent: parent
      ? { name: parent.metadata!.name!, dir: backupDirOf(parent.status?.manifests?.backupTool?.filePath ?? ""), checkpoint: parent.status?.manifests?.backupTool?.checkpoint }
      : undefined,
  });
  const command = parent ? tool.spec.incrementalBackupCommands! : tool.spec.backupCommands;
  // An incremental tool reads its parent's files at PARENT_BACKUP_DIR: unseal them there first,
  // checked against the parent's uid and recorded checksums (not this Backup's).
  const parentPath = parent?.status?.manifests?.backupTool?.filePath ?? "";
  const before = sealed && parent && dataFormatOf(parent) === BackupDataFormat.SealedPlainFiles
    ? [unsealContainer("unseal-parent", agentImage, backupDirOf(parentPath), parentPath.replace(/^\/+/, ""), access, integrityEnv(parent))]
    : [];
  const job = buildBackupJob({ backup: b, tool, target: plan.target, access, env, command, before, ...(sealed ? { sealImage: agentImage } : {}) }, 0);
  const prepare: BackupPrereq[] = [];
  if (d.claim) prepare.push({ kind: "ensureClaim", claim: d.claim });
  if (d.access.secretCopies.length) prepare.push({ kind: "copySecrets", copies: d.access.secretCopies });
  // Pre-stage status updates run first: the tool Job is created suspended and resumed after them.
  const pre = plan.section.name === "snapshot" ? [] : statusUpdatesOf(plan.section.policy, "pre");
  if (pre.length) job.spec!.suspend = true;
  return {
    prepare,
    creates: [owned(b, Kinds.Job, job), ...pre.map((u, i) => owned(b, Kinds.Job, buildStatusUpdateJob(b, u, "pre", i, job, plan.target)))],
    status: withStatus(b, startedStatus(b, plan, now, BackupPhase.InProgress)),
    events: [{ type: "Normal", reason: Reason.BackupStarted, message: `started ${parent ? "incremental " : ""}backup with BackupTool "${tool.metadata?.name}" ${plan.target ? `on pod ${plan.target.pod.metadata?.name}` : "without a target pod (targetless tool)"}: Job ${job.metadata?.name}` }],
  };
}

/** Validation outcome for a New Backup that is not ready to start. */
export function notStarted(b: Backup, v: Exclude<Validation, { kind: "ok" }>, now: Date): BackupDecision {
  if (v.kind === "fail") return failed(b, v.reason, v.message, now);
  const status = withStatus(b, { phase: BackupPhase.New, conditions: setCondition(b.status?.conditions, { type: Condition.Validated, status: "False", reason: v.reason, message: v.message }, now) });
  return { status, events: [{ type: "Normal", reason: v.reason, message: v.message }], requeueAfterMs: v.retryAfterMs };
}

export interface DatafileObservation {
  backup: Backup;
  /** The Job of the current attempt (status.attempts), if it exists. */
  job?: V1Job;
  /** Its pods, newest last. */
  pods: readonly V1Pod[];
  /** policy.spec.datafile.onFailAttempted (0 when the policy is gone). */
  onFailAttempted: number;
  podStartMs: number;
  /** backupStatusUpdates of each stage with their Jobs (index order). */
  pre?: readonly ObservedUpdate[];
  post?: readonly ObservedUpdate[];
  /** The target (from status.manifests.target), for post-stage Jobs. */
  target?: { pod: V1Pod; container: V1Container };
  hookMs?: number;
}

const jobCondition = (j: V1Job, type: string) => j.status?.conditions?.some((c) => c.type === type && c.status === "True");

/** The Job of the next attempt: the failed one's pod template under the next deterministic name. */
export function nextAttemptJob(failedJob: V1Job, backupName: string, attempt: number): V1Job {
  const labels = { ...(failedJob.metadata?.labels ?? {}) };
  const template = structuredClone(failedJob.spec!.template);
  // The API server adds these to the failed Job; the new Job gets its own.
  for (const k of ["controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"]) {
    delete template.metadata?.labels?.[k];
    delete labels[k];
  }
  delete template.spec?.nodeName;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: toolJobName(backupName, attempt), namespace: failedJob.metadata?.namespace, labels },
    spec: { backoffLimit: 0, template },
  };
}

/** InProgress datafile Backup: follow the current attempt's Job to Completed or Failed. */
export function decideDatafile(o: DatafileObservation, now: Date): BackupDecision {
  const b = o.backup;
  const name = b.metadata!.name!;
  const attempt = b.status?.attempts ?? 0;
  const jobName = toolJobName(name, attempt);
  const ns = b.metadata?.namespace;
  const job = o.job;
  if (!job) return failed(b, Reason.JobNotFound, `Job "${ns}/${jobName}" of the backup disappeared before it finished: create a new Backup`, now);
  const pod = o.pods[o.pods.length - 1];
  const hookMs = o.hookMs ?? 300_000;

  if (job.spec?.suspend) {
    const s = followStatusUpdates(name, "pre", o.pre ?? [], b.status ?? {}, hookMs, now);
    const stop = deletions(b, Kinds.Job, s.stop);
    if (!s.done) return { deletes: stop, requeueAfterMs: s.requeueAfterMs };
    return {
      status: withStatus(b, touched(s.status, o.pre ?? [])),
      // Unsuspends the tool Job once the status holds what the pre stage wrote.
      patches: [{ kind: Kinds.Job, name: jobName, namespace: ns, patch: { spec: { suspend: false } } }],
      deletes: stop,
      events: s.events,
    };
  }

  if (jobCondition(job, "Complete")) {
    const post = o.post ?? [];
    const missing = post.map((u, i) => (u.job ? undefined : buildStatusUpdateJob(b, u.update, "post", i, job, o.target))).filter((j): j is V1Job => !!j);
    if (missing.length) return { creates: missing.map((j) => owned(b, Kinds.Job, j)), requeueAfterMs: 1_000 };
    const d = completeDatafile(o, job, pod, now);
    // Post-stage results are merged on top of the completed (whole) status: they may refine it.
    const s = followStatusUpdates(name, "post", post, d.status!, hookMs, now);
    const stop = deletions(b, Kinds.Job, s.stop);
    if (!s.done) return { deletes: stop, requeueAfterMs: s.requeueAfterMs };
    return { ...d, deletes: stop, status: { ...d.status!, ...touched(s.status, post) }, events: [...s.events, ...(d.events ?? [])] };
  }

  if (jobCondition(job, "Failed")) {
    const why = (terminationMessageOf(pod) || terminationMessageOf(pod, SEAL_CONTAINER) || job.status?.conditions?.find((c) => c.type === "Failed")?.message || "the tool failed").trim().slice(-400);
    const failures = attempt + 1;
    if (failures <= o.onFailAttempted) {
      return {
        creates: [owned(b, Kinds.Job, nextAttemptJob(job, name, failures))],
        status: withStatus(b, { attempts: failures }),
        events: [{ type: "Warning", reason: Reason.AttemptFailed, message: `attempt ${failures} of ${o.onFailAttempted + 1} failed (Job ${jobName}: ${why}); starting attempt ${failures + 1}` }],
      };
    }
    const tries = o.onFailAttempted > 0 ? ` after ${failures} attempts` : "";
    const d = failed(b, toolFailureReason(why), `Job "${ns}/${jobName}" failed${tries}: ${why}`, now);
    d.status!.attempts = failures;
    return d;
  }

  // Running or starting: a pod that cannot start fails the backup after podStartMs (counted from the Job's start: it may have been suspended).
  const problem = pod ? podStartProblem(pod) : `Job ${jobName} has created no pod yet`;
  if (!problem) return {};
  const created = Date.parse(String(job.status?.startTime ?? job.metadata?.creationTimestamp ?? "")) || now.getTime();
  const left = created + o.podStartMs - now.getTime();
  if (left > 0) return { requeueAfterMs: Math.min(left, 5_000) };
  return { ...failed(b, Reason.PodCannotStart, `${problem} (for more than ${Math.round(o.podStartMs / 1000)}s): fix it and create a new Backup`, now), deletes: deletions(b, Kinds.Job, [jobName]) };
}

/**
 * Why a tool Job failed, from what it said: NoSpace when the repo or its volume was full (dp-agent's
 * and the kernel's words for it, and S3's quota answers), else JobFailed.
 */
export function toolFailureReason(said: string): Reason {
  return /\b(ENOSPC|EDQUOT|QuotaExceeded)\b|no space left on device|disk quota exceeded/i.test(said) ? Reason.NoSpace : Reason.JobFailed;
}

/** The top-level status keys the updates wrote (each path's first segment, or every key of a path-less result). */
export function touched(status: Partial<BackupStatus>, updates: readonly ObservedUpdate[]): Partial<BackupStatus> {
  const keys = updates.some((u) => !u.update.path?.trim()) ? Object.keys(status) : updates.map((u) => u.update.path!.trim().split(".")[0]);
  return Object.fromEntries(keys.filter((k) => k in status).map((k) => [k, (status as Record<string, unknown>)[k]])) as Partial<BackupStatus>;
}

function completeDatafile(o: DatafileObservation, job: V1Job, pod: V1Pod | undefined, now: Date): BackupDecision {
  const b = o.backup;
  const jobName = job.metadata?.name ?? "";
  // An import's objects are bound to the backup that wrote them: the manifest's id, as reported.
  const imported = b.spec.importFrom ? importOutcome(pod) : undefined;
  if (imported && !imported.ok) return failed(b, Reason.DataNotStored, `Job "${b.metadata?.namespace}/${jobName}" succeeded but ${imported.message}`, now);
  const data = dataOutcome(pod, imported?.ok ? imported.backupId : b.metadata?.uid);
  if (!data.ok) return failed(b, Reason.DataNotStored, `Job "${b.metadata?.namespace}/${jobName}" succeeded but ${data.message}: create a new Backup`, now);
  const start = Date.parse(b.status?.startTimestamp ?? "") || now.getTime();
  const done = job.status?.completionTime ? new Date(job.status.completionTime) : now;
  // An import's tool pod started now, not when the data was taken: no checkpoint of its own.
  const checkpoint = data.backupTool.checkpoint ?? (imported ? undefined : toolStartedAt(pod) ?? b.status?.startTimestamp);
  const size = data.totalSize;
  return {
    status: withStatus(b, {
      phase: BackupPhase.Completed,
      completionTimestamp: rfc3339(done),
      duration: formatDuration(done.getTime() - start),
      ...(size ? { totalSize: size } : {}),
      ...(imported?.ok ? { backupToolName: imported.toolName } : {}),
      failureReason: undefined,
      manifests: {
        ...b.status?.manifests,
        ...data.manifests,
        ...(data.manifests.userContext ? { userContext: { ...b.status?.manifests?.userContext, ...data.manifests.userContext } } : {}),
        backupTool: { ...b.status?.manifests?.backupTool, ...data.backupTool, ...(checkpoint ? { checkpoint } : {}), ...(imported?.ok ? { dataFormat: imported.format } : {}) },
      },
      conditions: setCondition(b.status?.conditions, { type: Condition.ToolJobSucceeded, status: "True", reason: Reason.BackupCompleted, message: `Job ${jobName} succeeded` }, now),
    }),
    events: [{ type: "Normal", reason: Reason.BackupCompleted, message: `${imported ? `imported backup ${imported.ok ? imported.backupId : ""} verified` : "backup completed"}${size ? `: ${size}` : ""}${data.format ? ` (${data.format})` : ""} in ${formatDuration(done.getTime() - start)} (Job ${jobName})` }],
  };
}

/** Deterministic names of the per-backup helper Jobs. */
export const helperJobName = (backupName: string, role: "delete" | "prehook" | "posthook" | string): string => childName(backupName, role);
