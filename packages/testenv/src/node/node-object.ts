// Pure: the Node object and Lease the local node keeps fresh.
import { V1MicroTime, type V1Lease, type V1Node, type V1NodeCondition, type V1NodeStatus, type V1Taint } from "@kubernetes/client-node";

export interface NodeShape {
  name: string;
  ip: string;
  cpus: number;
  memoryBytes: number;
  pods: number;
  kubeletVersion: string;
  /** Port of the node's log server (daemonEndpoints), 0 if none. */
  kubeletPort: number;
  /** Its topology.kubernetes.io/zone label. */
  zone?: string;
}

export function nodeCapacity(s: NodeShape): Record<string, string> {
  return {
    cpu: String(s.cpus),
    memory: `${Math.floor(s.memoryBytes / 1024)}Ki`,
    pods: String(s.pods),
    "ephemeral-storage": "100Gi",
  };
}

const CONDITIONS: Array<[string, string, string, string]> = [
  // type, healthy status, reason, message
  ["MemoryPressure", "False", "KubeletHasSufficientMemory", "kubelet has sufficient memory available"],
  ["DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"],
  ["PIDPressure", "False", "KubeletHasSufficientPID", "kubelet has sufficient PID available"],
  ["Ready", "True", "KubeletReady", "local node is posting ready status"],
];

/** Healthy conditions with a fresh heartbeat; transition times kept from `prev` when unchanged. */
export function nodeConditions(prev: V1NodeCondition[] | undefined, now: Date): V1NodeCondition[] {
  return CONDITIONS.map(([type, status, reason, message]) => {
    const old = prev?.find((c) => c.type === type);
    const lastTransitionTime = old?.status === status && old.lastTransitionTime ? old.lastTransitionTime : now;
    return { type, status, reason, message, lastHeartbeatTime: now, lastTransitionTime };
  });
}

export function nodeStatus(s: NodeShape, prev: V1NodeStatus | undefined, now: Date): V1NodeStatus {
  const capacity = nodeCapacity(s);
  return {
    ...prev,
    capacity,
    allocatable: capacity,
    conditions: nodeConditions(prev?.conditions, now),
    // Only an IP: the API server prefers a Hostname address, and the node name does not resolve.
    addresses: [{ type: "InternalIP", address: s.ip }],
    daemonEndpoints: { kubeletEndpoint: { Port: s.kubeletPort } },
    nodeInfo: {
      architecture: process.arch === "x64" ? "amd64" : process.arch,
      operatingSystem: "linux",
      kubeletVersion: s.kubeletVersion,
      kubeProxyVersion: s.kubeletVersion,
      containerRuntimeVersion: "local://1.0.0",
      kernelVersion: "",
      osImage: "dataprotection local node",
      machineID: "", systemUUID: "", bootID: "",
    },
  };
}

export function newNode(s: NodeShape, now: Date): V1Node {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: {
      name: s.name,
      labels: {
        "kubernetes.io/hostname": s.name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": process.arch === "x64" ? "amd64" : process.arch,
        "dataprotection.local/node": "true",
        ...(s.zone ? { "topology.kubernetes.io/zone": s.zone } : {}),
      },
    },
    spec: {},
    status: nodeStatus(s, undefined, now),
  };
}

/** Taints the node lifecycle controller adds while it believes the node is down. */
const STALE_TAINTS = new Set(["node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable"]);

/** The taints to keep, or undefined when nothing needs removing. */
export function withoutStaleTaints(taints: V1Taint[] | undefined): V1Taint[] | undefined {
  if (!taints?.some((t) => STALE_TAINTS.has(t.key))) return undefined;
  return taints.filter((t) => !STALE_TAINTS.has(t.key));
}

export const LEASE_SECONDS = 40;

export function nodeLease(name: string, nodeUid: string | undefined, now: Date, prev?: V1Lease): V1Lease {
  return {
    apiVersion: "coordination.k8s.io/v1",
    kind: "Lease",
    metadata: {
      ...prev?.metadata,
      name,
      namespace: "kube-node-lease",
      ownerReferences: nodeUid ? [{ apiVersion: "v1", kind: "Node", name, uid: nodeUid }] : undefined,
    },
    spec: { holderIdentity: name, leaseDurationSeconds: LEASE_SECONDS, renewTime: new V1MicroTime(now.getTime()) },
  };
}
