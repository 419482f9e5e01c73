// Pure: the pre-check Job of a filesystem repo (write, read back and delete a probe
// file on the repo PVC) and what its state means.
import type { V1Job } from "@kubernetes/client-node";
import type { BackupRepo } from "@dataprotection/api";
import { BACKUP_MOUNT_PATH, type RepoAccess } from "./access.ts";
import { LabelPreCheckGeneration, preCheckJobName, repoLabels } from "./names.ts";

const PROBE_SCRIPT = [
  "set -eu",
  `f="${BACKUP_MOUNT_PATH}/.dp-precheck-$(date +%s)-$$"`,
  'printf "dataprotection pre-check" > "$f" || { echo "cannot write $f" >&2; exit 1; }',
  'test "$(cat "$f")" = "dataprotection pre-check" || { echo "read back of $f differs from what was written" >&2; exit 1; }',
  'rm -f "$f" || { echo "cannot delete $f" >&2; exit 1; }',
  'echo "pre-check passed"',
].join("\n");

export function buildPreCheckJob(repo: BackupRepo, access: RepoAccess, namespace: string, image: string, deadlineSeconds: number): V1Job {
  const repoName = repo.metadata?.name ?? "";
  const gen = repo.metadata?.generation ?? 0;
  const labels = { ...repoLabels(repoName), [LabelPreCheckGeneration]: String(gen) };
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: preCheckJobName(repoName, gen), namespace, labels },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: deadlineSeconds,
      template: {
        metadata: { labels },
        spec: {
          restartPolicy: "Never",
          volumes: access.volumes,
          containers: [{
            name: "precheck",
            image,
            command: ["sh", "-c", PROBE_SCRIPT],
            env: access.env,
            volumeMounts: access.volumeMounts,
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
}

export type PreCheckOutcome =
  | { state: "running"; remainingMs: number }
  | { state: "passed" }
  | { state: "failed"; timedOut: boolean; message: string };

/** Reads a pre-check Job; `podMessage` is the failed container's termination message if known. */
export function preCheckOutcome(job: V1Job, nowMs: number, timeoutMs: number, podMessage?: string): PreCheckOutcome {
  const conds = job.status?.conditions ?? [];
  const done = (t: string) => conds.some((c) => c.type === t && c.status === "True");
  if (done("Complete") || (job.status?.succeeded ?? 0) > 0) return { state: "passed" };
  const failed = conds.find((c) => c.type === "Failed" && c.status === "True");
  if (failed) {
    const timedOut = failed.reason === "DeadlineExceeded";
    return { state: "failed", timedOut, message: podMessage?.trim() || failed.message || failed.reason || "the pre-check Job failed" };
  }
  const created = Date.parse(String(job.metadata?.creationTimestamp ?? "")) || nowMs;
  const remainingMs = created + timeoutMs - nowMs;
  if (remainingMs <= 0) return { state: "failed", timedOut: true, message: `the pre-check Job did not finish within ${Math.round(timeoutMs / 1000)}s` };
  return { state: "running", remainingMs };
}
