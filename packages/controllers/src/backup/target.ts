// Pure: which pod a Backup reads from.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import { AnnotationTargetPodName, type Backup, type BackupPolicy, type LabelSelector } from "@dataprotection/api";
import { matchesSelector } from "@dataprotection/runtime";

/** Labels that mark the primary/leader replica of a database (KubeBlocks and common charts). */
export const ROLE_LABELS = ["kubeblocks.io/role", "apps.kubeblocks.io/role", "role", "app.kubernetes.io/role"] as const;
const PRIMARY_ROLES = new Set(["primary", "leader", "master"]);

export type TargetSelection =
  | { ok: true; pod: V1Pod; container: V1Container }
  | { ok: false; message: string };

function usable(p: V1Pod): boolean {
  return !p.metadata?.deletionTimestamp && p.status?.phase === "Running" && !!p.spec?.nodeName;
}

function isPrimary(p: V1Pod): boolean {
  const l = p.metadata?.labels ?? {};
  return ROLE_LABELS.some((k) => PRIMARY_ROLES.has((l[k] ?? "").toLowerCase()));
}

/** The pinned pod name: the Backup's annotation wins over the policy's. */
export function pinnedPodName(backup: Backup, policy: BackupPolicy): string | undefined {
  return backup.metadata?.annotations?.[AnnotationTargetPodName] || policy.metadata?.annotations?.[AnnotationTargetPodName] || undefined;
}

/**
 * The target pod among `pods` (the Backup's namespace): the pinned one if named, else the
 * Running pods matching the selector, a primary/leader first, then by name (KubeBlocks order).
 * `containerName` picks the container (hooks name one); the first container otherwise.
 */
export function selectTargetPod(pods: readonly V1Pod[], selector: LabelSelector, pinned?: string, containerName?: string): TargetSelection {
  const sel = selectorText(selector);
  let pod: V1Pod | undefined;
  if (pinned) {
    pod = pods.find((p) => p.metadata?.name === pinned);
    if (!pod) return { ok: false, message: `target pod "${pinned}" (annotation ${AnnotationTargetPodName}) not found: create it or fix the annotation` };
    if (!usable(pod)) return { ok: false, message: `target pod "${pinned}" is not Running (phase ${pod.status?.phase ?? "unknown"})` };
  } else {
    const matching = pods.filter((p) => matchesSelector(p.metadata?.labels, selector));
    const running = matching.filter(usable).sort((a, b) => (a.metadata!.name! < b.metadata!.name! ? -1 : 1));
    if (running.length === 0) {
      const why = matching.length === 0 ? "no pod matches" : `${matching.length} pod(s) match but none is Running`;
      return { ok: false, message: `${why} target.labelsSelector {${sel}}: start the workload or fix the BackupPolicy's target.labelsSelector` };
    }
    pod = running.find(isPrimary) ?? running[0];
  }
  const containers = pod.spec?.containers ?? [];
  const container = containerName ? containers.find((c) => c.name === containerName) : containers[0];
  if (!container) return { ok: false, message: `target pod "${pod.metadata?.name}" has no container "${containerName ?? ""}"` };
  return { ok: true, pod, container };
}

function selectorText(s: LabelSelector): string {
  const parts = Object.entries(s.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of s.matchExpressions ?? []) parts.push(`${e.key} ${e.operator} ${(e.values ?? []).join(",")}`.trim());
  return parts.join(", ");
}

/** status.sourceCluster: the workload instance the pod belongs to. */
export function sourceClusterOf(pod: V1Pod): string {
  const l = pod.metadata?.labels ?? {};
  return l["app.kubernetes.io/instance"] ?? l["apps.kubeblocks.io/cluster"] ?? pod.metadata?.name ?? "";
}

/** status.manifests.target: what was backed up, as JSON. */
export function targetManifest(pod: V1Pod, container: V1Container): string {
  return JSON.stringify({
    namespace: pod.metadata?.namespace,
    podName: pod.metadata?.name,
    containerName: container.name,
    nodeName: pod.spec?.nodeName,
    podIP: pod.status?.podIP,
    image: container.image,
  });
}
