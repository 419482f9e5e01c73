// Downward API values shared by env (fieldRef/resourceFieldRef) and downwardAPI volumes.
import type { V1Container, V1Pod, V1ResourceFieldSelector } from "@kubernetes/client-node";
import { parseQuantity } from "./quantity.ts";

/** What the node knows that the pod object may not yet say. */
export interface NodeFacts {
  nodeName: string;
  ip: string;
  /** Node allocatable, used when a container sets no limit (as kubelet does). */
  allocatable: { cpu: string; memory: string; "ephemeral-storage"?: string };
}

/** Formats a map the way kubelet writes metadata.labels / annotations files: key="value" per line, sorted. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m![k])}`)
    .join("\n");
}

/** Value of a fieldRef path, or an error message. */
export function fieldRefValue(pod: V1Pod, fieldPath: string, facts: NodeFacts): { value: string } | { error: string } {
  const md = pod.metadata ?? {};
  const sub = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(fieldPath);
  if (sub) {
    const m = sub[1] === "labels" ? md.labels : md.annotations;
    return { value: m?.[sub[2]] ?? "" };
  }
  switch (fieldPath) {
    case "metadata.name": return { value: md.name ?? "" };
    case "metadata.namespace": return { value: md.namespace ?? "" };
    case "metadata.uid": return { value: md.uid ?? "" };
    case "metadata.labels": return { value: formatMap(md.labels) };
    case "metadata.annotations": return { value: formatMap(md.annotations) };
    case "spec.nodeName": return { value: pod.spec?.nodeName ?? facts.nodeName };
    case "spec.serviceAccountName": return { value: pod.spec?.serviceAccountName ?? "default" };
    case "status.podIP": case "status.podIPs":
    case "status.hostIP": case "status.hostIPs": return { value: facts.ip };
    default: return { error: `unsupported fieldRef ${JSON.stringify(fieldPath)}` };
  }
}

/** Value of a resourceFieldRef (limits fall back to node allocatable), or an error message. */
export function resourceFieldValue(
  pod: V1Pod, containerName: string | undefined, ref: V1ResourceFieldSelector, facts: NodeFacts,
): { value: string } | { error: string } {
  const name = ref.containerName || containerName;
  const all: V1Container[] = [...(pod.spec?.initContainers ?? []), ...(pod.spec?.containers ?? [])];
  const c = all.find((x) => x.name === name);
  if (!c) return { error: `resourceFieldRef: container ${JSON.stringify(name)} not found` };
  const m = /^(limits|requests)\.(cpu|memory|ephemeral-storage)$/.exec(ref.resource);
  if (!m) return { error: `unsupported resourceFieldRef ${JSON.stringify(ref.resource)}` };
  const [, kind, res] = m as unknown as [string, "limits" | "requests", "cpu" | "memory" | "ephemeral-storage"];
  let raw: string | undefined = c.resources?.[kind]?.[res];
  if (raw === undefined && kind === "limits") raw = facts.allocatable[res];
  if (raw === undefined) raw = "0";
  const divisor = parseQuantity(ref.divisor ?? "1");
  if (divisor === 0) return { error: "resourceFieldRef divisor is zero" };
  // Kubelet rounds up: 250m cpu with divisor 1 is "1".
  return { value: String(Math.ceil(parseQuantity(raw) / divisor)) };
}
