// Table tests of snapshot backups: hooks -> VolumeSnapshots -> readyToUse -> post hook -> Completed,
// and what deleting a snapshot backup does to its VolumeSnapshots.
import { expect } from "chai";
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { Finalizer, type Backup, type BackupPolicy } from "@dataprotection/api";
import { Kinds } from "../kinds.ts";
import { decideDeletion } from "./delete.ts";
import { LabelBackupUID } from "./job.ts";
import { Reason } from "./reasons.ts";
import { buildVolumeSnapshot, claimsToSnapshot, decideSnapshot, snapshotApiUnavailable, type SnapshotObservation } from "./snapshot.ts";
import type { VolumeSnapshotObject } from "./snapshot-types.ts";
import { backup, createdJobs, job, NOW, pod, toolPod, writes } from "./testdata.ts";

const running = backup({ backupType: "snapshot" }, { phase: "InProgress", startTimestamp: "2024-05-01T09:59:00Z" });
const snapPolicy = (hooks?: { preCommands?: string[]; postCommands?: string[] }): BackupPolicy => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy", metadata: { name: "daily", namespace: "ns" },
  spec: { snapshot: { target: { labelsSelector: { matchLabels: { app: "db" } } }, ...(hooks ? { hooks } : {}) } },
});
const claim = (name: string, volumeType?: string): V1PersistentVolumeClaim => ({ metadata: { name, labels: volumeType ? { "kubeblocks.io/volume-type": volumeType } : {} } });
const snap = (name: string, status?: VolumeSnapshotObject["status"], created = "2024-05-01T09:59:30Z"): VolumeSnapshotObject => ({
  metadata: { name, namespace: "ns", creationTimestamp: created as unknown as Date }, spec: { source: { persistentVolumeClaimName: "data-0" } }, ...(status ? { status } : {}),
});
const target = pod("db-0", { app: "db" });

const base = (): SnapshotObservation => ({
  backup: running, policy: snapPolicy({ preCommands: ["sh", "-c", "pre"], postCommands: ["sh", "-c", "post"] }),
  target: { pod: target, container: target.spec!.containers[0] }, claims: [claim("data-0", "data")],
  preHook: { pods: [] }, postHook: { pods: [] }, snapshots: [], hookMs: 60_000, snapshotReadyMs: 60_000,
});
const ready = snap("b1", { readyToUse: true, restoreSize: "2Ki", boundVolumeSnapshotContentName: "snapcontent-1" });

describe("decideSnapshot", () => {
  const rows: Array<{ name: string; o: (o: SnapshotObservation) => SnapshotObservation; actions?: string[]; jobName?: string; phase?: string; reason?: string }> = [
    { name: "runs the pre hook Job first", o: (o) => o, actions: ["create Job"], jobName: "b1-prehook" },
    { name: "waits for a running pre hook", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", undefined, "2024-05-01T09:59:50Z"), pods: [] } }) },
    { name: "fails when the pre hook fails", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", "Failed"), pods: [] } }), phase: "Failed", reason: Reason.HookFailed },
    { name: "fails and stops a pre hook that outlives hookMs", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", undefined, "2024-05-01T09:00:00Z"), pods: [] } }), phase: "Failed", reason: Reason.HookFailed, actions: ["delete Job"] },
    { name: "snapshots the data claim once the pre hook completed", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", "Complete"), pods: [] } }), actions: ["snapshotNameFree", "create VolumeSnapshot"] },
    { name: "waits, bounded, for readyToUse", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", "Complete"), pods: [] }, snapshots: [snap("b1")] }) },
    { name: "fails a snapshot not ready within snapshotReadyMs", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", "Complete"), pods: [] }, snapshots: [snap("b1", undefined, "2024-05-01T09:00:00Z")] }), phase: "Failed", reason: Reason.SnapshotFailed },
    { name: "fails on a snapshot error", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", "Complete"), pods: [] }, snapshots: [snap("b1", { error: { message: "no space" } })] }), phase: "Failed", reason: Reason.SnapshotFailed },
    { name: "runs the post hook once every snapshot is ready", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", "Complete"), pods: [] }, snapshots: [ready] }), actions: ["create Job"], jobName: "b1-posthook" },
    { name: "completes after the post hook", o: (o) => ({ ...o, preHook: { job: job("b1-prehook", "Complete"), pods: [] }, postHook: { job: job("b1-posthook", "Complete"), pods: [] }, snapshots: [ready] }), phase: "Completed" },
    { name: "completes without hooks", o: (o) => ({ ...o, policy: snapPolicy(), snapshots: [ready] }), phase: "Completed" },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const d = decideSnapshot(r.o(base()), NOW);
      expect(writes(d)).to.deep.equal(r.actions ?? []);
      if (r.jobName) expect(createdJobs(d)[0].metadata?.name).to.equal(r.jobName);
      expect(d.status?.phase).to.equal(r.phase);
      if (r.reason) expect(d.status?.failureReason).to.match(new RegExp(`^${r.reason}: `));
    });
  }

  it("records the snapshot, its content and restoreSize as totalSize", () => {
    const d = decideSnapshot({ ...base(), policy: snapPolicy(), snapshots: [ready] }, NOW);
    expect(d.status).to.include({ totalSize: "2Ki", duration: "1m0s" });
    expect(d.status!.manifests!.backupSnapshot).to.deep.equal({ volumeSnapshotName: "b1", volumeSnapshotContentName: "snapcontent-1" });
  });
});

describe("decideSnapshot with backupStatusUpdates", () => {
  const pre = { updateStage: "pre" as const, path: "manifests.backupLog", script: "echo '{\"startTime\":\"2024-05-01T09:59:01Z\"}'" };
  const post = { updateStage: "post" as const, script: "echo '{\"totalSize\":\"9Gi\"}'" };
  const withUpdates = (o: SnapshotObservation): SnapshotObservation => ({ ...o, policy: snapPolicy(), pre: [{ update: pre, pods: [] }], post: [{ update: post, pods: [] }] });
  const done = (name: string, message: string) => ({ job: job(name, "Complete"), pods: [{ ...toolPod(undefined), status: { containerStatuses: [{ name: "status", image: "i", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 0, message } } }] } }] });

  it("runs the pre-stage Job on the target's node with the target container's image and env, before any snapshot", () => {
    const d = decideSnapshot(withUpdates(base()), NOW);
    expect(writes(d)).to.deep.equal(["create Job"]);
    const j = createdJobs(d)[0];
    expect(j.metadata?.name).to.equal("b1-status-pre-1");
    const c = j.spec!.template.spec!.containers[0];
    expect(c.name).to.equal("status");
    expect(c.image).to.equal(target.spec!.containers[0].image);
    expect(c.env!.map((e) => e.name)).to.include.members(["BACKUP_NAME", "DP_STATUS_SCRIPT"]);
    expect(JSON.stringify(j.spec!.template.spec!.affinity)).to.contain(target.spec!.nodeName ?? "");
  });

  it("merges the pre-stage output into status in the pass that creates the snapshots, and the post-stage output into Completed", () => {
    const preDone = { ...withUpdates(base()), pre: [{ update: pre, ...done("b1-status-pre-1", '{"startTime":"2024-05-01T09:59:01Z"}') }] };
    const d1 = decideSnapshot(preDone, NOW);
    expect(writes(d1)).to.deep.equal(["snapshotNameFree", "create VolumeSnapshot"]);
    expect(d1.status?.manifests?.backupLog).to.deep.equal({ startTime: "2024-05-01T09:59:01Z" });
    expect(d1.events!.map((e) => e.reason)).to.deep.equal([Reason.StatusUpdated, Reason.SnapshotCreated]);

    const ready1 = { ...preDone, snapshots: [ready] };
    const d2 = decideSnapshot(ready1, NOW);
    expect(writes(d2)).to.deep.equal(["create Job"]);
    expect(createdJobs(d2)[0].metadata?.name).to.equal("b1-status-post-1");
    expect(d2.status).to.equal(undefined);

    const d3 = decideSnapshot({ ...ready1, post: [{ update: post, ...done("b1-status-post-1", '{"totalSize":"9Gi"}') }] }, NOW);
    expect(d3.status).to.include({ phase: "Completed", totalSize: "9Gi" });
    expect(d3.events!.map((e) => e.reason)).to.deep.equal([Reason.StatusUpdated, Reason.BackupCompleted]);
  });

  it("a failed update only warns: the backup still completes", () => {
    const d = decideSnapshot({ ...withUpdates(base()), pre: [], snapshots: [ready], post: [{ update: post, job: job("b1-status-post-1", "Failed"), pods: [] }] }, NOW);
    expect(d.status?.phase).to.equal("Completed");
    expect(d.events![0]).to.include({ type: "Warning", reason: Reason.StatusUpdateFailed });
  });
});

describe("snapshotApiUnavailable", () => {
  it("fails the backup naming what to install and the datafile alternative", () => {
    const d = snapshotApiUnavailable(backup({ backupType: "snapshot" }), NOW);
    expect(d.status?.phase).to.equal("Failed");
    expect(d.status?.failureReason).to.match(/^SnapshotAPIUnavailable: this cluster does not serve snapshot.storage.k8s.io\/v1 VolumeSnapshots: install/);
    expect(d.events![0]).to.include({ type: "Warning", reason: Reason.SnapshotAPIUnavailable });
  });
});

describe("claimsToSnapshot and buildVolumeSnapshot", () => {
  it("takes the data and log claims when labelled, every claim otherwise", () => {
    const p = { ...target, spec: { ...target.spec!, volumes: [{ name: "a", persistentVolumeClaim: { claimName: "data-0" } }, { name: "b", persistentVolumeClaim: { claimName: "log-0" } }, { name: "c", persistentVolumeClaim: { claimName: "tmp-0" } }] } };
    expect(claimsToSnapshot(p, [claim("data-0", "data"), claim("log-0", "log"), claim("tmp-0")])).to.deep.equal([{ claim: "data-0", volumeType: "data" }, { claim: "log-0", volumeType: "log" }]);
    expect(claimsToSnapshot(p, [])).to.have.length(3);
    // The pod lists log before data: data still comes first (it names the Backup's snapshot).
    const reversed = { ...p, spec: { ...p.spec, volumes: [...p.spec.volumes].reverse() } };
    expect(claimsToSnapshot(reversed, [claim("data-0", "data"), claim("log-0", "log")]).map((c) => c.claim)).to.deep.equal(["data-0", "log-0"]);
  });

  it("labels the snapshot with its Backup's name and uid and gives it no owner reference (protected ones outlive the Backup)", () => {
    const s = buildVolumeSnapshot(backup(), "b1", "data-0", "data");
    expect(s.metadata.ownerReferences).to.equal(undefined);
    expect(s.metadata.labels).to.include({ "dataprotection.kubeblocks.io/backup-name": "b1", [LabelBackupUID]: "uid-b1", "kubeblocks.io/volume-type": "data" });
  });
});

describe("decideDeletion of snapshot backups", () => {
  const done: Backup = backup({ backupType: "snapshot" }, { phase: "Completed", startTimestamp: "2024-05-01T09:00:00Z", manifests: { backupSnapshot: { volumeSnapshotName: "b1" } } });
  const obs = { backup: done, children: [], deletePods: [], activeJobs: [], hasStatefulSet: false, snapshots: ["b1", "b1-log-1"], agentImage: "agent", repoInUse: false };

  it("deletes the VolumeSnapshots of an unprotected backup", () => {
    const d = decideDeletion(obs, NOW);
    expect(d.deletes).to.deep.equal([{ kind: Kinds.VolumeSnapshot, name: "b1", namespace: "ns" }, { kind: Kinds.VolumeSnapshot, name: "b1-log-1", namespace: "ns" }]);
    expect(d.finalizer).to.deep.equal({ remove: Finalizer });
  });

  it("keeps the VolumeSnapshots of a protected backup and says so", () => {
    const d = decideDeletion({ ...obs, backup: { ...done, metadata: { ...done.metadata, labels: { "dataprotection.kubeblocks.io/backup-protection": "retain" } } } }, NOW);
    expect(writes(d)).to.deep.equal([]);
    expect(d.finalizer).to.deep.equal({ remove: Finalizer });
    expect(d.events![0]).to.include({ reason: Reason.DataRetained });
    expect(d.events![0].message).to.contain("VolumeSnapshot(s) b1, b1-log-1 are kept");
  });
});
