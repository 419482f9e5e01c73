// Datafile backups end to end: the volume tool through dp-agent (1,000 files, restored
// byte-identical), a KubeBlocks 0.6-style plain-files tool restored by a RestoreJob, and deletion
// removing the data.
import { expect } from "chai";
import { join } from "node:path";
import { copyFile, readFile } from "node:fs/promises";
import { BatchV1Api, CoreV1Api } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { DataProtectionGroup, type BackupTool } from "@dataprotection/api";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilEventReasons } from "../harness.ts";
import {
  backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, deleteBackup, exists, getBackup, hostPathOf, installShared,
  expectRestoredTree, readTree, runJob, seedScript, startTargetPod, testTimeouts,
} from "./fixtures.ts";
import { createRestoreJob, createStatefulSet, waitReady, waitRestore } from "../restore/seed.ts";

describe("Backup: datafile backups through a Job", function () {
  this.timeout(240_000);
  let op: Operator;

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("backs up a PVC of 1,000 files with the volume tool, fills every status field, and the data restores byte-identical; deleting the Backup removes its data", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-volume");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(1000), [{ claim: "data", path: "/data" }]);
      const target = await startTargetPod(kc, ns.name, "db-0", { app: "db", "app.kubernetes.io/instance": "pg-cluster" });
      await createPolicy(kc, ns.name, "daily", datafilePolicy("volume"));
      await createBackup(kc, ns.name, "b1", "daily");

      const b = await backupInPhase(kc, ns.name, "b1", ["Completed"], 120_000);
      const s = b.status!;
      expect(s.phase).to.equal("Completed");
      expect(s.backupToolName).to.equal("volume");
      expect(s.backupRepoName).to.equal("e2e-backup-repo");
      expect(s.persistentVolumeClaimName).to.match(/^dp-backup-/);
      expect(s.sourceCluster).to.equal("pg-cluster");
      expect(Number.isNaN(Date.parse(s.startTimestamp!))).to.equal(false);
      expect(Date.parse(s.completionTimestamp!)).to.be.at.least(Date.parse(s.startTimestamp!));
      expect(s.duration).to.match(/^[0-9.hms]+$/);
      expect(Date.parse(s.expiration!) - Date.parse(s.startTimestamp!)).to.equal(7 * 24 * 3_600_000);
      expect(s.totalSize).to.match(/^[0-9.]+(Ki|Mi|Gi)?$/);
      const target0 = JSON.parse(s.manifests!.target!) as { podName: string; nodeName: string };
      expect(target0.podName).to.equal(target.metadata!.name);
      expect(target0.nodeName).to.equal("local-node-0");
      const bt = s.manifests!.backupTool!;
      expect(bt.filePath).to.equal(`/${ns.name}/b1`);
      expect(bt.volumeName).to.equal(s.persistentVolumeClaimName);
      expect(bt.uploadTotalSize).to.equal(s.totalSize);
      expect(bt.checksum).to.match(/^sha256:[0-9a-f]{64}$/);
      // One object (dir.dpar): its own size and checksum are the backup's.
      expect(bt.files).to.deep.equal([{ name: "dir.dpar", size: s.totalSize, checksum: bt.checksum }]);
      expect(Number.isNaN(Date.parse(bt.checkpoint!))).to.equal(false);
      const volume = await until("BackupTool volume validated", async () => {
        const t = await getCustom<BackupTool>(kc, DataProtectionGroup, "backuptools", undefined, "volume");
        return t?.status?.conditions?.find((c) => c.type === "Valid") ? t : undefined;
      });
      expect(volume.status!.conditions!.map((c) => `${c.type}=${c.status}`).sort()).to.deep.equal(["RestoreSupported=True", "Valid=True"]);
      // BackupCompleted is written in the background, after the status: wait for it.
      const reasons = (await untilEventReasons(kc, ns.name, "b1", ["BackupStarted", "BackupCompleted"])).map((e) => e.reason);
      expect(reasons).to.include.members(["BackupStarted", "BackupCompleted"]);

      // Restore with dp-agent into a fresh PVC and compare every byte with the source.
      await createPVC(kc, ns.name, "restored");
      await runJob(kc, ns.name, "restore", "dp-agent pull-dir /restore", [{ claim: s.persistentVolumeClaimName!, path: "/backupdata" }, { claim: "restored", path: "/restore" }], [
        { name: "DP_REPO_KIND", value: "filesystem" }, { name: "DP_REPO_PATH", value: "/backupdata" }, { name: "DP_BACKUP_PATH", value: `${ns.name}/b1` },
      ]);
      const source = await readTree(await hostPathOf(kc, ns.name, "data"));
      const restored = await readTree(await hostPathOf(kc, ns.name, "restored"));
      expect(source.size).to.equal(1000);
      expect([...restored.keys()].sort()).to.deep.equal([...source.keys()].sort());
      for (const [k, v] of source) expect(restored.get(k)!.equals(v), k).to.equal(true);

      // Deleting the Backup removes its data from the repo.
      const repoDir = await hostPathOf(kc, ns.name, s.persistentVolumeClaimName!);
      expect(await exists(join(repoDir, ns.name, "b1"))).to.equal(true);
      await deleteBackup(kc, ns.name, "b1");
      await until("Backup b1 gone", async () => ((await getBackup(kc, ns.name, "b1")) ? undefined : true), 60_000);
      expect(await exists(join(repoDir, ns.name, "b1"))).to.equal(false);
      // DataDeleted is recorded just before the finalizer goes and written asynchronously.
      const after = (await untilEventReasons(kc, ns.name, "b1", ["DeletingData", "DataDeleted"])).map((e) => e.reason);
      expect(after).to.include.members(["DeletingData", "DataDeleted"]);
    } finally {
      await ns.cleanup();
    }
  });

  it("refuses to restore a backup whose object and manifest a repo writer replaced with another backup's: VerificationFailed naming the object, target untouched", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-swap");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(30), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "daily", datafilePolicy("volume"));
      await createBackup(kc, ns.name, "old", "daily");
      await backupInPhase(kc, ns.name, "old", ["Completed"], 120_000);
      await runJob(kc, ns.name, "change", "echo changed > /data/dir0/file-0.bin", [{ claim: "data", path: "/data" }]);
      await createBackup(kc, ns.name, "new", "daily");
      const b = await backupInPhase(kc, ns.name, "new", ["Completed"], 120_000);
      expect(b.status!.manifests!.backupTool!.backupId, "the objects are bound to this Backup").to.equal(b.metadata!.uid);
      // The repo writer rolls "new" back to "old": object and manifest both, so manifest.json agrees.
      const repoDir = await hostPathOf(kc, ns.name, b.status!.persistentVolumeClaimName!);
      for (const f of ["dir.dpar", "manifest.json"]) await copyFile(join(repoDir, ns.name, "old", f), join(repoDir, ns.name, "new", f));

      await createStatefulSet(kc, ns.name, "restored", 1, { app: "restored" });
      await waitReady(kc, ns.name, "restored", 1);
      const before = await readTree(await hostPathOf(kc, ns.name, "data-restored-0"));
      await createRestoreJob(kc, ns.name, "from-new", { backupJobName: "new", labels: { app: "restored" }, claim: "data-restored-0" });
      const rj = await waitRestore(kc, ns.name, "from-new", "Failed");
      expect(rj.status!.failureReason).to.match(/^VerificationFailed: Backup ".*\/new" failed verification, the target was not touched: .*object "dir\.dpar" belongs to another backup/);
      expect(rj.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"], "nothing was scaled down").to.equal(undefined);
      expect([...(await readTree(await hostPathOf(kc, ns.name, "data-restored-0"))).keys()]).to.deep.equal([...before.keys()]);
    } finally {
      await ns.cleanup();
    }
  });

  it("runs a KubeBlocks 0.6-style tool that writes plain files into BACKUP_DIR with DB_HOST/DB_USER/DB_PASSWORD, unchanged, and restores it with the tool's own restore command after verifying the kept files", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await testNamespace(kc, "bk-kb06");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(20), [{ claim: "data", path: "/data" }]);
      await core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "pg-cred" }, stringData: { username: "postgres", password: "s3cret" } } });
      const target = await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "kb", datafilePolicy("kb-basebackup-files", {
        target: { labelsSelector: { matchExpressions: [{ key: "app", operator: "In", values: ["db"] }] }, secret: { name: "pg-cred", usernameKey: "username", passwordKey: "password" } },
      }));
      await createBackup(kc, ns.name, "kb1", "kb");
      const b = await backupInPhase(kc, ns.name, "kb1", ["Completed"], 120_000);
      const s = b.status!;
      expect(s.backupToolName).to.equal("kb-basebackup-files");
      expect(s.manifests!.backupTool!.checksum).to.match(/^sha256:[0-9a-f]{64}$/);
      expect((s.manifests!.backupTool!.files ?? []).map((f) => f.name).sort()).to.deep.equal(["backup.info", "base.tar"]);
      expect(s.totalSize).to.match(/Ki$/);
      const dir = join(await hostPathOf(kc, ns.name, s.persistentVolumeClaimName!), ns.name, "kb1");
      const info = await readFile(join(dir, "backup.info"), "utf8");
      expect(info).to.contain(`host=${target.status!.podIP} user=postgres password-sha=`);
      expect(info).to.not.contain("s3cret");
      const tar = await readFile(join(dir, "base.tar"));
      expect(tar.includes(Buffer.from("file-19.bin"))).to.equal(true);
      expect(s.manifests!.backupTool!.dataFormat).to.equal("PlainFiles");

      // A physical RestoreJob into a fresh StatefulSet's claim: verified, then untarred by the tool's command.
      await expectRestoredTree(kc, ns.name, "kb1", "data", 20);
    } finally {
      await ns.cleanup();
    }
  });

  it("backs up and restores with names of 200 characters (policy, Backup, RestoreJob): their children's labels hold bounded values, and each child still wakes its owner", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-longname");
    const long = (p: string) => `${p}-${"n".repeat(200 - p.length - 3)}-z`;
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(20), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, long("policy"), datafilePolicy("volume"));
      await createBackup(kc, ns.name, long("backup"), long("policy"));
      const b = await backupInPhase(kc, ns.name, long("backup"), ["Completed"], 120_000);
      expect(b.metadata!.name).to.have.length(200);
      const jobs = await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns.name });
      const tool = jobs.items.find((j) => j.metadata?.ownerReferences?.some((r) => r.uid === b.metadata!.uid));
      const value = tool?.metadata?.labels?.["dataprotection.kubeblocks.io/backup-name"];
      expect(value, "the tool Job's backup-name label").to.be.a("string");
      expect(value!.length).to.be.at.most(63);
      await expectRestoredTree(kc, ns.name, long("backup"), "data", 20);
    } finally {
      await ns.cleanup();
    }
  });
});

