// An incremental KubeBlocks 0.6-style tool: its backups are plain files, and an incremental
// backup reads its parent's files at ${PARENT_BACKUP_DIR} (kept in place on a PVC repo, unsealed
// there first on an encrypted repo). A RestoreJob of the last link restores base then increment
// with the tool's own scripts; the restored files equal the source at the increment's time. Deleting
// the Backups removes their data from the repo.
import { expect } from "chai";
import type { KubeConfig } from "@kubernetes/client-node";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { DataProtectionGroup, type BackupTool } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, until } from "../harness.ts";
import {
  backupInPhase, createBackup, createEncryptedRepo, createPolicy, createPVC, datafilePolicy, deleteBackup, exists, expectRestoredTree, getBackup, hostPathOf, installShared, REPO, runJob,
  seedScript, startTargetPod, testTimeouts,
} from "./fixtures.ts";

const V = "v1alpha1";
const ENC_REPO = "plainincr-encrypted";

// Full: every file in full.tar plus sums.txt. Incremental: the files whose sum differs from the
// parent's sums.txt (read at PARENT_BACKUP_DIR) in changed.tar, plus the new sums.txt.
const tool: BackupTool = {
  apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool", metadata: { name: "kb06-incremental-files" },
  spec: {
    image: "busybox", deployKind: "job", type: "file",
    env: [{ name: "DATA_DIR", value: "/data" }],
    backupCommands: ["sh", "-c", 'set -e; mkdir -p ${BACKUP_DIR}; cd ${DATA_DIR}; find . -type f | LC_ALL=C sort | xargs sha256sum > ${BACKUP_DIR}/sums.txt; tar -cf ${BACKUP_DIR}/full.tar .'],
    incrementalBackupCommands: ["sh", "-c", [
      "set -e",
      'test -f ${PARENT_BACKUP_DIR}/sums.txt || { echo "no parent files at ${PARENT_BACKUP_DIR}"; exit 1; }',
      "mkdir -p ${BACKUP_DIR}; cd ${DATA_DIR}",
      "find . -type f | LC_ALL=C sort | xargs sha256sum > ${BACKUP_DIR}/sums.txt",
      "p=`mktemp`; LC_ALL=C sort ${PARENT_BACKUP_DIR}/sums.txt > $p",
      "LC_ALL=C sort ${BACKUP_DIR}/sums.txt | LC_ALL=C comm -13 $p - | cut -c67- > ${BACKUP_DIR}/changed.list; rm -f $p",
      "tar -cf ${BACKUP_DIR}/changed.tar -T ${BACKUP_DIR}/changed.list",
    ].join("\n")],
    physical: {
      restoreCommands: ["sh", "-c", "set -e; mkdir -p ${DATA_DIR}; tar -xf ${BACKUP_DIR}/full.tar -C ${DATA_DIR}"],
      incrementalRestoreCommands: ["sh", "-c", "set -e; tar -xf ${BACKUP_DIR}/changed.tar -C ${DATA_DIR}"],
    },
  },
};

describe("Plain-files incremental chains (KubeBlocks 0.6 style) on PVC and encrypted repos (e2e)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let op: Operator;

  let removeRepo: (() => Promise<void>) | undefined;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc, [tool]);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob", "backuprepo", "storageprovider"], timeouts: testTimeouts });
    removeRepo = await createEncryptedRepo(kc, ENC_REPO);
  });
  after(async () => {
    await op?.stop();
    await removeRepo?.();
  });

  for (const [kind, repoName, format] of [["pvc", REPO, "PlainFiles"], ["encrypted", ENC_REPO, "SealedPlainFiles"]] as const) {
    it(`${kind} repo: the increment reads its parent's files at PARENT_BACKUP_DIR, the chain restores byte-identical, and deleting the Backups removes their data`, async () => {
      const ns = await testNamespace(kc, `plainincr-${kind}`);
      try {
        await createPVC(kc, ns.name, "data");
        await runJob(kc, ns.name, "seed", seedScript(40), [{ claim: "data", path: "/data" }]);
        await startTargetPod(kc, ns.name);
        await createPolicy(kc, ns.name, "p", datafilePolicy(tool.metadata!.name!, { backupRepoName: repoName }));
        await createBackup(kc, ns.name, "base", "p");
        const base = await backupInPhase(kc, ns.name, "base", ["Completed"], 120_000);
        expect(base.status!.manifests!.backupTool!.dataFormat).to.equal(format);
        await runJob(kc, ns.name, "change", "echo changed > /data/dir1/file-1.bin; echo new > /data/dir2/added.bin", [{ claim: "data", path: "/data" }]);
        await createBackup(kc, ns.name, "inc", "p", { parentBackupName: "base" });
        const inc = await backupInPhase(kc, ns.name, "inc", ["Completed"], 120_000);
        expect(inc.status!.manifests!.backupTool!.dataFormat).to.equal(format);
        expect(inc.status!.incrementalChain).to.deep.equal(["base"]);
        if (kind === "pvc") {
          const dir = join(await hostPathOf(kc, ns.name, inc.status!.persistentVolumeClaimName!), ns.name, "inc");
          expect((await readFile(join(dir, "changed.list"), "utf8")).trim().split("\n").sort()).to.deep.equal(["./dir1/file-1.bin", "./dir2/added.bin"]);
        }

        await expectRestoredTree(kc, ns.name, "inc", "data", 41);

        const repoDir = await hostPathOf(kc, ns.name, inc.status!.persistentVolumeClaimName!);
        expect(await exists(join(repoDir, ns.name, "inc"))).to.equal(true);
        await deleteBackup(kc, ns.name, "inc");
        await deleteBackup(kc, ns.name, "base");
        for (const name of ["inc", "base"]) await until(`Backup ${name} gone`, async () => ((await getBackup(kc, ns.name, name)) ? undefined : true), 90_000);
        for (const name of ["inc", "base"]) expect(await exists(join(repoDir, ns.name, name)), `${name}'s data removed`).to.equal(false);
      } finally {
        await ns.cleanup();
      }
    });
  }
});
