// Pure: BackupPolicy backupStatusUpdates. There is no `kubectl exec` on every cluster (nor on the
// local node), so each update runs as a short Job next to the target: the target container's
// image and env, the tool pod's volumes (target volumes + the repo), pinned to the target's node.
// A wrapper writes the script's stdout (JSON) to the termination message; the controller merges
// it into status at `path`. With no script, the Job prints $BACKUP_DIR/backup.info if the tool
// wrote one (KubeBlocks 0.6). Failures and timeouts raise Events and never fail or hang the backup.
import type { V1Container, V1EnvVar, V1EnvFromSource, V1Job, V1Pod } from "@kubernetes/client-node";
import type { Backup, BackupStatus, BackupStatusUpdate, CommonBackupPolicy } from "@dataprotection/api";
import { childName, type DecidedEvent } from "@dataprotection/runtime";
import { childLabels, TOOL_CONTAINER, toolSecurityContext } from "./job.ts";
import { Reason } from "./reasons.ts";
import { terminationMessageOf } from "./report.ts";

export type Stage = "pre" | "post";
export const STATUS_CONTAINER = "status";

/**
 * On success the script's stdout becomes the termination message; on failure it goes to the log,
 * which (FallbackToLogsOnError) then becomes the message with the script's stderr. Exit status kept.
 * No "$(": the kubelet would expand it.
 */
export const STATUS_SCRIPT_WRAPPER = 'out=`sh -c "$DP_STATUS_SCRIPT"`; rc=$?; if [ "$rc" -eq 0 ]; then printf "%s" "$out" > /dev/termination-log; else printf "%s\n" "$out"; fi; exit "$rc"';
/** No script: backup.info of the backup dir, if the tool wrote one (an empty message otherwise). */
export const BACKUP_INFO_READER = 'if [ -f "$BACKUP_DIR/backup.info" ]; then cat "$BACKUP_DIR/backup.info" > /dev/termination-log; fi';

export function statusUpdatesOf(section: Pick<CommonBackupPolicy, "backupStatusUpdates"> | undefined, stage: Stage): BackupStatusUpdate[] {
  return (section?.backupStatusUpdates ?? []).filter((u) => u.updateStage === stage);
}

export function statusJobName(backupName: string, stage: Stage, index: number): string {
  return childName(backupName, `status-${stage}-${index + 1}`);
}

/**
 * The Job of one update, from the tool Job's pod (volumes, mounts, node pinning, BACKUP_DIR, repo env)
 * with the target container's image and env in front, and the target pod's ServiceAccount when asked.
 */
export function buildStatusUpdateJob(b: Backup, u: BackupStatusUpdate, stage: Stage, index: number, toolJob: V1Job, target?: { pod: V1Pod; container: V1Container }): V1Job {
  const podSpec = structuredClone(toolJob.spec!.template.spec!);
  // The tool is an init container in the sealed layout (plain-files.ts): never run it again here.
  const tool = [...podSpec.containers, ...(podSpec.initContainers ?? [])].find((c) => c.name === TOOL_CONTAINER) ?? podSpec.containers[0];
  delete podSpec.initContainers;
  // A namespace user's script runs as the target's user, never with the root a tool asked for.
  podSpec.securityContext = toolSecurityContext(undefined, target?.pod, target?.container);
  const container = u.containerName ? target?.pod.spec?.containers.find((c) => c.name === u.containerName) ?? target?.container : target?.container;
  const script = u.script?.trim();
  const env: V1EnvVar[] = [...((container?.env ?? []) as V1EnvVar[]), ...(tool.env ?? [])];
  if (script) env.push({ name: "DP_STATUS_SCRIPT", value: script });
  const role = `status-${stage}`;
  const sa = u.useTargetPodServiceAccount ? target?.pod.spec?.serviceAccountName : undefined;
  delete podSpec.nodeName;
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: statusJobName(b.metadata!.name!, stage, index), namespace: b.metadata?.namespace, labels: childLabels(b, role) },
    spec: {
      backoffLimit: 0,
      template: {
        metadata: { labels: childLabels(b, role) },
        spec: {
          ...podSpec,
          restartPolicy: "Never",
          ...(sa ? { serviceAccountName: sa, automountServiceAccountToken: true } : { serviceAccountName: undefined, automountServiceAccountToken: false }),
          containers: [{
            name: STATUS_CONTAINER,
            image: script ? container?.image ?? tool.image : tool.image,
            command: ["sh", "-c", script ? STATUS_SCRIPT_WRAPPER : BACKUP_INFO_READER],
            env,
            envFrom: [...((container?.envFrom ?? []) as V1EnvFromSource[]), ...(tool.envFrom ?? [])],
            volumeMounts: tool.volumeMounts,
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
}

/** Deep-merges `value` into a copy of `status` at the dotted `path` ("" or absent: the status itself). */
export function mergeAtPath(status: Partial<BackupStatus>, path: string | undefined, value: Record<string, unknown>): Partial<BackupStatus> {
  const out = structuredClone(status) as Record<string, unknown>;
  const keys = (path ?? "").split(".").map((k) => k.trim()).filter(Boolean);
  let node = out;
  for (const k of keys) {
    const next = node[k];
    node[k] = next && typeof next === "object" && !Array.isArray(next) ? next : {};
    node = node[k] as Record<string, unknown>;
  }
  deepMerge(node, value);
  return out as Partial<BackupStatus>;
}

function deepMerge(into: Record<string, unknown>, from: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(from)) {
    const cur = into[k];
    if (v && typeof v === "object" && !Array.isArray(v) && cur && typeof cur === "object" && !Array.isArray(cur)) deepMerge(cur as Record<string, unknown>, v as Record<string, unknown>);
    else into[k] = v;
  }
}

export interface ObservedUpdate {
  update: BackupStatusUpdate;
  job?: V1Job;
  pods: readonly V1Pod[];
}

export type UpdatesState =
  | { done: false; requeueAfterMs: number; stop: string[] }
  | { done: true; status: Partial<BackupStatus>; events: DecidedEvent[]; stop: string[] };

const jobIs = (j: V1Job, type: string) => j.status?.conditions?.some((c) => c.type === type && c.status === "True");
const ageMs = (j: V1Job, now: Date) => now.getTime() - (Date.parse(String(j.metadata?.creationTimestamp ?? "")) || now.getTime());

/**
 * Follows one stage's Jobs: done when each finished or outlived hookMs. Results are merged into
 * `status` in order; a failure, a timeout or output that is not a JSON object only raises a Warning.
 * `stop` names Jobs to delete (timed out).
 */
export function followStatusUpdates(backupName: string, stage: Stage, observed: readonly ObservedUpdate[], status: Partial<BackupStatus>, hookMs: number, now: Date): UpdatesState {
  const stop: string[] = [];
  let pending = false;
  for (const o of observed) {
    if (!o.job) return { done: false, requeueAfterMs: 1_000, stop: [] };
    if (jobIs(o.job, "Complete") || jobIs(o.job, "Failed")) continue;
    if (ageMs(o.job, now) > hookMs) stop.push(o.job.metadata!.name!);
    else pending = true;
  }
  // Timed-out Jobs are stopped only with the stage's outcome: a Job deleted earlier would look never created.
  if (pending) return { done: false, requeueAfterMs: 1_000, stop: [] };
  let merged = status;
  const events: DecidedEvent[] = [];
  observed.forEach((o, i) => {
    const what = `backupStatusUpdates ${stage} #${i + 1}${o.update.path ? ` (path ${o.update.path})` : ""}, Job ${statusJobName(backupName, stage, i)}`;
    const message = terminationMessageOf(o.pods[o.pods.length - 1], STATUS_CONTAINER).trim();
    if (stop.includes(o.job!.metadata!.name!)) {
      events.push({ type: "Warning", reason: Reason.StatusUpdateFailed, message: `${what} did not finish within ${Math.round(hookMs / 1000)}s: stopped, status not updated` });
    } else if (jobIs(o.job!, "Failed")) {
      events.push({ type: "Warning", reason: Reason.StatusUpdateFailed, message: `${what} failed: ${message.slice(-300) || "exit status non-zero"}; status not updated` });
    } else if (!message) {
      if (o.update.script) events.push({ type: "Warning", reason: Reason.StatusUpdateFailed, message: `${what} printed nothing: the script must print a JSON object` });
    } else {
      const value = parseObject(message);
      if (!value) events.push({ type: "Warning", reason: Reason.StatusUpdateFailed, message: `${what} printed no JSON object (${message.slice(0, 200)}): fix the script` });
      else {
        merged = mergeAtPath(merged, o.update.path, value);
        events.push({ type: "Normal", reason: Reason.StatusUpdated, message: `${what} merged into status` });
      }
    }
  });
  return { done: true, status: merged, events, stop };
}

function parseObject(s: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(s);
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
