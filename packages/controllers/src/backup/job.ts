// Pure builders: the pod that runs a BackupTool next to its target, wrapped in a Job
// (datafile) or reused by the logfile StatefulSet. See docs/execution-contract.md.
import type { V1Container, V1EnvVar, V1Job, V1PodSpec, V1PodTemplateSpec, V1Volume, V1VolumeMount, V1Pod, V1ResourceRequirements, V1EnvFromSource } from "@kubernetes/client-node";
import { AnnotationRunAsRoot, LabelBackupName, LabelBackupUID, LabelJobRole, LabelManagedBy, ManagedBy, type Backup, type BackupTool } from "@dataprotection/api";
import { childName, labelValue } from "@dataprotection/runtime";
import type { RepoAccess } from "../backuprepo/access.ts";
import { PLAIN_FILES_MARKER, sealContainer } from "./plain-files.ts";

export { AnnotationRunAsRoot, LabelBackupName, LabelBackupUID };

/** The pod security context of a tool annotated run-as-root. */
export const ROOT_SECURITY_CONTEXT = { runAsUser: 0, runAsNonRoot: false } as const;

export function runsAsRoot(tool: BackupTool): boolean {
  return tool.metadata?.annotations?.[AnnotationRunAsRoot] === "true";
}
/**
 * The image a tool's container runs: BackupTool.spec.image, or when that is empty (the KubeBlocks
 * 0.6 pitr tools ship `image: ""`) the image of the target's first container, as KubeBlocks 0.6
 * does: the Backup's target pod, a restore's target workload (its pod template, or the pod a
 * logical restore runs against). Undefined when the tool has none and there is no target to take
 * it from; the Backup and RestoreJob controllers fail before building a Job then.
 */
export function toolImage(tool: BackupTool, target: Pick<V1PodSpec, "containers"> | undefined): string | undefined {
  return tool.spec.image || target?.containers?.[0]?.image || undefined;
}

/** uid tool pods run as when neither the target nor the tool names one. */
export const DEFAULT_TOOL_UID = 65532;
export const TOOL_CONTAINER = "backup";
const SA_TOKEN_PATH = "/var/run/secrets/kubernetes.io/serviceaccount";

/** Deterministic Job name of attempt n (0-based): a restarted operator finds it, never a twin. */
export function toolJobName(backupName: string, attempt: number): string {
  return childName(backupName, `backup-${attempt + 1}`);
}

export function childLabels(backup: Backup, role: string): Record<string, string> {
  return { [LabelManagedBy]: ManagedBy, [LabelBackupName]: labelValue(backup.metadata?.name ?? ""), [LabelJobRole]: role };
}

/**
 * Runs the tool's command unchanged ("$@"); when it succeeded without leaving a
 * termination message (a tool writing plain files into BACKUP_DIR instead of using
 * dp-agent), reports the files' total size, a sha256 over them (`sha256sum` lines, sorted: what
 * `dp-agent verify-files` recomputes before a restore), up to 40 names, and backup.info (base64,
 * when at most 1536 bytes) as KubeBlocks 0.6 tools write it. It also leaves PLAIN_FILES_MARKER,
 * which tells the seal container (plain-files.ts) to store the files when BACKUP_DIR is scratch.
 * No "$$" and no "$(NAME)": the kubelet would expand them (so backticks, inside which "\\" is "\").
 */
export const PLAIN_FILES_REPORT = [
  '"$@"',
  "rc=$?",
  "t=/dev/termination-log",
  'if [ "$rc" -eq 0 ] && [ -d "$BACKUP_DIR" ] && ! [ -s "$t" ]; then',
  '  cd "$BACKUP_DIR" || exit "$rc"',
  "  IFS='\n'",
  "  total=0; names=''; n=0",
  "  for f in `find . -type f | sed 's|^\\./||' | LC_ALL=C sort`; do",
  "    s=`wc -c < \"$f\" | tr -d ' '`; total=`expr \"$total\" + \"$s\"`",
  "    n=`expr \"$n\" + 1`",
  "    if [ \"$n\" -le 40 ] && [ ${#names} -lt 1200 ]; then q=`printf '%s' \"$f\" | sed 's/[\\\\\\\\\"]/\\\\\\\\&/g'`; names=\"$names${names:+,}\\\"$q\\\"\"; fi",
  "  done",
  "  sum=`find . -type f | sed 's|^\\./||' | LC_ALL=C sort | while read -r f; do sha256sum \"$f\"; done | sha256sum | cut -d' ' -f1`",
  "  info=''",
  "  if [ -f backup.info ] && [ `wc -c < backup.info` -le 1536 ]; then info=`base64 < backup.info | tr -d '\\n'`; fi",
  "  printf '{\"totalSize\":%s,\"checksum\":\"sha256:%s\",\"files\":[%s],\"plainFiles\":true,\"backupInfo\":\"%s\"}' \"$total\" \"$sum\" \"$names\" \"$info\" > \"$t\"",
  `  if [ -n "$DP_SEAL_PLAIN_FILES" ]; then cp "$t" "${PLAIN_FILES_MARKER}" 2>/dev/null || true; fi`,
  "fi",
  'exit "$rc"',
].join("\n");

export function wrapToolCommand(command: readonly string[]): string[] {
  return ["sh", "-c", PLAIN_FILES_REPORT, "dp-tool", ...command];
}

/** The target's volumes minus service-account token volumes (the tool pod gets none). */
function targetVolumes(pod: V1Pod): V1Volume[] {
  return (pod.spec?.volumes ?? []).filter((v) => !v.projected?.sources?.some((s) => s.serviceAccountToken));
}

function targetMounts(pod: V1Pod, container: V1Container): V1VolumeMount[] {
  const names = new Set(targetVolumes(pod).map((v) => v.name));
  return (container.volumeMounts ?? []).filter((m) => names.has(m.name) && m.mountPath !== SA_TOKEN_PATH);
}

/** Pins a pod to one node through the scheduler (so an unschedulable pod is reported, not stuck). */
export function nodeAffinity(node: string): NonNullable<V1PodSpec["affinity"]> {
  return {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchFields: [{ key: "metadata.name", operator: "In", values: [node] }] }],
      },
    },
  };
}

export interface ToolPodInput {
  backup: Backup;
  tool: BackupTool;
  /** Absent for a targetless tool (BackupTool.spec.targetless): no target volumes, no node pinning. */
  target?: { pod: V1Pod; container: V1Container };
  access: RepoAccess;
  env: V1EnvVar[];
  command: readonly string[];
  role: string;
  /** Restart policy of the pod: Never for Jobs, Always for the logfile StatefulSet. */
  restartPolicy: "Never" | "Always";
  /** The sealed layout (plain-files.ts): the tool runs as an init container, then dp-agent (this image) seals BACKUP_DIR. */
  sealImage?: string;
  /** Containers that run before the tool (unsealing a sealed parent's files for an incremental tool). */
  before?: V1Container[];
}

/** The env the seal container needs: the repo's, and where the backup's files and objects are. */
const SEAL_ENV = new Set(["BACKUP_NAME", "BACKUP_DIR", "DP_BACKUP_PATH", "DP_BACKUP_ID", "DP_TOOL"]);

/** Tool pods run non-root: as the target's user when it has one, else 65532, unless the tool asks for root. */
export function toolSecurityContext(tool: BackupTool | undefined, pod: V1Pod | undefined, container: V1Container | undefined): V1PodSpec["securityContext"] {
  if (tool && runsAsRoot(tool)) return { ...ROOT_SECURITY_CONTEXT };
  const uid = container?.securityContext?.runAsUser ?? pod?.spec?.securityContext?.runAsUser ?? DEFAULT_TOOL_UID;
  const gid = container?.securityContext?.runAsGroup ?? pod?.spec?.securityContext?.runAsGroup;
  const sc: NonNullable<V1PodSpec["securityContext"]> = { runAsNonRoot: uid !== 0, runAsUser: uid };
  if (gid !== undefined) sc.runAsGroup = gid;
  const fsGroup = pod?.spec?.securityContext?.fsGroup;
  if (fsGroup !== undefined) sc.fsGroup = fsGroup;
  return sc;
}

/**
 * The identity of a tool pod: BackupTool.spec.serviceAccountName (of the pod's namespace) with
 * its token mounted, or no token at all. RestoreJob's Job builder uses it too.
 */
export function toolServiceAccount(tool: BackupTool): Pick<V1PodSpec, "serviceAccountName" | "automountServiceAccountToken"> {
  const sa = tool.spec.serviceAccountName;
  return sa ? { serviceAccountName: sa, automountServiceAccountToken: true } : { automountServiceAccountToken: false };
}

export function buildToolPodTemplate(i: ToolPodInput): V1PodTemplateSpec {
  const pod = i.target?.pod;
  const container = i.target?.container;
  const node = pod?.spec?.nodeName;
  const tool: V1Container = {
    name: TOOL_CONTAINER,
    image: toolImage(i.tool, pod?.spec),
    imagePullPolicy: "IfNotPresent",
    command: wrapToolCommand(i.command),
    env: i.env,
    envFrom: (i.tool.spec.envFrom ?? []) as V1EnvFromSource[],
    resources: (i.tool.spec.resources ?? {}) as V1ResourceRequirements,
    volumeMounts: [...(pod && container ? targetMounts(pod, container) : []), ...i.access.volumeMounts],
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
  const spec: V1PodSpec = {
    restartPolicy: i.restartPolicy,
    ...toolServiceAccount(i.tool),
    securityContext: toolSecurityContext(i.tool, pod, container),
    volumes: [...(pod ? targetVolumes(pod) : []), ...i.access.volumes],
    tolerations: pod?.spec?.tolerations,
    ...(i.sealImage
      ? { initContainers: [...(i.before ?? []), tool], containers: [sealContainer(i.sealImage, [...i.access.env, ...i.env.filter((e) => SEAL_ENV.has(e.name))], i.access)] }
      : { ...(i.before?.length ? { initContainers: i.before } : {}), containers: [tool] }),
  };
  if (node) spec.affinity = nodeAffinity(node);
  return { metadata: { labels: childLabels(i.backup, i.role) }, spec };
}

/** The datafile Job: one pod, no Job-level retries (onFailAttempted makes new attempts). */
export function buildBackupJob(i: Omit<ToolPodInput, "restartPolicy" | "role">, attempt: number): V1Job {
  const name = toolJobName(i.backup.metadata!.name!, attempt);
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name, namespace: i.backup.metadata?.namespace, labels: childLabels(i.backup, "tool") },
    spec: {
      backoffLimit: 0,
      template: buildToolPodTemplate({ ...i, role: "tool", restartPolicy: "Never" }),
    },
  };
}
