import { expect } from "chai";
import type { V1Pod } from "@kubernetes/client-node";
import { adoptAfterNodeRestart, buildPodStatus, podPhase, type ContainerRuntime, type ContainerState, type PodRuntime, type RestartPolicy } from "./pod-status.ts";

const t0 = new Date("2026-01-01T00:00:00Z");
const waiting: ContainerState = { kind: "waiting", reason: "ContainerCreating" };
const running: ContainerState = { kind: "running", startedAt: t0, pid: 42 };
const ok: ContainerState = { kind: "terminated", exitCode: 0, reason: "Completed", finishedAt: t0 };
const bad: ContainerState = { kind: "terminated", exitCode: 3, reason: "Error", finishedAt: t0 };
const crashLoop: ContainerState = { kind: "waiting", reason: "CrashLoopBackOff" };

function c(state: ContainerState, restartCount = 0): ContainerRuntime {
  return { name: "c", image: "i", state, restartCount, ready: state.kind === "running", lastState: restartCount ? bad : undefined };
}
function rt(containers: ContainerRuntime[], init: ContainerRuntime[] = []): PodRuntime {
  return { startTime: t0, sandboxReady: true, initContainers: init, containers };
}

describe("podPhase", () => {
  const rows: Array<[string, RestartPolicy, PodRuntime, string]> = [
    ["not started yet", "Always", rt([c(waiting)]), "Pending"],
    ["init container still running", "Never", rt([c(waiting)], [c(running)]), "Pending"],
    ["init container failed, Never", "Never", rt([c(waiting)], [c(bad)]), "Failed"],
    ["init container failed, OnFailure retries", "OnFailure", rt([c(waiting)], [c(bad)]), "Pending"],
    ["running", "Always", rt([c(running), c(ok)]), "Running"],
    ["restarting after a crash", "Always", rt([c(crashLoop, 1)]), "Running"],
    ["all succeeded, Never", "Never", rt([c(ok), c(ok)]), "Succeeded"],
    ["all succeeded, OnFailure", "OnFailure", rt([c(ok)]), "Succeeded"],
    ["one failed, Never", "Never", rt([c(ok), c(bad)]), "Failed"],
    ["all exited, Always restarts", "Always", rt([c(ok)]), "Running"],
  ];
  for (const [what, policy, r, want] of rows) {
    it(`is ${want} when ${what} (${policy})`, () => expect(podPhase(policy, r)).to.equal(want));
  }
});

describe("buildPodStatus", () => {
  const pod: V1Pod = {
    metadata: { name: "p", namespace: "n" },
    spec: { restartPolicy: "Never", containers: [{ name: "c" }] },
    status: { qosClass: "BestEffort", conditions: [{ type: "PodScheduled", status: "True" }] },
  };

  it("reports a running pod as Ready on 127.0.0.1 and keeps others' conditions", () => {
    const s = buildPodStatus(pod, rt([c(running)]), "127.0.0.1", t0);
    expect(s.phase).to.equal("Running");
    expect(s.podIP).to.equal("127.0.0.1");
    expect(s.qosClass).to.equal("BestEffort");
    const cond = Object.fromEntries(s.conditions!.map((x) => [x.type, x.status]));
    expect(cond).to.deep.equal({ PodScheduled: "True", PodReadyToStartContainers: "True", Initialized: "True", Ready: "True", ContainersReady: "True" });
    expect(s.containerStatuses![0]).to.include({ name: "c", ready: true, restartCount: 0, started: true, containerID: "local://42" });
  });

  it("reports a finished pod as not ready with reason PodCompleted and the exit code", () => {
    const s = buildPodStatus(pod, rt([c(bad)]), "127.0.0.1", t0);
    expect(s.phase).to.equal("Failed");
    expect(s.conditions!.find((x) => x.type === "Ready")).to.include({ status: "False", reason: "PodCompleted" });
    expect(s.containerStatuses![0].state?.terminated).to.include({ exitCode: 3, reason: "Error" });
  });

  it("keeps a condition's transition time while its status holds", () => {
    const earlier = new Date("2025-01-01T00:00:00Z");
    const p: V1Pod = { ...pod, status: { conditions: [{ type: "Ready", status: "True", lastTransitionTime: earlier }] } };
    const s = buildPodStatus(p, rt([c(running)]), "127.0.0.1", t0);
    expect(s.conditions!.find((x) => x.type === "Ready")!.lastTransitionTime).to.equal(earlier);
  });
});

describe("adoptAfterNodeRestart", () => {
  const now = new Date("2026-01-01T00:00:00Z");
  const rtOf = (): PodRuntime => ({ startTime: now, sandboxReady: false, initContainers: [], containers: [{ name: "main", image: "x", restartCount: 0, ready: false, state: { kind: "waiting", reason: "ContainerCreating" } }] });
  const podWith = (restartPolicy: string, status?: object): V1Pod => ({ metadata: { name: "p" }, spec: { restartPolicy, containers: [{ name: "main" }] }, status: status && { containerStatuses: [{ name: "main", image: "x", imageID: "", ready: true, restartCount: 0, ...status }] } } as V1Pod);

  it("leaves a pod that never started alone", () => {
    const rt = rtOf();
    expect(adoptAfterNodeRestart(podWith("Never"), rt, now)).to.equal(false);
    expect(rt.containers[0]!.state.kind).to.equal("waiting");
  });

  it("fails a restartPolicy Never pod whose container was running: ContainerStatusUnknown, exit 137", () => {
    const rt = rtOf();
    expect(adoptAfterNodeRestart(podWith("Never", { state: { running: { startedAt: now } } }), rt, now)).to.equal(true);
    expect(rt.containers[0]!.state).to.deep.include({ kind: "terminated", exitCode: 137, reason: "ContainerStatusUnknown" });
    expect(podPhase("Never", rt)).to.equal("Failed");
  });

  it("runs an Always pod's containers again, one restart more, the lost run as lastState", () => {
    const rt = rtOf();
    expect(adoptAfterNodeRestart(podWith("Always", { restartCount: 2, state: { running: { startedAt: now } } }), rt, now)).to.equal(false);
    expect(rt.containers[0]!.restartCount).to.equal(3);
    expect(rt.containers[0]!.lastState).to.deep.include({ kind: "terminated", exitCode: 137, reason: "ContainerStatusUnknown" });
  });
});
