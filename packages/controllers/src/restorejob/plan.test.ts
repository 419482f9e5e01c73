import { expect } from "chai";
import type { Backup, BackupTool } from "@dataprotection/api";
import { planRestore, type PlanResult } from "./plan.ts";
import { backup, repo, restoreJob, tool } from "./fixtures.test-util.ts";

const inc = tool("vol", { physical: ["full"], incr: ["incr"] });
function plan(backups: Backup[], o: { backup?: string; restoreTime?: string; tools?: BackupTool[] } = {}): PlanResult {
  return planRestore({
    restore: restoreJob({ backup: o.backup, restoreTime: o.restoreTime }),
    backups,
    tools: new Map((o.tools ?? [inc, tool("pitr", { physical: ["replay"] })]).map((x) => [x.metadata!.name!, x])),
    repos: new Map([["repo", repo()]]),
  });
}
const steps = (p: PlanResult) => (p.kind === "ok" ? p.plan.steps.map((s) => `${s.kind}:${s.backup.metadata.name}`) : [`${p.kind}:${"reason" in p ? p.reason : p.message}`]);

describe("restorejob plan", () => {
  it("restores a full backup in one base step and verifies it", () => {
    const p = plan([backup("full")]);
    expect(steps(p)).to.deep.equal(["base:full"]);
    if (p.kind === "ok") expect(p.plan.verify.map((b) => b.metadata.name)).to.deep.equal(["full"]);
  });

  it("verifies plain files and sealed plain files too, but refuses a chain that mixes them (one BACKUP_DIR layout per pod)", () => {
    for (const format of ["PlainFiles", "SealedPlainFiles"] as const) {
      const p = plan([backup("full", { format })]);
      expect(p.kind === "ok" && p.plan.verify.map((b) => b.metadata.name)).to.deep.equal(["full"]);
    }
    const mixed = plan([backup("b0", { format: "PlainFiles" }), backup("i1", { parent: "b0", chain: ["b0"], format: "SealedPlainFiles" })], { backup: "i1" });
    expect(steps(mixed)).to.deep.equal(["fail:MixedDataFormats"]);
  });

  it("refuses node-level targetVolumes (hostPath, gitRepo, flexVolume) unless the operator allows them, mount paths with '..', and a recorded filePath that climbs out", () => {
    const rj = restoreJob({ backup: "full" });
    rj.spec.targetVolumes = [{ name: "node", hostPath: { path: "/etc" } }];
    const tools = new Map([["vol", inc]]);
    const repos = new Map([["repo", repo()]]);
    const hostPath = planRestore({ restore: rj, backups: [backup("full")], tools, repos });
    expect(hostPath.kind === "fail" && [hostPath.reason, hostPath.message]).to.deep.equal(["InvalidRestoreJob", 'RestoreJob "ns/rj" .spec.targetVolumes "node" is a hostPath volume: a restore may write only into the workload\'s claims (an operator started with DP_ALLOW_HOSTPATH_RESTORE=true allows node-level volumes: hostPath, gitRepo, flexVolume)']);
    expect(planRestore({ restore: rj, backups: [backup("full")], tools, repos, allowHostPath: true }).kind).to.equal("ok");
    for (const v of [{ name: "git", gitRepo: { repository: "https://example.com/x.git" } }, { name: "flex", flexVolume: { driver: "vendor/driver" } }]) {
      const nodeLevel = restoreJob({ backup: "full" });
      nodeLevel.spec.targetVolumes = [v];
      const r = planRestore({ restore: nodeLevel, backups: [backup("full")], tools, repos });
      expect(r.kind === "fail" && [r.reason, r.message.split(":")[0]]).to.deep.equal(["InvalidRestoreJob", `RestoreJob "ns/rj" .spec.targetVolumes "${v.name}" is a ${Object.keys(v)[1]} volume`]);
      expect(planRestore({ restore: nodeLevel, backups: [backup("full")], tools, repos, allowHostPath: true }).kind).to.equal("ok");
    }
    // Storage the pod is given, node-independent: never refused.
    const storage = restoreJob({ backup: "full" });
    storage.spec.targetVolumes = [
      { name: "scratch", ephemeral: { volumeClaimTemplate: { spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Gi" } } } } } },
      { name: "ebs", awsElasticBlockStore: { volumeID: "vol-1" } },
      { name: "nfs", nfs: { server: "nfs.example.com", path: "/exports/db" } },
    ];
    expect(planRestore({ restore: storage, backups: [backup("full")], tools, repos }).kind).to.equal("ok");
    const mounts = restoreJob({ backup: "full" });
    mounts.spec.targetVolumeMounts = [{ name: "data", mountPath: "/data", subPath: "../../x" }];
    const m = planRestore({ restore: mounts, backups: [backup("full")], tools, repos });
    expect(m.kind === "fail" && m.message).to.contain('contains ".."');
    const climbing = backup("full");
    climbing.status!.manifests!.backupTool!.filePath = "/ns/../../etc";
    const c = planRestore({ restore: restoreJob({ backup: "full" }), backups: [climbing], tools, repos });
    expect(c.kind === "fail" && c.reason).to.equal("InvalidRestoreJob");
  });

  it("refuses a RestoreJob in a namespace the repo's namespaceSelector does not admit", () => {
    const guarded = { ...repo(), spec: { ...repo().spec, namespaceSelector: { matchExpressions: [{ key: "team", operator: "In", values: ["a"] }] } } } as ReturnType<typeof repo>;
    const run = (labels: Record<string, string>) => planRestore({ restore: restoreJob({ backup: "full" }), backups: [backup("full")], tools: new Map([["vol", inc]]), repos: new Map([["repo", guarded]]), namespaceLabels: labels });
    const refused = run({ team: "b" });
    expect(refused.kind === "fail" && [refused.reason, refused.message.slice(0, 47)]).to.deep.equal(["RepoNotAllowed", 'BackupRepo "repo" does not allow namespace "ns"']);
    expect(run({ team: "a" }).kind).to.equal("ok");
  });

  it("restores an incremental chain base first, in the recorded order", () => {
    const bs = [backup("b0"), backup("i1", { parent: "b0", chain: ["b0"] }), backup("i2", { parent: "i1", chain: ["b0", "i1"] })];
    expect(steps(plan(bs, { backup: "i2" }))).to.deep.equal(["base:b0", "incremental:i1", "incremental:i2"]);
  });

  it("walks parentBackupName when the chain is not recorded", () => {
    const bs = [backup("b0"), backup("i1", { parent: "b0" }), backup("i2", { parent: "i1" })];
    expect(steps(plan(bs, { backup: "i2" }))).to.deep.equal(["base:b0", "incremental:i1", "incremental:i2"]);
  });

  it("fails when a backup of the chain is missing, naming it", () => {
    const p = plan([backup("i1", { parent: "b0", chain: ["b0"] })], { backup: "i1" });
    expect(p.kind).to.equal("fail");
    if (p.kind === "fail") expect(p.message).to.equal('Backup "ns/i1" needs Backup "ns/b0" of its incremental chain, which is missing: restore a backup whose chain is complete');
  });

  it("fails when the tool has no incrementalRestoreCommands for an incremental step", () => {
    const bs = [backup("b0"), backup("i1", { parent: "b0", chain: ["b0"] })];
    const p = plan(bs, { backup: "i1", tools: [tool("vol", { physical: ["full"] })] });
    expect(p.kind === "fail" && p.reason).to.equal("NoRestoreCommands");
  });

  it("plans a point-in-time restore as base then the logfile replay", () => {
    const bs = [
      backup("full", { start: "2024-05-01T10:00:00Z", stop: "2024-05-01T10:05:00Z" }),
      backup("log", { type: "logfile", tool: "pitr", start: "2024-05-01T09:00:00Z", stop: "2024-05-01T11:00:00Z" }),
    ];
    const p = plan(bs, { restoreTime: "2024-05-01T10:30:00Z" });
    expect(steps(p)).to.deep.equal(["base:full", "logfile:log"]);
    if (p.kind === "ok") expect(p.plan.pitr?.time.toISOString()).to.equal("2024-05-01T10:30:00.000Z");
  });

  it("refuses a malformed restoreTime", () => {
    const p = plan([backup("full")], { restoreTime: "yesterday" });
    expect(p.kind === "fail" && p.reason).to.equal("RestoreTimeInvalid");
  });

  it("fails when the tool is gone, naming it", () => {
    const p = plan([backup("full", { tool: "gone" })]);
    expect(p.kind === "fail" && p.message).to.equal('cannot restore Backup "ns/full": BackupTool "gone" not found: create it');
  });

  it("plans a snapshot backup without verification", () => {
    const p = plan([backup("snap", { type: "snapshot", snapshot: "vs-1", checksum: false })], { backup: "snap" });
    expect(p.kind === "ok" && [p.plan.volumeSnapshotName, p.plan.verify.length]).to.deep.equal(["vs-1", 0]);
  });
});
