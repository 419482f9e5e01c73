// Pure: the fuzz test's per-kind rules (verdicts.ts) against the statuses the controllers' own
// decide functions write, so the e2e judges what the operator really reports. No cluster.
import { expect } from "chai";
import { Finalizer, type BackupPolicy, type BackupRepo, type RestoreJob, type StorageProvider } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";
import { failed, notStarted, startedStatus } from "../../packages/controllers/src/backup/decide.ts";
import { Reason as BackupReason } from "../../packages/controllers/src/backup/reasons.ts";
import { validateNewBackup } from "../../packages/controllers/src/backup/validate.ts";
import { NOW, backup, policy, tool } from "../../packages/controllers/src/backup/testdata.ts";
import { decidePolicy } from "../../packages/controllers/src/backuppolicy/decide.ts";
import { decideRepo } from "../../packages/controllers/src/backuprepo/decide.ts";
import { decideBackupTool } from "../../packages/controllers/src/backuptool/index.ts";
import { decideProvider } from "../../packages/controllers/src/storageprovider/decide.ts";
import { decide as decideRestoreJob, type Observation } from "../../packages/controllers/src/restorejob/decide.ts";
import { defaultTimeouts } from "../../packages/controllers/src/options.ts";
import { decideBackup as decideAPIManagerBackup } from "../../packages/threescale/src/controller/backup-decide.ts";
import { decideRestore as decideAPIManagerRestore } from "../../packages/threescale/src/controller/restore-decide.ts";
import { crossNamespaceRule, judge, type Observed } from "./verdicts.ts";

const as = (status: unknown): Observed => ({ metadata: { name: "x", generation: 1 }, status: status as Observed["status"] });

describe("fuzz verdicts (the per-kind rules of hostile-objects.test.ts)", () => {
  it("an object without status, or with an empty one, is unclassified", () => {
    for (const kind of ["Backup", "BackupPolicy", "BackupRepo", "BackupTool", "RestoreJob", "StorageProvider", "APIManagerBackup", "APIManagerRestore"] as const) {
      expect(judge(kind, as(undefined)).state, kind).to.equal("unclassified");
      expect(judge(kind, as({})).state, kind).to.equal("unclassified");
    }
  });

  it("Backup: Failed with the validation's reason is a problem; waiting for the target pod is progressing; a started one is progressing", () => {
    const b = backup({ backupPolicyName: "missing" });
    const v = validateNewBackup({ backup: b, repos: [], pods: [], now: NOW, targetPodWaitMs: 60_000 });
    const d = v.kind === "ok" ? undefined : notStarted(b, v, NOW);
    expect(judge("Backup", as(d?.status))).to.deep.include({ state: "problem", reason: "PolicyNotFound" });

    const waiting = validateNewBackup({ backup: b, policy: policy({ backupRepoName: undefined }), tool: tool(), repos: [], pods: [], now: NOW, targetPodWaitMs: 60_000 });
    expect(waiting.kind).to.not.equal("ok");
    if (waiting.kind === "ok") return;
    const w = notStarted(b, waiting, NOW);
    // No repo and no PVC: the policy has no destination, which fails before the target pod wait.
    expect(judge("Backup", as(w.status)).state).to.be.oneOf(["problem", "progressing"]);

    const pending = notStarted(b, { kind: "wait", reason: BackupReason.WaitingForTargetPod, message: "no pod matches target.labelsSelector {app=db}", retryAfterMs: 2_000 }, NOW);
    expect(judge("Backup", as(pending.status))).to.deep.include({ state: "progressing", reason: "WaitingForTargetPod" });

    const generic = failed(b, BackupReason.JobFailed, "Job x failed", NOW);
    expect(judge("Backup", as(generic.status))).to.deep.include({ state: "problem", reason: "JobFailed" });

    const started = startedStatus(b, { type: "datafile", policy: policy(), section: { name: "datafile", policy: policy().spec.datafile! }, filePath: "/ns/b1" }, NOW, "InProgress");
    expect(judge("Backup", as(started)).state).to.equal("progressing");
    expect(judge("Backup", as({ phase: "Completed" })).state).to.equal("healthy");
    expect(judge("Backup", as({ phase: "Failed", failureReason: "it broke" })).state).to.equal("unclassified");
    expect(judge("Backup", as({ phase: "New" })).state).to.equal("unclassified");
  });

  it("BackupPolicy: Failed with every problem named, or Available", () => {
    const p = { ...policy(), metadata: { name: "daily", namespace: "ns", generation: 1 } } as BackupPolicy;
    const bad = decidePolicy({ policy: p, backups: [], world: { tools: new Set(), repos: new Set() }, now: NOW });
    expect(judge("BackupPolicy", as(bad.status))).to.deep.include({ state: "problem", reason: "ToolNotFound" });
    const ok = decidePolicy({ policy: p, backups: [], world: { tools: new Set(["volume"]), repos: new Set(["repo"]) }, now: NOW });
    expect(judge("BackupPolicy", as(ok.status)).state).to.equal("healthy");
    const cron = decidePolicy({ policy: { ...p, spec: { ...p.spec, schedule: { datafile: { cronExpression: "61 * * * *", enable: true } } } }, backups: [], world: { tools: new Set(["volume"]), repos: new Set(["repo"]) }, now: NOW });
    expect(judge("BackupPolicy", as(cron.status))).to.deep.include({ state: "problem", reason: "InvalidCron" });
  });

  it("BackupRepo: a missing provider is a problem (Failed, Ready=False)", () => {
    const repo = { apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupRepo", metadata: { name: "r", generation: 1, finalizers: [Finalizer] }, spec: { storageProviderRef: "nope", pvReclaimPolicy: "Delete" } } as BackupRepo & KubeObject;
    const d = decideRepo({ repo, repos: [repo], settings: { agentImage: "img", podStartMs: 1000 } }, NOW);
    expect(judge("BackupRepo", as(d.status))).to.deep.include({ state: "problem", reason: "StorageProviderNotFound" });
    expect(judge("BackupRepo", as({ phase: "PreChecking", conditions: [{ type: "Ready", status: "False", reason: "PreCheckStarted", message: "pre-check Job default/x writes..." }] })).state).to.equal("progressing");
    expect(judge("BackupRepo", as({ phase: "Ready", conditions: [{ type: "Ready", status: "True", reason: "Ready", message: "ok" }] })).state).to.equal("healthy");
  });

  it("BackupTool: Valid=False names the problem; Valid=True is healthy", () => {
    const bad = decideBackupTool({ ...tool({ backupCommands: [], env: [{ name: "BACKUP_DIR", value: "/x" }] }), metadata: { name: "t", generation: 1 } }, NOW);
    expect(judge("BackupTool", as(bad.status)).state).to.equal("problem");
    const ok = decideBackupTool({ ...tool(), metadata: { name: "t", generation: 1 } }, NOW);
    expect(judge("BackupTool", as(ok.status)).state).to.equal("healthy");
  });

  it("StorageProvider: a missing CSI driver or a broken template is NotReady with Ready=False", () => {
    const p = { apiVersion: "storage.kubeblocks.io/v1alpha1", kind: "StorageProvider", metadata: { name: "p", generation: 1 }, spec: { csiDriverName: "nope", storageClassTemplate: "{{" } } as StorageProvider;
    expect(judge("StorageProvider", as(decideProvider(p, false, NOW).status)).state).to.equal("problem");
    const good = { ...p, spec: { persistentVolumeClaimTemplate: "spec: {}\n" } } as StorageProvider;
    expect(judge("StorageProvider", as(decideProvider(good, false, NOW).status)).state).to.equal("healthy");
  });

  it("RestoreJob: started is progressing; a plan that fails is a problem with its reason", () => {
    const rj = {
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "RestoreJob", metadata: { name: "r", namespace: "ns", generation: 1, uid: "u" },
      spec: { backupJobName: "gone", target: { labelsSelector: {} }, targetVolumes: [], targetVolumeMounts: [] },
    } as unknown as RestoreJob & KubeObject;
    const obs = (restore: RestoreJob, plan: Observation["plan"]): Observation => ({
      restore, plan, statefulSets: [], statefulSetPods: new Map(), pods: [], jobs: new Map(), pvcs: new Map(), agentImage: "img", timeouts: defaultTimeouts,
    });
    const first = decideRestoreJob(obs(rj, { kind: "wait", message: "later" }), NOW);
    expect(judge("RestoreJob", as(first.status)).state).to.equal("progressing");
    const then = decideRestoreJob(obs({ ...rj, status: first.status } as RestoreJob, { kind: "fail", reason: "BackupNotFound", message: 'Backup "ns/gone" not found' }), NOW);
    expect(judge("RestoreJob", as(then.status))).to.deep.include({ state: "problem", reason: "BackupNotFound" });
    const waiting = decideRestoreJob(obs({ ...rj, status: first.status } as RestoreJob, { kind: "wait", message: "Backup is New" }), NOW);
    expect(judge("RestoreJob", as(waiting.status ?? first.status)).state).to.equal("progressing");
  });

  it("APIManagerBackup/Restore: failureReason with a Failed condition; Running says what it does", () => {
    const b = decideAPIManagerBackup({
      name: "b", namespace: "ns", uid: "u", spec: { backupDestination: { persistentVolumeClaim: { resources: { requests: "1Gi" } } } }, status: {},
      apimanagers: [], destination: { kind: "pvc", claimName: "b" }, ownsBackup: false, now: NOW, options: {},
    });
    expect(judge("APIManagerBackup", as(b.status))).to.deep.include({ state: "problem", reason: "APIManagerNotFound" });
    const r = decideAPIManagerRestore({
      name: "r", namespace: "ns", uid: "u", status: {}, source: { ok: false, reason: "SourceNotFound", message: 'APIManagerBackup "ns/x" not found' },
      apimanagers: [], job: { pods: [] }, now: NOW, podStartMs: 1000, options: {},
    });
    expect(judge("APIManagerRestore", as(r.status))).to.deep.include({ state: "problem", reason: "SourceNotFound" });
    const running = decideAPIManagerRestore({
      name: "r", namespace: "ns", uid: "u", status: {}, source: { ok: true, kind: "pvc", claimName: "missing" }, apimanagers: [], job: { pods: [] }, now: NOW, podStartMs: 1000, options: {},
    });
    expect(judge("APIManagerRestore", as(running.status)).state).to.equal("progressing");
    expect(judge("APIManagerRestore", as({ completed: true })).state).to.equal("healthy");
    expect(judge("APIManagerRestore", as({ failureReason: "X: y" })).state, "failureReason without the Failed condition").to.equal("unclassified");
  });

  it("a catch-all reason does not count as naming the problem", () => {
    expect(judge("Backup", as({ phase: "Failed", failureReason: "Error: something" })).state).to.equal("unclassified");
    expect(judge("BackupTool", as({ conditions: [{ type: "Valid", status: "False", reason: "Unknown", message: "?" }] })).state).to.equal("unclassified");
  });

  it("cross-namespace rules apply only to the references resolved first", () => {
    const names = { xnsPolicy: "p-x", xnsBackup: "b-x" };
    expect(crossNamespaceRule("Backup", { backupPolicyName: "p-x" }, names)?.reasons).to.deep.equal(["PolicyNotFound"]);
    expect(crossNamespaceRule("RestoreJob", { backupJobName: "b-x" }, names)?.reasons).to.include("BackupNotFound");
    expect(crossNamespaceRule("Backup", { backupPolicyName: "mine", parentBackupName: "b-x" }, names)).to.equal(undefined);
    expect(crossNamespaceRule("Backup", { backupPolicyName: "p-x", importFrom: { backupRepoName: "r", path: "a/b" } }, names)).to.equal(undefined);
    expect(crossNamespaceRule("BackupPolicy", null, names)).to.equal(undefined);
  });
});
