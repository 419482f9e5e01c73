import { expect } from "chai";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { Reason } from "../tool/reasons.ts";
import type { APIManagerBackupStatus, Backup, RestoreJob } from "@dataprotection/api";
import { decideBackup, type BackupObservation } from "./backup-decide.ts";
import { failureOf, jobState } from "./decide.ts";
import { decideRestore, type RestoreObservation } from "./restore-decide.ts";

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

describe("threescale controllers: failureOf", () => {
  const rows: Array<[string, Record<string, unknown> | undefined, string | undefined, string, string]> = [
    ["the tool's report wins", { reason: "SecretNotFound", message: "Secret x" }, "JobFailed: Job y failed", "SecretNotFound", "Secret x"],
    ["the generic reason otherwise", undefined, "PodCannotStart: image missing", "PodCannotStart", "image missing"],
    ["nothing recorded", {}, undefined, "ToolJobFailed", "no reason recorded"],
  ];
  for (const [what, report, fr, reason, message] of rows) it(what, () => expect(failureOf(report, fr, Reason.ToolJobFailed)).to.deep.equal({ reason, message }));
});

const backupIn = (phase?: string, extra: Record<string, unknown> = {}): Backup => ({ metadata: { name: "b", namespace: "ns" }, spec: { backupPolicyName: "p" }, status: phase ? { phase, ...extra } : undefined }) as Backup;

describe("threescale controllers: decideBackup (over the generic Backup)", () => {
  const base: BackupObservation = { name: "b", namespace: "ns", status: {}, apimanagers: [{ metadata: { name: "am" } }], destination: { kind: "pvc", claimName: "b" }, ownsBackup: false, now, deadlineMs: 600_000 };
  const running: APIManagerBackupStatus = { startTime: "2024-05-01T09:59:00Z", apiManagerSourceName: "am", backupPersistentVolumeClaimName: "b" };

  it("starts: RBAC, tools, destination PVC, policy, Backup; status names the APIManager and the PVC", () => {
    const d = decideBackup(base);
    expect(d.steps).to.deep.equal(["ensureRbac", "ensureTools", "ensureDestination", "ensurePolicy", "createBackup"]);
    expect(d.status).to.deep.include({ startTime: now.toISOString(), completed: false, apiManagerSourceName: "am", backupPersistentVolumeClaimName: "b" });
    expect(d.event?.reason).to.equal(Reason.BackupStarted);
  });
  it("records the repo for a backupRepo destination", () => {
    expect(decideBackup({ ...base, destination: { kind: "repo", repoName: "r" } }).status).to.deep.include({ backupRepoName: "r" });
  });
  const failures: Array<[string, Partial<BackupObservation>, string, RegExp]> = [
    ["no APIManager", { apimanagers: [] }, "APIManagerNotFound", /no APIManager in namespace ns/],
    ["two APIManagers", { apimanagers: [{ metadata: { name: "a" } }, { metadata: { name: "c" } }] }, "MultipleAPIManagers", /a, c/],
    ["a Backup of that name is someone else's", { backup: backupIn() }, "BackupNameTaken", /Backup "ns\/b" exists and does not belong/],
  ];
  for (const [what, o, reason, text] of failures) {
    it(`fails at once: ${what}`, () => {
      const d = decideBackup({ ...base, ...o });
      expect(d.steps).to.deep.equal([]);
      expect(d.status?.failureReason).to.match(new RegExp(`^${reason}: `)).and.match(text);
      expect(d.status?.conditions?.[0]).to.deep.include({ type: "Failed", status: "True", reason });
      expect(d.event?.type).to.equal("Warning");
    });
  }
  it("mirrors a Completed Backup: completionTime, every main step, an Event", () => {
    const d = decideBackup({ ...base, status: running, backup: backupIn("Completed", { completionTimestamp: "2024-05-01T10:00:00Z" }), ownsBackup: true });
    expect(d.status).to.deep.include({ completed: true, completionTime: "2024-05-01T10:00:00Z", startTime: running.startTime });
    expect(Object.values(d.status!.mainStepsCompleted!).every(Boolean)).to.equal(true);
    expect(d.event?.reason).to.equal(Reason.BackupCompleted);
  });
  it("mirrors a Failed Backup with the tool's reason and never retries", () => {
    const d = decideBackup({ ...base, status: running, backup: backupIn("Failed", { failureReason: "JobFailed: x" }), ownsBackup: true, toolReport: { reason: "SecretNotFound", message: 'Secret "ns/zync" not found' } });
    expect(d.status?.failureReason).to.equal('SecretNotFound: Secret "ns/zync" not found');
    expect(d.event).to.deep.include({ type: "Warning", reason: Reason.BackupFailed });
    expect(decideBackup({ ...base, status: d.status! })).to.deep.equal({ steps: [] });
  });
  it("requeues while the Backup runs, and gives up after the deadline", () => {
    expect(decideBackup({ ...base, status: running, backup: backupIn("InProgress"), ownsBackup: true }).requeueAfterMs).to.be.above(0);
    const late = decideBackup({ ...base, status: running, backup: backupIn("InProgress"), ownsBackup: true, deadlineMs: 30_000 });
    expect(late.status?.failureReason).to.match(/^ToolJobTimeout: Backup "ns\/b" is still InProgress after 30s/);
  });
});

describe("threescale controllers: decideRestore", () => {
  const base: RestoreObservation = { name: "r", namespace: "ns", status: {}, source: { ok: true, kind: "pvc", claimName: "b" }, apimanagers: [], job: { pods: [] }, now, podStartMs: 300_000, deadlineMs: 600_000 };
  const rj = (phase?: string, failureReason?: string): RestoreJob => ({ metadata: { name: "r-threescale" }, spec: { backupJobName: "b" }, status: phase ? { phase, failureReason } : undefined }) as RestoreJob;
  it("from a PVC: the direct restore Job", () => expect(decideRestore(base).steps).to.deep.equal(["ensureRbac", "createJob"]));
  it("from an APIManagerBackup's Backup: a RestoreJob", () => expect(decideRestore({ ...base, source: { ok: true, kind: "backup", backupName: "b" } }).steps).to.deep.equal(["ensureRbac", "ensureTools", "createRestoreJob"]));
  it("refuses when an APIManager already exists", () => {
    const d = decideRestore({ ...base, apimanagers: [{ metadata: { name: "am" } }] });
    expect(d.steps).to.deep.equal([]);
    expect(d.status?.failureReason).to.match(/^APIManagerExists: APIManager "am" already exists in namespace ns/);
  });
  it("fails on a missing source", () => {
    expect(decideRestore({ ...base, source: { ok: false, reason: Reason.SourceNotFound, message: "m" } }).status?.failureReason).to.equal("SourceNotFound: m");
  });
  it("completes with apiManagerToRestoreRef from the tool's report (direct Job)", () => {
    const d = decideRestore({ ...base, status: { startTime: "t0" }, job: { job: job("Complete"), pods: [pod({ message: '{"apiManager":"am","resynced":true}' })] } });
    expect(d.status).to.deep.include({ completed: true, apiManagerToRestoreRef: { name: "am" }, completionTime: now.toISOString() });
    expect(d.status?.mainStepsCompleted?.routesResynced).to.equal(true);
  });
  it("mirrors the RestoreJob: Completed, Failed with the tool's reason, running", () => {
    const src = { ok: true as const, kind: "backup" as const, backupName: "b", apiManager: "am" };
    const ok = decideRestore({ ...base, source: src, status: { startTime: "t0" }, restoreJob: rj("Completed"), toolReport: { apiManager: "am", resynced: true } });
    expect(ok.status).to.deep.include({ completed: true, apiManagerToRestoreRef: { name: "am" } });
    const bad = decideRestore({ ...base, source: src, status: { startTime: "t0" }, restoreJob: rj("Failed", "JobFailed: j"), toolReport: { reason: "APIManagerNotReady", message: "m" } });
    expect(bad.status?.failureReason).to.equal("APIManagerNotReady: m");
    expect(bad.event).to.deep.include({ type: "Warning", reason: Reason.RestoreFailed });
    expect(decideRestore({ ...base, source: src, status: { startTime: now.toISOString() }, restoreJob: rj("InProgressLogic") }).requeueAfterMs).to.be.above(0);
  });
});
