import { expect } from "chai";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { Reason } from "../tool/reasons.ts";
import { decideBackup, decideRestore, jobState, type BackupObservation, type RestoreObservation } from "./decide.ts";

const now = new Date("2024-05-01T10:00:00Z");
const job = (cond?: string, reason?: string, created = "2024-05-01T09:59:00Z"): V1Job => ({ metadata: { name: "j", creationTimestamp: created as unknown as Date }, status: cond ? { conditions: [{ type: cond, status: "True", reason }] } : {} });
const pod = (state: "running" | "waiting" | { message: string }): V1Pod => ({
  status: { containerStatuses: [{ name: "c", image: "", imageID: "", ready: false, restartCount: 0, state: state === "running" ? { running: {} } : state === "waiting" ? { waiting: { reason: "ContainerCreating" } } : { terminated: { exitCode: 0, message: state.message } } }] },
});

describe("threescale controllers: jobState", () => {
  const rows: Array<[string, Parameters<typeof jobState>[0], string, string?]> = [
    ["no Job", { pods: [] }, "absent"],
    ["running", { job: job(), pods: [pod("running")] }, "running"],
    ["complete with report", { job: job("Complete"), pods: [pod({ message: '{"apiManager":"am"}' })] }, "complete"],
    ["failed with the CLI's reason", { job: job("Failed", "BackoffLimitExceeded"), pods: [pod({ message: '{"reason":"SecretNotFound","message":"Secret x"}' })] }, "failed", "SecretNotFound"],
    ["failed without a report", { job: job("Failed", "BackoffLimitExceeded"), pods: [pod({ message: "boom" })] }, "failed", Reason.ToolJobFailed],
    ["deadline exceeded", { job: job("Failed", "DeadlineExceeded"), pods: [] }, "failed", Reason.ToolJobTimeout],
    ["pod never started", { job: job(undefined, undefined, "2024-05-01T09:00:00Z"), pods: [pod("waiting")] }, "failed", Reason.ToolJobTimeout],
    ["pod not started yet", { job: job(), pods: [pod("waiting")] }, "running"],
  ];
  for (const [what, obs, state, reason] of rows) {
    it(`${what} -> ${state}${reason ? ` (${reason})` : ""}`, () => {
      const s = jobState(obs, now, 300_000);
      expect(s.state).to.equal(state);
      if (reason && s.state === "failed") expect(s.reason).to.equal(reason);
    });
  }
});

describe("threescale controllers: decideBackup", () => {
  const base: BackupObservation = { name: "b", namespace: "ns", status: {}, apimanagers: [{ metadata: { name: "am" } }], job: { pods: [] }, pvcName: "b", now, podStartMs: 300_000 };

  it("starts: RBAC, destination PVC, Job; status names the APIManager and the PVC", () => {
    const d = decideBackup(base);
    expect(d.steps).to.deep.equal(["ensureRbac", "ensureDestination", "createJob"]);
    expect(d.status).to.deep.include({ startTime: now.toISOString(), completed: false, apiManagerSourceName: "am", backupPersistentVolumeClaimName: "b" });
    expect(d.event?.reason).to.equal(Reason.BackupStarted);
  });
  it("fails at once without an APIManager, and with two", () => {
    expect(decideBackup({ ...base, apimanagers: [] }).status?.failureReason).to.match(/^APIManagerNotFound: /);
    const two = decideBackup({ ...base, apimanagers: [{ metadata: { name: "a" } }, { metadata: { name: "b" } }] });
    expect(two.status?.failureReason).to.match(/^MultipleAPIManagers: /);
    expect(two.status?.conditions?.[0]).to.deep.include({ type: "Failed", status: "True", reason: "MultipleAPIManagers" });
    expect(two.event?.type).to.equal("Warning");
  });
  it("completes with completionTime and every main step", () => {
    const d = decideBackup({ ...base, status: { startTime: "t0", apiManagerSourceName: "am" }, job: { job: job("Complete"), pods: [pod({ message: "{}" })] } });
    expect(d.status).to.deep.include({ completed: true, completionTime: now.toISOString(), startTime: "t0" });
    expect(Object.values(d.status!.mainStepsCompleted!).every(Boolean)).to.equal(true);
  });
  it("surfaces a failed Job with the CLI's reason and never retries", () => {
    const d = decideBackup({ ...base, status: { startTime: "t0" }, job: { job: job("Failed"), pods: [pod({ message: '{"reason":"SecretNotFound","message":"Secret \\"ns/zync\\" not found"}' })] } });
    expect(d.status?.failureReason).to.equal('SecretNotFound: Secret "ns/zync" not found');
    expect(decideBackup({ ...base, status: d.status! })).to.deep.equal({ steps: [] });
  });
  it("requeues while the Job runs", () => expect(decideBackup({ ...base, status: { startTime: "t0" }, job: { job: job(), pods: [pod("running")] } }).requeueAfterMs).to.be.above(0));
});

describe("threescale controllers: decideRestore", () => {
  const base: RestoreObservation = { name: "r", namespace: "ns", status: {}, source: { ok: true, claimName: "b" }, apimanagers: [], job: { pods: [] }, now, podStartMs: 300_000 };
  it("starts the restore Job", () => expect(decideRestore(base).steps).to.deep.equal(["ensureRbac", "createJob"]));
  it("refuses when an APIManager already exists", () => {
    const d = decideRestore({ ...base, apimanagers: [{ metadata: { name: "am" } }] });
    expect(d.steps).to.deep.equal([]);
    expect(d.status?.failureReason).to.match(/^APIManagerExists: APIManager "am" already exists in namespace ns/);
  });
  it("fails on a missing source", () => {
    expect(decideRestore({ ...base, source: { ok: false, reason: Reason.SourceNotFound, message: "m" } }).status?.failureReason).to.equal("SourceNotFound: m");
  });
  it("completes with apiManagerToRestoreRef from the tool's report", () => {
    const d = decideRestore({ ...base, status: { startTime: "t0" }, job: { job: job("Complete"), pods: [pod({ message: '{"apiManager":"am","resynced":true}' })] } });
    expect(d.status).to.deep.include({ completed: true, apiManagerToRestoreRef: { name: "am" }, completionTime: now.toISOString() });
    expect(d.status?.mainStepsCompleted?.routesResynced).to.equal(true);
  });
});
