// Pure: status conditions as Kubernetes keeps them. The one helper every controller uses:
// lastTransitionTime changes only when `status` changes (not on a new reason or message), and is
// written as RFC 3339 with seconds, as the API server writes times.

export interface StatusCondition {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** Kubernetes messages are bounded (metav1.Condition allows 32768); ours stay readable. */
const MAX_MESSAGE = 1024;

/** RFC 3339 without milliseconds. */
export function rfc3339(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `list` with condition `c.type` replaced (or added), keeping the others in order. */
export function setCondition<C extends StatusCondition>(list: readonly C[] | undefined, c: Omit<C, "lastTransitionTime">, now: Date): C[] {
  const old = (list ?? []).find((x) => x.type === c.type);
  const next = {
    ...c,
    message: c.message.slice(0, MAX_MESSAGE),
    lastTransitionTime: old && old.status === c.status ? old.lastTransitionTime : rfc3339(now),
  } as C;
  if (next.observedGeneration === undefined) delete next.observedGeneration;
  return old ? (list ?? []).map((x) => (x.type === c.type ? next : x)) : [...(list ?? []), next];
}

export function findCondition<C extends StatusCondition>(list: readonly C[] | undefined, type: string): C | undefined {
  return (list ?? []).find((x) => x.type === type);
}

export function isConditionTrue(list: readonly StatusCondition[] | undefined, type: string): boolean {
  return findCondition(list, type)?.status === "True";
}

export function removeCondition<C extends StatusCondition>(list: readonly C[] | undefined, type: string): C[] {
  return (list ?? []).filter((x) => x.type !== type);
}
