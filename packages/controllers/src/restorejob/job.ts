// Pure builders: the verification Job, the physical restore Job and the per-pod
// logical restore Jobs of a RestoreJob. Steps run in plan order as init containers,
// the last one as the main container, so a Job is one ordered, retryable unit.
import type { V1Container, V1EnvVar, V1Job, V1Pod, V1PodSpec, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { ROOT_SECURITY_CONTEXT, runsAsRoot, toolImage, toolServiceAccount } from "../backup/job.ts";
import { BackupDataFormat, LabelRestoreJob, LabelRestoreStage, LabelTargetPod, type Backup, type BackupTool, type RestoreJob } from "@dataprotection/api";
import { dataFormatOf, sealedLayout, unsealContainer } from "../backup/plain-files.ts";
import { childName, labelValue, setControllerReference, type KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { RepoAccess } from "../backuprepo/access.ts";
import { backupDirOf, backupFilePath, integrityEnv, toolEnv } from "../backup/env.ts";
import { commandsOf, hasSealedSteps, type RestoreMode, type RestorePlan, type RestoreStep } from "./plan.ts";
import { iso, startTimeOf } from "./pitr.ts";
import { EXIT_STORAGE_UNREACHABLE } from "@dataprotection/storage";
import { ARCHIVE_INTERVAL_CONTEXT_KEY } from "../backup/logfile.ts";

export const verifyJobName = (rj: RestoreJob): string => childName(rj.metadata.name ?? "", "verify");
export const physicalJobName = (rj: RestoreJob): string => childName(rj.metadata.name ?? "", "restore");
export const logicalJobName = (rj: RestoreJob, pod: string): string => childName(rj.metadata.name ?? "", `logic-${pod}`);

/** "/<namespace>/<backup>" as recorded by the backup (either spelling), else the KubeBlocks default. */
function filePathOf(b: Backup): string {
  const p = b.status?.manifests?.backupTool?.filePath;
  if (!p) return backupFilePath(b.metadata.namespace ?? "", b.metadata.name ?? "");
  return `/${p.replace(/^\/+|\/+$/g, "")}`;
}

/** The point-in-time variables (KubeBlocks 0.6 names) for every step of a PITR plan. */
function pitrEnv(plan: RestorePlan): V1EnvVar[] {
  if (!plan.pitr) return [];
  const { time, base } = plan.pitr;
  const env: V1EnvVar[] = [
    { name: "KB_RECOVERY_TIME", value: iso(time) },
    { name: "KB_RECOVERY_TIMESTAMP", value: String(Math.floor(time.getTime() / 1000)) },
  ];
  const start = startTimeOf(base);
  if (start) env.push({ name: "BACKUP_START_TIME", value: iso(start) });
  env.push({ name: "BASE_BACKUP_NAME", value: base.metadata.name ?? "" }, { name: "BASE_BACKUP_DIR", value: backupDirOf(filePathOf(base)) });
  for (const [k, v] of Object.entries(base.status?.manifests?.userContext ?? {})) env.push({ name: k.toUpperCase(), value: v });
  // The log's archive interval (recorded when it started): how late a finished log file may have been pushed.
  const interval = plan.pitr.log.status?.manifests?.userContext?.[ARCHIVE_INTERVAL_CONTEXT_KEY];
  if (interval) env.push({ name: "ARCHIVE_INTERVAL", value: interval });
  return env;
}

export function jobShell(rj: RestoreJob, name: string, stage: string, labels: Record<string, string>, containers: V1Container[], volumes: V1Volume[], extra: Partial<NonNullable<V1Job["spec"]>["template"]["spec"]> = {}): V1Job {
  const allLabels = { [LabelRestoreJob]: labelValue(rj.metadata.name ?? ""), [LabelRestoreStage]: stage, ...labels };
  const main = containers[containers.length - 1]!;
  const job: V1Job & { metadata: NonNullable<V1Job["metadata"]> } = {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: rj.metadata.namespace, labels: allLabels },
    spec: {
      backoffLimit: rj.spec.onFailAttempted ?? 0,
      template: {
        metadata: { labels: allLabels },
        spec: {
          restartPolicy: "Never",
          ...extra,
          initContainers: containers.length > 1 ? containers.slice(0, -1) : undefined,
          containers: [main],
          volumes,
        },
      },
    },
  };
  return setControllerReference(job, rj as RestoreJob & KubeObject, Kinds.RestoreJob);
}

/**
 * One container per backup, writing nothing: `dp-agent verify` reads every chunk of a backup's
 * objects and checks every checksum; `dp-agent verify-files` checks plain files kept in the repo
 * against the checksum the Backup's status recorded (the API server is the trust anchor).
 */
export function buildVerifyJob(rj: RestoreJob, plan: RestorePlan, access: RepoAccess, agentImage: string): V1Job {
  const containers: V1Container[] = plan.verify.map((b, i) => ({
    name: `verify-${i}`,
    image: agentImage,
    command: dataFormatOf(b) === BackupDataFormat.PlainFiles
      ? ["dp-agent", "verify-files", backupDirOf(filePathOf(b)), "--expect", b.status?.manifests?.backupTool?.checksum ?? "none recorded"]
      : ["dp-agent", "verify"],
    env: [
      { name: "BACKUP_NAME", value: b.metadata.name ?? "" },
      { name: "BACKUP_DIR", value: backupDirOf(filePathOf(b)) },
      ...access.env,
      { name: "DP_BACKUP_PATH", value: filePathOf(b).slice(1) },
      ...integrityEnv(b),
    ],
    volumeMounts: access.volumeMounts,
    terminationMessagePolicy: "FallbackToLogsOnError",
  }));
  const job = jobShell(rj, verifyJobName(rj), "verify", {}, containers, access.volumes);
  // Verification touches nothing, so a repo that could not be reached (dp-agent exit 75) is
  // tried again; any other failure (the data is wrong) fails the Job at once.
  job.spec!.backoffLimit = Math.max(job.spec!.backoffLimit ?? 0, VERIFY_UNREACHABLE_RETRIES);
  job.spec!.podFailurePolicy = { rules: [{ action: "FailJob", onExitCodes: { operator: "NotIn", values: [EXIT_STORAGE_UNREACHABLE] } }] };
  return job;
}

/** How many more verify pods a Job runs when the repo could not be reached. */
export const VERIFY_UNREACHABLE_RETRIES = 3;

/**
 * One restore step. `workload`: the pod spec whose first container's image a tool with an empty
 * image runs (toolImage): the target StatefulSet's pod template, or the pod of a logical restore.
 */
export function stepContainer(rj: RestoreJob, plan: RestorePlan, step: RestoreStep, i: number, mode: RestoreMode, access: RepoAccess, mounts: V1VolumeMount[], target?: { pod: V1Pod; container: V1Container }, workload?: Pick<V1PodSpec, "containers">): V1Container {
  const tool: BackupTool = step.tool;
  const env = toolEnv({
    backupName: step.backup.metadata.name ?? "",
    filePath: filePathOf(step.backup),
    target,
    secret: rj.spec.target.secret,
    access,
    tool,
    // The step's own Backup: DP_BACKUP_ID and the checksums its status recorded.
    extra: [...pitrEnv(plan), { name: "DP_RESTORE_STEP", value: step.kind }, { name: "DP_RESTORE_JOB_NAME", value: rj.metadata?.name ?? "" }, ...integrityEnv(step.backup)],
  });
  return {
    name: `restore-${i}`,
    image: toolImage(tool, workload ?? target?.pod.spec),
    ...shellCommand(commandsOf(step, mode)),
    env,
    envFrom: tool.spec.envFrom as V1Container["envFrom"],
    resources: tool.spec.resources as V1Container["resources"],
    volumeMounts: [...mounts, ...access.volumeMounts],
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

/**
 * How a restore command list runs. A list that is itself a shell invocation (["sh", "-c",
 * SCRIPT, ...], the form KubeBlocks 0.6 tools use for backupCommands) runs as it is; anything
 * else is a list of script lines, run in order by one `sh -c`. (Joining a shell invocation into
 * lines would run a bare `sh`, then "-c", then the script.)
 */
export function shellCommand(commands: readonly string[]): Pick<V1Container, "command" | "args"> {
  if (commands.length >= 3 && /^(\/usr)?(\/bin\/)?(sh|bash|dash|ash)$/.test(commands[0]!) && commands[1] === "-c") return { command: [...commands] };
  return { command: ["sh", "-c"], args: [commands.join("\n")] };
}

/** Root for tools annotated run-as-root (any step's); otherwise the image's user. */
function restoreSecurityContext(plan: RestorePlan): Partial<NonNullable<V1Job["spec"]>["template"]["spec"]> {
  return plan.steps.some((s) => runsAsRoot(s.tool)) ? { securityContext: { ...ROOT_SECURITY_CONTEXT } } : {};
}

/**
 * The repo access of a restore pod and the containers that run before its steps: with sealed
 * plain files, the sealed layout (plain-files.ts) and one unseal container per sealed backup.
 */
function restoreLayout(plan: RestorePlan, repoAccess: RepoAccess, agentImage: string): { access: RepoAccess; unseal: V1Container[] } {
  if (!hasSealedSteps(plan)) return { access: repoAccess, unseal: [] };
  const access = sealedLayout(repoAccess);
  const unseal = plan.steps
    .filter((s) => dataFormatOf(s.backup) === BackupDataFormat.SealedPlainFiles)
    .map((s, i) => unsealContainer(`unseal-${i}`, agentImage, backupDirOf(filePathOf(s.backup)), filePathOf(s.backup).slice(1), access, integrityEnv(s.backup)));
  return { access, unseal };
}

/**
 * The physical restore: targetVolumes mounted at targetVolumeMounts plus the backup volume.
 * `workload`: the target StatefulSet's pod template spec (the image of a tool whose image is empty).
 */
export function buildPhysicalJob(rj: RestoreJob, plan: RestorePlan, repoAccess: RepoAccess, agentImage: string, workload?: Pick<V1PodSpec, "containers">): V1Job {
  const { access, unseal } = restoreLayout(plan, repoAccess, agentImage);
  const mounts = (rj.spec.targetVolumeMounts ?? []) as V1VolumeMount[];
  const containers = [...unseal, ...plan.steps.map((s, i) => stepContainer(rj, plan, s, i, "physical", access, mounts, undefined, workload))];
  const volumes = [...((rj.spec.targetVolumes ?? []) as V1Volume[]), ...access.volumes];
  return jobShell(rj, physicalJobName(rj), "physical", {}, containers, volumes, { ...toolServiceAccount(plan.steps[plan.steps.length - 1]!.tool), ...restoreSecurityContext(plan) });
}

/**
 * The logical restore into one running target pod: on its node, DB_HOST = its IP,
 * credentials from target.secret, and its PVC volumes at its container's mount paths.
 */
export function buildLogicalJob(rj: RestoreJob, plan: RestorePlan, repoAccess: RepoAccess, pod: V1Pod, agentImage: string): V1Job {
  const { access, unseal } = restoreLayout(plan, repoAccess, agentImage);
  const container = pod.spec?.containers[0] ?? { name: "main" };
  const pvcVolumes = (pod.spec?.volumes ?? []).filter((v) => v.persistentVolumeClaim);
  const names = new Set(pvcVolumes.map((v) => v.name));
  const mounts = (container.volumeMounts ?? []).filter((m) => names.has(m.name));
  const containers = [...unseal, ...plan.steps.map((s, i) => stepContainer(rj, plan, s, i, "logical", access, mounts, { pod, container }))];
  const podName = pod.metadata?.name ?? "";
  return jobShell(rj, logicalJobName(rj, podName), "logical", { [LabelTargetPod]: labelValue(podName) }, containers, [...pvcVolumes, ...access.volumes], {
    nodeName: pod.spec?.nodeName,
    ...toolServiceAccount(plan.steps[plan.steps.length - 1]!.tool),
    ...restoreSecurityContext(plan),
  });
}
