// A full backup volume: the repo is a PVC whose directory is a size-limited tmpfs (mounted by the
// test as root). A backup larger than the space fails NoSpace naming the full repo, leaves no
// partial or temporary object behind, and once space is freed the next backup completes and
// restores byte-identical.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Operator } from "@dataprotection/controllers";
import type { BackupPolicy } from "@dataprotection/api";
import { e2eCluster, startTestOperator, testNamespace } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, expectRestoredTree, hostPathOf, installShared, runJob, startTargetPod, testTimeouts } from "./fixtures.ts";

const run = promisify(execFile);

/** Every file under dir, relative paths. */
async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) out.push(join(e.parentPath, e.name).slice(dir.length + 1));
  return out.sort();
}

describe("Backup: a full backup volume (e2e, a tmpfs repo volume)", function () {
  this.timeout(300_000);
  let op: Operator;

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("fails NoSpace mid-push with no partial object left, and the next backup after space is freed completes and restores byte-identical", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-full");
    let mounted: string | undefined;
    try {
      await createPVC(kc, ns.name, "data");
      // 24 MiB that does not compress: more than the 8 MiB volume holds.
      await runJob(kc, ns.name, "seed", "head -c 25165824 /dev/urandom > /data/big", [{ claim: "data", path: "/data" }]);
      await createPVC(kc, ns.name, "repo");
      const repoDir = await hostPathOf(kc, ns.name, "repo");
      await run("mount", ["-t", "tmpfs", "-o", "size=8m", "dp-e2e-full", repoDir]);
      mounted = repoDir;
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "full", {
        datafile: { backupToolName: "volume", persistentVolumeClaim: { name: "repo", createPolicy: "Never" }, target: { labelsSelector: { matchLabels: { app: "db" } } } },
      } as BackupPolicy["spec"]);

      await createBackup(kc, ns.name, "f1", "full");
      const f1 = await backupInPhase(kc, ns.name, "f1", ["Failed", "Completed"], 180_000);
      expect(f1.status!.phase).to.equal("Failed");
      expect(f1.status!.failureReason).to.match(/^NoSpace: Job "[^"]+" failed: .*(is full \(ENOSPC\)|no space left on device)/);
      const left = await filesUnder(repoDir);
      expect(left.filter((f) => f.includes(".dp-tmp-")), "no temporary object left").to.deep.equal([]);
      expect(left.filter((f) => f.startsWith(`${ns.name}/f1/`) && !f.endsWith("manifest.json")), "no partial object of f1").to.deep.equal([]);

      // Space freed (the volume grown): the next backup completes and restores.
      await run("mount", ["-o", "remount,size=64m", repoDir]);
      await createBackup(kc, ns.name, "f2", "full");
      const f2 = await backupInPhase(kc, ns.name, "f2", ["Failed", "Completed"], 180_000);
      expect(f2.status!.phase, f2.status!.failureReason).to.equal("Completed");
      await expectRestoredTree(kc, ns.name, "f2", "data", 1);
    } finally {
      if (mounted) await run("umount", ["-l", mounted]).catch(() => undefined);
      await ns.cleanup();
    }
  });
});
