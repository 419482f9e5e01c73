// backupStatusUpdates: the Job built from the tool Job and the target, the wrapper that turns stdout
// into the termination message, merging at `path`, and the datafile stages around the tool Job.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { BackupStatusUpdate } from "@dataprotection/api";
import { decideDatafile } from "./decide.ts";
import { pvcAccess } from "./destination.ts";
import { buildBackupJob } from "./job.ts";
import { Reason } from "./reasons.ts";
import { BACKUP_INFO_READER, buildStatusUpdateJob, followStatusUpdates, mergeAtPath, STATUS_SCRIPT_WRAPPER, type ObservedUpdate } from "./statusupdate.ts";
import { Kinds } from "../kinds.ts";
import { backup, createdJobs, job, NOW, pod, tool, toolPod, writes } from "./testdata.ts";
import { AnnotationRunAsRoot } from "./job.ts";

const target = (() => {
  const p = pod("db-0", { app: "db" });
  p.spec!.serviceAccountName = "db-sa";
  p.spec!.containers[0].env = [{ name: "PGDATA", value: "/data/pg" }];
  return { pod: p, container: p.spec!.containers[0] };
})();
const toolJob = buildBackupJob({ backup: backup(), tool: tool(), target, access: pvcAccess("repo-pvc"), env: [{ name: "BACKUP_DIR", value: "/backupdata/ns/b1" }], command: ["x"] }, 0);
const upd = (over: Partial<BackupStatusUpdate> = {}): BackupStatusUpdate => ({ updateStage: "post", path: "manifests.backupLog", script: "echo '{\"startTime\":\"a\"}'", ...over });
const statusPod = (message: string): V1Pod => ({
  metadata: { name: "p" },
  status: { containerStatuses: [{ name: "status", image: "", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode: 0, message } } }] },
});

function runWrapped(script: string, env: Record<string, string>): { code: number; message: string } {
  const dir = mkdtempSync(join(tmpdir(), "dp-status-"));
  const term = join(dir, "term");
  writeFileSync(term, "");
  let code = 0;
  try {
    execFileSync("sh", ["-c", script.replaceAll("/dev/termination-log", term)], { env: { ...process.env, ...env }, stdio: "ignore" });
  } catch (e) {
    code = (e as { status: number }).status;
  }
  return { code, message: readFileSync(term, "utf8") };
}

describe("backupStatusUpdates: the Job", () => {
  it("runs the script in the target container's image and env, on the tool pod's volumes and node, without a token", () => {
    const j = buildStatusUpdateJob(backup(), upd(), "post", 0, toolJob, target);
    expect(j.metadata?.name).to.equal("b1-status-post-1");
    const spec = j.spec!.template.spec!;
    expect(spec.automountServiceAccountToken).to.equal(false);
    expect(spec.serviceAccountName).to.equal(undefined);
    expect(spec.affinity).to.deep.equal(toolJob.spec!.template.spec!.affinity);
    expect(spec.volumes!.map((v) => v.name)).to.deep.equal(["data", "dp-backup-data"]);
    const c = spec.containers[0];
    expect(c.image).to.equal("pg");
    expect(c.env!.map((e) => e.name)).to.deep.equal(["PGDATA", "BACKUP_DIR", "DP_STATUS_SCRIPT"]);
    expect(c.command).to.deep.equal(["sh", "-c", STATUS_SCRIPT_WRAPPER]);
  });

  it("never inherits the root a tool asked for, and never reruns a tool that ran as an init container (sealed layout)", () => {
    const rootTool = { ...tool(), metadata: { name: "volume", annotations: { [AnnotationRunAsRoot]: "true" } } };
    const rootJob = buildBackupJob({ backup: backup(), tool: rootTool, target, access: pvcAccess("repo-pvc"), env: [{ name: "BACKUP_DIR", value: "/backupdata/ns/b1" }], command: ["x"], sealImage: "agent:1" }, 0);
    expect(rootJob.spec!.template.spec!.securityContext).to.deep.equal({ runAsUser: 0, runAsNonRoot: false });
    const spec = buildStatusUpdateJob(backup(), upd(), "post", 0, rootJob, target).spec!.template.spec!;
    expect(spec.securityContext).to.deep.equal({ runAsNonRoot: true, runAsUser: 65532 });
    expect(spec.initContainers).to.equal(undefined);
    expect(spec.containers.map((c) => c.name)).to.deep.equal(["status"]);
    expect(spec.containers[0]!.env!.map((e) => e.name)).to.deep.equal(["PGDATA", "BACKUP_DIR", "DP_STATUS_SCRIPT"]);
  });

  it("uses the target pod's ServiceAccount when useTargetPodServiceAccount is set", () => {
    const spec = buildStatusUpdateJob(backup(), upd({ useTargetPodServiceAccount: true }), "pre", 0, toolJob, target).spec!.template.spec!;
    expect([spec.serviceAccountName, spec.automountServiceAccountToken]).to.deep.equal(["db-sa", true]);
  });

  it("reads backup.info with the tool's image when there is no script", () => {
    const c = buildStatusUpdateJob(backup(), upd({ script: undefined }), "post", 0, toolJob, target).spec!.template.spec!.containers[0];
    expect(c.image).to.equal("img");
    expect(c.command).to.deep.equal(["sh", "-c", BACKUP_INFO_READER]);
  });

  it("wraps the script: stdout becomes the termination message, the exit status is kept", () => {
    expect(runWrapped(STATUS_SCRIPT_WRAPPER, { DP_STATUS_SCRIPT: `echo '{"a":1}'` })).to.deep.equal({ code: 0, message: '{"a":1}' });
    // A failure leaves the message to the kubelet (FallbackToLogsOnError: the log, with stderr).
    expect(runWrapped(STATUS_SCRIPT_WRAPPER, { DP_STATUS_SCRIPT: "echo partial; exit 4" })).to.deep.equal({ code: 4, message: "" });
  });

  it("prints backup.info when the tool wrote one, nothing otherwise", () => {
    const dir = mkdtempSync(join(tmpdir(), "dp-info-"));
    expect(runWrapped(BACKUP_INFO_READER, { BACKUP_DIR: dir })).to.deep.equal({ code: 0, message: "" });
    writeFileSync(join(dir, "backup.info"), '{"userContext":{"lsn":"0/3000"}}');
    expect(runWrapped(BACKUP_INFO_READER, { BACKUP_DIR: dir }).message).to.equal('{"userContext":{"lsn":"0/3000"}}');
  });
});

describe("mergeAtPath", () => {
  it("deep-merges at a dotted path, creating what is missing and keeping siblings", () => {
    const s = { phase: "InProgress" as const, manifests: { backupLog: { startTime: "t0" }, backupTool: { filePath: "/x" } } };
    expect(mergeAtPath(s, "manifests.backupLog", { stopTime: "t1" })).to.deep.equal({ phase: "InProgress", manifests: { backupLog: { startTime: "t0", stopTime: "t1" }, backupTool: { filePath: "/x" } } });
    expect(mergeAtPath(s, "manifests.userContext", { a: "1" }).manifests!.userContext).to.deep.equal({ a: "1" });
    expect(mergeAtPath(s, undefined, { totalSize: "1Ki" })).to.include({ totalSize: "1Ki", phase: "InProgress" });
    expect(s.manifests).to.not.have.property("userContext");
  });
});

describe("followStatusUpdates", () => {
  const done = (message: string, cond: "Complete" | "Failed" = "Complete"): ObservedUpdate => ({ update: upd(), job: job("b1-status-post-1", cond), pods: [statusPod(message)] });
  const rows: Array<{ name: string; obs: ObservedUpdate[]; done: boolean; event?: string; merged?: unknown; stop?: string[] }> = [
    { name: "waits for a Job not seen yet", obs: [{ update: upd(), pods: [] }], done: false },
    { name: "waits for a running Job within hookMs", obs: [{ update: upd(), job: job("b1-status-post-1", undefined, "2024-05-01T09:59:50Z"), pods: [] }], done: false },
    { name: "merges a JSON object at path", obs: [done('{"startTime":"a","stopTime":"b"}')], done: true, event: Reason.StatusUpdated, merged: { startTime: "a", stopTime: "b" } },
    { name: "only warns on output that is not JSON", obs: [done("not json")], done: true, event: Reason.StatusUpdateFailed },
    { name: "only warns on a failed script", obs: [done("boom", "Failed")], done: true, event: Reason.StatusUpdateFailed },
    { name: "stops a Job that outlived hookMs and warns", obs: [{ update: upd(), job: job("b1-status-post-1", undefined, "2024-05-01T09:00:00Z"), pods: [] }], done: true, event: Reason.StatusUpdateFailed, stop: ["b1-status-post-1"] },
  ];
  for (const r of rows) {
    it(r.name, () => {
      const s = followStatusUpdates("b1", "post", r.obs, { manifests: {} }, 60_000, NOW);
      expect(s.done).to.equal(r.done);
      if (!s.done) return expect(s.stop).to.deep.equal([]);
      expect(s.events.map((e) => e.reason)).to.deep.equal([r.event]);
      expect(s.stop).to.deep.equal(r.stop ?? []);
      if (r.merged) expect(s.status.manifests!.backupLog).to.deep.equal(r.merged);
    });
  }
});

describe("decideDatafile with backupStatusUpdates", () => {
  const running = backup({}, { phase: "InProgress", startTimestamp: "2024-05-01T09:59:00Z", manifests: { backupTool: { filePath: "/ns/b1" } } });
  const suspended: V1Job = { ...job("b1-backup-1"), spec: { ...job("b1-backup-1").spec!, suspend: true } };

  it("keeps the tool Job suspended while a pre update runs, then merges it and resumes the Job", () => {
    const pre: ObservedUpdate = { update: upd({ updateStage: "pre", path: "manifests.userContext" }), job: job("b1-status-pre-1"), pods: [] };
    const waiting = decideDatafile({ backup: running, job: suspended, pods: [], onFailAttempted: 0, podStartMs: 1, pre: [pre] }, NOW);
    expect(writes(waiting)).to.deep.equal([]);
    expect(waiting.status).to.equal(undefined);
    const finished = { ...pre, job: job("b1-status-pre-1", "Complete"), pods: [statusPod('{"lsn":"0/3000"}')] };
    const d = decideDatafile({ backup: running, job: suspended, pods: [], onFailAttempted: 0, podStartMs: 1, pre: [finished] }, NOW);
    expect(writes(d)).to.deep.equal(["patch Job"]);
    expect(d.patches).to.deep.equal([{ kind: Kinds.Job, name: "b1-backup-1", namespace: "ns", patch: { spec: { suspend: false } } }]);
    expect(d.status).to.deep.equal({ ...running.status, manifests: { backupTool: { filePath: "/ns/b1" }, userContext: { lsn: "0/3000" } } });
  });

  it("runs post updates after the tool Job and completes with their result merged", () => {
    const obs = { backup: running, job: job("b1-backup-1", "Complete"), pods: [toolPod('{"totalSize":2048}')], onFailAttempted: 0, podStartMs: 1, target };
    const create = decideDatafile({ ...obs, post: [{ update: upd(), pods: [] }] }, NOW);
    expect(writes(create)).to.deep.equal(["create Job"]);
    expect(createdJobs(create).map((j) => j.metadata?.name)).to.deep.equal(["b1-status-post-1"]);
    expect(create.status).to.equal(undefined);
    const d = decideDatafile({ ...obs, post: [{ update: upd(), job: job("b1-status-post-1", "Complete"), pods: [statusPod('{"startTime":"s","stopTime":"e"}')] }] }, NOW);
    expect(d.status).to.include({ phase: "Completed", totalSize: "2Ki" });
    expect(d.status!.manifests!.backupLog).to.deep.equal({ startTime: "s", stopTime: "e" });
    expect(d.status!.manifests!.backupTool).to.include({ filePath: "/ns/b1", uploadTotalSize: "2Ki" });
    expect(d.events!.map((e) => e.reason)).to.deep.equal([Reason.StatusUpdated, Reason.BackupCompleted]);
  });

  it("does not count a suspended Job's wait against podStartMs", () => {
    const d = decideDatafile({ backup: running, job: { ...job("b1-backup-1", undefined, "2024-05-01T09:00:00Z"), status: { startTime: "2024-05-01T09:59:59Z" as unknown as Date } }, pods: [], onFailAttempted: 0, podStartMs: 60_000 }, NOW);
    expect(d.status?.phase).to.equal(undefined);
  });
});
