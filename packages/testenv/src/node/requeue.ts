// Pure: which claims to touch so the scheduler looks again at a pod it gave up on.
//
// kube-scheduler (1.34) can park a pod as "unbound immediate PersistentVolumeClaims" for good:
// the claim's Bound update wakes the pod, but the scheduler's volume cache may not hold that
// update yet when the pod is retried, and no later event wakes it (only the 5-minute flush).
// A real cluster hides this behind slower provisioning; here PVs bind in milliseconds. Touching
// a claim the pod uses is an event the VolumeBinding plugin always re-queues the pod for.
import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";

export const ANN_REQUEUE = "testenv.dataprotection.local/scheduler-requeue";
/** A pod must look stuck this long before its claims are touched, and between touches. */
export const REQUEUE_AFTER_MS = 3000;

export interface RequeueMemory {
  /** pod uid -> when it was first seen stuck with all its claims bound, and when last touched. */
  stuck: Map<string, { since: number; touched?: number }>;
}

export function newRequeueMemory(): RequeueMemory {
  return { stuck: new Map() };
}

/** The claims a pod uses; a generic ephemeral volume's claim is named `<pod>-<volume>`. */
function claimNames(pod: V1Pod): string[] {
  return (pod.spec?.volumes ?? []).flatMap((v) => {
    if (v.persistentVolumeClaim) return [v.persistentVolumeClaim.claimName];
    if (v.ephemeral) return [`${pod.metadata!.name}-${v.name}`];
    return [];
  });
}

function unschedulable(pod: V1Pod): boolean {
  if (pod.spec?.nodeName || pod.metadata?.deletionTimestamp) return false;
  const c = pod.status?.conditions?.find((x) => x.type === "PodScheduled");
  return c?.status === "False" && c.reason === "Unschedulable";
}

/**
 * The claims (namespace/name) to touch now. `memory` is updated: pods no longer stuck are
 * forgotten, so a pod that schedules and a new one with the same claims start over.
 */
export function claimsToRequeue(pods: V1Pod[], pvcs: V1PersistentVolumeClaim[], memory: RequeueMemory, now: number): string[] {
  const bound = new Set(pvcs.filter((p) => p.status?.phase === "Bound").map((p) => `${p.metadata!.namespace}/${p.metadata!.name}`));
  const out = new Set<string>();
  const current = new Set<string>();
  for (const pod of pods) {
    const claims = claimNames(pod).map((c) => `${pod.metadata!.namespace}/${c}`);
    if (!unschedulable(pod) || claims.length === 0 || !claims.every((c) => bound.has(c))) continue;
    const uid = pod.metadata!.uid!;
    current.add(uid);
    const m = memory.stuck.get(uid) ?? { since: now };
    memory.stuck.set(uid, m);
    if (now - m.since < REQUEUE_AFTER_MS || (m.touched !== undefined && now - m.touched < REQUEUE_AFTER_MS)) continue;
    m.touched = now;
    for (const c of claims) out.add(c);
  }
  for (const uid of memory.stuck.keys()) if (!current.has(uid)) memory.stuck.delete(uid);
  return [...out].sort();
}
