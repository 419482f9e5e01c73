// Pure: the node's view of a pod's containers -> the pod status kubelet would write.
import type { V1ContainerState, V1ContainerStatus, V1Pod, V1PodCondition, V1PodStatus } from "@kubernetes/client-node";

export type ContainerState =
  | { kind: "waiting"; reason: string; message?: string }
  | { kind: "running"; startedAt: Date; pid?: number }
  | { kind: "terminated"; exitCode: number; signal?: number; reason: string; message?: string; startedAt?: Date; finishedAt: Date; pid?: number };

export interface ContainerRuntime {
  name: string;
  image: string;
  state: ContainerState;
  lastState?: ContainerState;
  restartCount: number;
  ready: boolean;
}

export interface PodRuntime {
  startTime: Date;
  /** Volumes are set up (PodReadyToStartContainers). */
  sandboxReady: boolean;
  initContainers: ContainerRuntime[];
  containers: ContainerRuntime[];
}

export type RestartPolicy = "Always" | "OnFailure" | "Never";

export function restartPolicyOf(pod: V1Pod): RestartPolicy {
  const p = pod.spec?.restartPolicy;
  return p === "OnFailure" || p === "Never" ? p : "Always";
}

/** True when every init container has terminated with exit code 0. */
export function initDone(rt: PodRuntime): boolean {
  return rt.initContainers.every((c) => c.state.kind === "terminated" && c.state.exitCode === 0);
}

/** Pod phase following kubelet's getPhase for the states this node produces. */
export function podPhase(policy: RestartPolicy, rt: PodRuntime): "Pending" | "Running" | "Succeeded" | "Failed" {
  if (!initDone(rt)) {
    const failedInit = rt.initContainers.some((c) => c.state.kind === "terminated" && c.state.exitCode !== 0);
    return failedInit && policy === "Never" ? "Failed" : "Pending";
  }
  let waiting = 0, running = 0, failed = 0;
  for (const c of rt.containers) {
    const s = c.state;
    if (s.kind === "running") running++;
    else if (s.kind === "waiting") {
      if (c.restartCount === 0 && !c.lastState) waiting++;
      else running++; // restarting after a crash counts as running, as in kubelet
    } else if (s.exitCode !== 0) failed++;
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (policy === "Always") return "Running";
  if (failed > 0) return policy === "Never" ? "Failed" : "Running";
  return "Succeeded";
}

function toApiState(s: ContainerState | undefined): V1ContainerState {
  if (!s) return {};
  if (s.kind === "waiting") return { waiting: { reason: s.reason, message: s.message } };
  if (s.kind === "running") return { running: { startedAt: s.startedAt } };
  return {
    terminated: {
      exitCode: s.exitCode, signal: s.signal, reason: s.reason, message: s.message,
      startedAt: s.startedAt, finishedAt: s.finishedAt,
      containerID: s.pid ? `local://${s.pid}` : undefined,
    },
  };
}

function toApiStatus(c: ContainerRuntime): V1ContainerStatus {
  const pid = c.state.kind === "waiting" ? undefined : c.state.pid;
  return {
    name: c.name,
    image: c.image,
    imageID: "",
    containerID: pid ? `local://${pid}` : undefined,
    state: toApiState(c.state),
    lastState: toApiState(c.lastState),
    ready: c.ready,
    restartCount: c.restartCount,
    started: c.state.kind === "running",
  };
}

const OWN_CONDITIONS = new Set(["Initialized", "ContainersReady", "Ready", "PodReadyToStartContainers"]);

function condition(type: string, ok: boolean, now: Date, prev: V1PodCondition[] | undefined, reason?: string): V1PodCondition {
  const status = ok ? "True" : "False";
  const old = prev?.find((c) => c.type === type);
  // Keep the transition time when the status did not change, so status writes are stable.
  const lastTransitionTime = old && old.status === status && old.lastTransitionTime ? old.lastTransitionTime : now;
  return { type, status, lastTransitionTime, reason: ok ? undefined : reason, lastProbeTime: undefined };
}

/** The full status to write, keeping conditions owned by others (PodScheduled, DisruptionTarget). */
export function buildPodStatus(pod: V1Pod, rt: PodRuntime, ip: string, now: Date): V1PodStatus {
  const prev = pod.status?.conditions;
  const phase = podPhase(restartPolicyOf(pod), rt);
  const terminal = phase === "Succeeded" || phase === "Failed";
  const allReady = !terminal && rt.containers.length > 0 && rt.containers.every((c) => c.ready);
  const notReadyReason = terminal ? "PodCompleted" : "ContainersNotReady";
  const init = initDone(rt);
  const conditions: V1PodCondition[] = [
    ...(prev ?? []).filter((c) => !OWN_CONDITIONS.has(c.type)),
    condition("PodReadyToStartContainers", rt.sandboxReady && !terminal, now, prev),
    condition("Initialized", init, now, prev, "ContainersNotInitialized"),
    condition("Ready", allReady, now, prev, notReadyReason),
    condition("ContainersReady", allReady, now, prev, notReadyReason),
  ];
  return {
    ...pod.status,
    phase,
    conditions,
    hostIP: ip,
    hostIPs: [{ ip }],
    podIP: ip,
    podIPs: [{ ip }],
    startTime: pod.status?.startTime ?? rt.startTime,
    initContainerStatuses: rt.initContainers.length ? rt.initContainers.map(toApiStatus) : undefined,
    containerStatuses: rt.containers.map(toApiStatus),
  };
}

/** Kubelet's reason for a terminated container. */
export function terminatedReason(exitCode: number): string {
  return exitCode === 0 ? "Completed" : "Error";
}

/** What kubelet reports for a container it lost with a restart of its node. */
export const LOST_CONTAINER = { exitCode: 137, reason: "ContainerStatusUnknown", message: "The container could not be located when the pod was terminated" };

/**
 * A pod this node had started before the node itself was restarted (its status shows containers
 * that started) takes up where kubelet would: its processes are gone. Under restartPolicy Never
 * every container not already finished ends ContainerStatusUnknown (exit 137) and the pod fails
 * (true: nothing is to run); otherwise the containers run again, restartCount one higher.
 */
export function adoptAfterNodeRestart(pod: V1Pod, rt: PodRuntime, now: Date): boolean {
  const before = new Map([...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])].map((s) => [s.name, s]));
  const started = (s: V1ContainerStatus | undefined) => !!s && (!!s.state?.running || !!s.state?.terminated || s.restartCount > 0);
  const all = [...rt.initContainers, ...rt.containers];
  if (!all.some((c) => started(before.get(c.name)))) return false;
  const lost: ContainerState = { kind: "terminated", ...LOST_CONTAINER, finishedAt: now };
  if (restartPolicyOf(pod) === "Never") {
    for (const c of all) {
      const t = before.get(c.name)?.state?.terminated;
      c.state = t ? { kind: "terminated", exitCode: t.exitCode, reason: t.reason ?? "", message: t.message, startedAt: t.startedAt ? new Date(t.startedAt) : undefined, finishedAt: t.finishedAt ? new Date(t.finishedAt) : now } : lost;
    }
    return true;
  }
  for (const c of all) {
    const s = before.get(c.name);
    c.restartCount = (s?.restartCount ?? 0) + (started(s) ? 1 : 0);
    if (started(s)) c.lastState = lost;
  }
  return false;
}
