import { expect } from "chai";
import { Kinds } from "@dataprotection/api";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { Reason } from "../tool/reasons.ts";
import type { APIManagerBackupStatus, Backup, Condition, RestoreJob } from "@dataprotection/api";
import { PLAIN_TOOL_NAME, TOOL_NAME } from "../tool/definition.ts";
import { decideBackup, type BackupObservation } from "./backup-decide.ts";
import { failureOf, jobState, onlyCondition, type Prereq, type ThreescaleDecision } from "./decide.ts";
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

describe("threescale controllers: onlyCondition (one condition, as upstream)", () => {
  const running: Condition = { type: "Running", status: "True", reason: "Started", message: "m", lastTransitionTime: "2024-05-01T09:00:00Z" };
  it("the same type and status keeps its transition time, with the new reason and message", () => {
    expect(onlyCondition([running], { type: "Running", status: "True", reason: "Again", message: "m2" }, now)).to.deep.equal([{ ...running, reason: "Again", message: "m2" }]);
  });
  it("a new status of that type moves the transition time to now", () => {
    expect(onlyCondition([running], { type: "Running", status: "False", reason: "R", message: "m" }, now)[0]!.lastTransitionTime).to.equal("2024-05-01T10:00:00Z");
  });
  it("another type replaces the condition, transitioning now", () => {
    expect(onlyCondition([running], { type: "Completed", status: "True", reason: "Done", message: "ok" }, now)).to.deep.equal([{ type: "Completed", status: "True", reason: "Done", message: "ok", lastTransitionTime: "2024-05-01T10:00:00Z" }]);
    expect(onlyCondition(undefined, { type: "Failed", status: "True", reason: "X", message: "x" }, now)).to.have.length(1);
  });
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
/** What a decision has prepared and created, by name: ["tool threescale-apimanager", ..., "create Backup b"]. */
const actions = <S>(d: ThreescaleDecision<S>): string[] => [
  ...(d.prepare ?? []).map((p: Prereq) => (p.ensure === "tool" ? `tool ${p.tool.metadata.name}` : p.ensure === "secret" ? `secret ${p.secret.metadata!.name}` : p.ensure === "gate" ? `gate ${p.configMap.metadata!.name}` : `destination ${p.claim.metadata!.name}`)),
  ...(d.creates ?? []).map((c) => `create ${c.kind.kind} ${(c.object as { metadata: { name: string } }).metadata.name}`),
];

describe("threescale controllers: decideBackup (over the generic Backup)", () => {
  const base: BackupObservation = {
    name: "b", namespace: "ns", uid: "u1", spec: { backupDestination: { persistentVolumeClaim: {} } }, status: {}, apimanagers: [{ metadata: { name: "am", uid: "amu" } }],
    destination: { kind: "pvc", claimName: "b" }, ownsBackup: false, now, options: { jobDeadlineSeconds: 600 },
  };
  const running: APIManagerBackupStatus = { startTime: "2024-05-01T09:59:00Z", apiManagerSourceName: "am", backupPersistentVolumeClaimName: "b" };

  it("starts: tools, destination PVC (prepared), then RBAC, policy, Backup (created); status names the APIManager and the PVC", () => {
    const d = decideBackup(base);
    expect(actions(d)).to.deep.equal([
      `tool ${TOOL_NAME}`, `tool ${PLAIN_TOOL_NAME}`, "destination b",
      "create ServiceAccount threescale-apimanager", "create RoleBinding threescale-apimanager", "create BackupPolicy b-threescale", "create Backup b",
    ]);
    const claim = d.prepare!.find((p) => p.ensure === "destination")!;
    expect(claim.ensure === "destination" && claim.claim.metadata!.annotations).to.deep.include({ "apps.3scale.net/apimanager-uid": "amu", "apps.3scale.net/apimanagerbackup-uid": "u1" });
    expect(d.status).to.deep.include({ startTime: now.toISOString(), completed: false, apiManagerSourceName: "am", backupPersistentVolumeClaimName: "b" });
    expect(d.events?.map((e) => e.reason)).to.deep.equal([Reason.BackupStarted]);
  });
  it("records the repo for a backupRepo destination, with no destination PVC", () => {
    const d = decideBackup({ ...base, destination: { kind: "repo", repoName: "r" } });
    expect(d.status).to.deep.include({ backupRepoName: "r" });
    expect(actions(d).filter((a) => a.startsWith("destination"))).to.deep.equal([]);
  });
  it("tools carry the operator's image and env; RBAC binds the configured ClusterRole", () => {
    const d = decideBackup({ ...base, options: { image: "img:1", readyTimeoutSeconds: 30, env: [{ name: "X", value: "1" }], toolClusterRole: "rel-threescale-tool" } });
    const tool = d.prepare![0]!;
    expect(tool.ensure === "tool" && tool.tool.spec.image).to.equal("img:1");
    expect(tool.ensure === "tool" && tool.tool.spec.env!.slice(-2)).to.deep.equal([{ name: "THREESCALE_READY_TIMEOUT_SECONDS", value: "30" }, { name: "X", value: "1" }]);
    expect((d.creates![1]!.object as { roleRef: { name: string } }).roleRef.name).to.equal("rel-threescale-tool");
  });
  it("keeps the Running condition's transition time while it starts again", () => {
    const first = decideBackup(base);
    const again = decideBackup({ ...base, status: first.status!, now: new Date("2024-05-01T10:00:05Z") });
    expect(again.status).to.deep.equal(first.status);
    expect(again.events).to.deep.equal([]);
  });
  const failures: Array<[string, Partial<BackupObservation>, string, RegExp]> = [
    ["no APIManager", { apimanagers: [] }, "APIManagerNotFound", /no APIManager in namespace ns/],
    ["two APIManagers", { apimanagers: [{ metadata: { name: "a" } }, { metadata: { name: "c" } }] }, "MultipleAPIManagers", /a, c/],
    ["a Backup of that name is someone else's", { backup: backupIn() }, "BackupNameTaken", /Backup "ns\/b" exists and does not belong/],
  ];
  for (const [what, o, reason, text] of failures) {
    it(`fails at once: ${what}`, () => {
      const d = decideBackup({ ...base, ...o });
      expect(actions(d)).to.deep.equal([]);
      expect(d.status?.failureReason).to.match(new RegExp(`^${reason}: `)).and.match(text);
      expect(d.status?.conditions).to.have.length(1);
      expect(d.status?.conditions?.[0]).to.deep.include({ type: "Failed", status: "True", reason });
      expect(d.events?.map((e) => e.type)).to.deep.equal(["Warning"]);
    });
  }
  it("mirrors a Completed Backup: completionTime, every main step, an Event", () => {
    const d = decideBackup({ ...base, status: running, backup: backupIn("Completed", { completionTimestamp: "2024-05-01T10:00:00Z" }), ownsBackup: true });
    expect(d.status).to.deep.include({ completed: true, completionTime: "2024-05-01T10:00:00Z", startTime: running.startTime });
    expect(Object.values(d.status!.mainStepsCompleted!).every(Boolean)).to.equal(true);
    expect(d.events?.map((e) => e.reason)).to.deep.equal([Reason.BackupCompleted]);
  });
  it("mirrors a Failed Backup with the tool's reason and never retries", () => {
    const d = decideBackup({ ...base, status: running, backup: backupIn("Failed", { failureReason: "JobFailed: x" }), ownsBackup: true, toolReport: { reason: "SecretNotFound", message: 'Secret "ns/zync" not found' } });
    expect(d.status?.failureReason).to.equal('SecretNotFound: Secret "ns/zync" not found');
    expect(d.events).to.have.length(1);
    expect(d.events![0]).to.deep.include({ type: "Warning", reason: Reason.BackupFailed });
    expect(decideBackup({ ...base, status: d.status! })).to.deep.equal({});
  });
  it("requeues while the Backup runs, and gives up after the deadline", () => {
    expect(decideBackup({ ...base, status: running, backup: backupIn("InProgress"), ownsBackup: true }).requeueAfterMs).to.be.above(0);
    const late = decideBackup({ ...base, status: running, backup: backupIn("InProgress"), ownsBackup: true, options: { jobDeadlineSeconds: 30 } });
    expect(late.status?.failureReason).to.match(/^ToolJobTimeout: Backup "ns\/b" is still InProgress after 30s/);
  });
});

describe("threescale controllers: decideRestore", () => {
  const base: RestoreObservation = { name: "r", namespace: "ns", uid: "u2", status: {}, source: { ok: true, kind: "pvc", claimName: "b" }, apimanagers: [], job: { pods: [] }, now, podStartMs: 300_000, options: { jobDeadlineSeconds: 600 } };
  const rj = (phase?: string, failureReason?: string): RestoreJob => ({ metadata: { name: "r-threescale" }, spec: { backupJobName: "b" }, status: phase ? { phase, failureReason } : undefined }) as RestoreJob;
  it("from a PVC: the direct restore Job", () => {
    const d = decideRestore({ ...base, source: { ok: true, kind: "pvc", claimName: "b", readOnly: true } });
    expect(actions(d)).to.deep.equal(["create ServiceAccount threescale-apimanager", "create RoleBinding threescale-apimanager", "create Job r-restore"]);
    const pod = (d.creates![2]!.object as V1Job).spec!.template.spec!;
    expect(pod.volumes![0]!.persistentVolumeClaim).to.deep.equal({ claimName: "b", readOnly: true });
    expect(pod.containers[0]!.env).to.deep.include({ name: "THREESCALE_READY_TIMEOUT_SECONDS", value: "1200" });
    expect((d.creates![2]!.object as V1Job).spec!.activeDeadlineSeconds).to.equal(600);
  });
  it("from an APIManagerBackup's Backup: a RestoreJob", () => {
    expect(actions(decideRestore({ ...base, source: { ok: true, kind: "backup", backupName: "b" } }))).to.deep.equal([
      `tool ${TOOL_NAME}`, `tool ${PLAIN_TOOL_NAME}`, "create ServiceAccount threescale-apimanager", "create RoleBinding threescale-apimanager", "create RestoreJob r-threescale",
    ]);
  });
  it("refuses when an APIManager already exists", () => {
    const d = decideRestore({ ...base, apimanagers: [{ metadata: { name: "am" } }] });
    expect(actions(d)).to.deep.equal([]);
    expect(d.status?.failureReason).to.match(/^APIManagerExists: APIManager "am" already exists in namespace ns/);
  });
  it("fails on a missing source", () => {
    expect(decideRestore({ ...base, source: { ok: false, reason: Reason.SourceNotFound, message: "m" } }).status?.failureReason).to.equal("SourceNotFound: m");
  });
  it("fails a direct Job whose pod never started and deletes that Job, so no Pending pod stays behind", () => {
    const d = decideRestore({ ...base, status: { startTime: "t0" }, job: { job: job(undefined, undefined, "2024-05-01T09:00:00Z"), pods: [pod("waiting")] }, podStartMs: 60_000 });
    expect(d.status?.failureReason).to.match(/^ToolJobTimeout: /);
    expect(d.deletes).to.deep.equal([{ kind: Kinds.Job, name: "j", namespace: "ns" }]);
    const failedRun = decideRestore({ ...base, status: { startTime: "t0" }, job: { job: job("Failed", "BackoffLimitExceeded"), pods: [pod({ message: "" })] } });
    expect(failedRun.deletes ?? [], "a Job that ran and failed stays, for its logs").to.deep.equal([]);
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
    expect(bad.events).to.have.length(1);
    expect(bad.events![0]).to.deep.include({ type: "Warning", reason: Reason.RestoreFailed });
    expect(decideRestore({ ...base, source: src, status: { startTime: now.toISOString() }, restoreJob: rj("InProgressLogic") }).requeueAfterMs).to.be.above(0);
  });
});
