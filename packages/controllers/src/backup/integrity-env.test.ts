// Every dp-agent container the operator runs for a Backup knows which Backup it is (DP_BACKUP_ID).
import { expect } from "chai";
import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import type { Backup } from "@dataprotection/api";
import { repoAccessFor } from "../backuprepo/access.ts";
import { startDatafile } from "./decide.ts";
import { pvcAccess } from "./destination.ts";
import { integrityEnv, toolEnv } from "./env.ts";
import { buildLogStatefulSet } from "./logfile.ts";
import { backup, createdJobs, NOW, pod, policy, repo, tool } from "./testdata.ts";
import { validateNewBackup, type BackupPlan } from "./validate.ts";

const envOf = (env: V1EnvVar[] | undefined): Record<string, string | undefined> => Object.fromEntries((env ?? []).map((e) => [e.name, e.value]));
const SUM = `sha256:${"c".repeat(64)}`;

function plan(over: { parent?: Backup } = {}): BackupPlan {
  const v = validateNewBackup({
    backup: backup(over.parent ? { parentBackupName: over.parent.metadata!.name } : {}),
    policy: policy(),
    tool: tool(over.parent ? { incrementalBackupCommands: ["x"] } : {}),
    repos: [repo()],
    pods: [pod("db-0", { app: "db" })],
    now: NOW,
    targetPodWaitMs: 60_000,
    parent: over.parent,
  });
  if (v.kind !== "ok") throw new Error(JSON.stringify(v));
  return v.plan;
}

function containers(d: ReturnType<typeof startDatafile>): V1Container[] {
  const [job] = createdJobs(d);
  if (!job) throw new Error("no Job");
  const spec = job.spec!.template.spec!;
  return [...(spec.initContainers ?? []), ...spec.containers];
}

const encrypted = repoAccessFor({ apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupRepo", metadata: { name: "repo" }, spec: { storageProviderRef: "p", pvReclaimPolicy: "Retain", encryption: { algorithm: "AES-256-GCM", keySecretRef: { name: "k", namespace: "default", key: "key" } } } });

describe("DP_BACKUP_ID in the Backup's containers", () => {
  it("toolEnv puts the Backup's uid after DP_BACKUP_PATH, before the tool's own env, and none without one", () => {
    const t = tool({ env: [{ name: "DATA_DIR", value: "/data" }] });
    const env = toolEnv({ backupName: "b1", filePath: "/ns/b1", access: pvcAccess("repo-pvc"), tool: t, backupId: "uid-b1" });
    expect(env.map((e) => e.name).slice(-4)).to.deep.equal(["DP_BACKUP_PATH", "DP_BACKUP_ID", "DP_TOOL", "DATA_DIR"]);
    expect(envOf(env).DP_BACKUP_ID).to.equal("uid-b1");
    expect(toolEnv({ backupName: "b1", filePath: "/ns/b1", access: pvcAccess("repo-pvc"), tool: t }).map((e) => e.name)).to.not.include("DP_BACKUP_ID");
  });

  it("gives the tool container and, in the sealed layout, the seal container the Backup's uid", () => {
    const p = plan();
    p.destination = { repoName: "repo", access: pvcAccess("dp-backup-repo") };
    expect(containers(startDatafile(backup(), p, NOW, "agent")).map((c) => [c.name, envOf(c.env).DP_BACKUP_ID])).to.deep.equal([["backup", "uid-b1"]]);
    p.destination = { repoName: "repo", access: encrypted };
    expect(containers(startDatafile(backup(), p, NOW, "agent")).map((c) => [c.name, envOf(c.env).DP_BACKUP_ID])).to.deep.equal([["backup", "uid-b1"], ["seal", "uid-b1"]]);
  });

  it("unseals a sealed parent for an incremental tool with the parent's uid and recorded checksums, not the child's", () => {
    const parent: Backup = {
      ...backup(),
      metadata: { name: "p0", namespace: "ns", uid: "uid-p0" },
      status: { phase: "Completed", backupRepoName: "repo", manifests: { backupTool: { filePath: "/ns/p0", dataFormat: "SealedPlainFiles", backupId: "uid-p0", files: [{ name: "plain-files.dpar", checksum: SUM }] } } },
    };
    const p = plan({ parent });
    p.destination = { repoName: "repo", access: encrypted };
    const all = containers(startDatafile(backup({ parentBackupName: "p0" }), p, NOW, "agent"));
    expect(all.map((c) => c.name)).to.deep.equal(["unseal-parent", "backup", "seal"]);
    expect(envOf(all[0]!.env)).to.include({ DP_BACKUP_PATH: "ns/p0", DP_BACKUP_ID: "uid-p0", DP_EXPECT_CHECKSUMS: JSON.stringify({ "plain-files.dpar": SUM }) });
    expect(envOf(all[1]!.env)).to.include({ DP_BACKUP_ID: "uid-b1" });
  });

  it("gives the log archiver's StatefulSet the Backup's uid", () => {
    const p = plan();
    p.destination = { repoName: "repo", access: pvcAccess("dp-backup-repo") };
    const sts = buildLogStatefulSet(backup({ backupType: "logfile" }), p);
    expect(envOf(sts.spec!.template.spec!.containers[0]!.env).DP_BACKUP_ID).to.equal("uid-b1");
  });

  it("integrityEnv: the backup id the status recorded, then the recorded checksums when every file has one", () => {
    const b = backup({}, { manifests: { backupTool: { backupId: "uid-b1", files: [{ name: "a", checksum: SUM }] } } });
    expect(integrityEnv(b)).to.deep.equal([{ name: "DP_BACKUP_ID", value: "uid-b1" }, { name: "DP_EXPECT_CHECKSUMS", value: JSON.stringify({ a: SUM }) }]);
    expect(integrityEnv(backup({}, { manifests: { backupTool: { backupId: "uid-b1", files: [{ name: "a" }] } } }))).to.deep.equal([{ name: "DP_BACKUP_ID", value: "uid-b1" }]);
    // Made before objects were bound: no id recorded, none given (the uid is not a substitute).
    expect(integrityEnv(backup({}, { manifests: { backupTool: { files: [{ name: "a", checksum: SUM }] } } })).map((e) => e.name)).to.deep.equal(["DP_EXPECT_CHECKSUMS"]);
  });
});
