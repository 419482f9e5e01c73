// An incremental chain of 3 with the volume tool, restored by one RestoreJob (base, then each
// increment) and compared with the source; the parent cannot go while children exist.
import { expect } from "chai";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, eventsFor, startTestOperator, testNamespace, until } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, deleteBackup, expectRestoredTree, getBackup, installShared, runJob, seedScript, startTargetPod, testTimeouts } from "./fixtures.ts";

describe("Backup: incremental chains", function () {
  this.timeout(240_000);
  let op: Operator;
  before(async () => {
    await installShared((await e2eCluster()).controlPlane.kubeConfig);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("records a chain of 3 (base, child, grandchild), restores the whole chain into a fresh claim byte-identical, and refuses to delete the base while children exist", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-incr");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(50), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "p", datafilePolicy("volume"));
      await createBackup(kc, ns.name, "base", "p");
      const base = await backupInPhase(kc, ns.name, "base", ["Completed"]);
      // Checkpoints have one-second resolution: change files strictly after it.
      await new Promise((r) => setTimeout(r, 1_100));
      await runJob(kc, ns.name, "change1", "echo one > /data/new-1.txt", [{ claim: "data", path: "/data" }]);
      await createBackup(kc, ns.name, "inc1", "p", { parentBackupName: "base" });
      const inc1 = await backupInPhase(kc, ns.name, "inc1", ["Completed"]);
      await new Promise((r) => setTimeout(r, 1_100));
      await runJob(kc, ns.name, "change2", "echo two > /data/new-2.txt", [{ claim: "data", path: "/data" }]);
      await createBackup(kc, ns.name, "inc2", "p", { parentBackupName: "inc1" });
      const inc2 = await backupInPhase(kc, ns.name, "inc2", ["Completed"]);

      expect(inc1.status!.incrementalChain).to.deep.equal(["base"]);
      expect(inc2.status!.incrementalChain).to.deep.equal(["base", "inc1"]);
      expect(inc2.status!.parentBackupName).to.equal("inc1");
      expect(inc2.status!.backupRepoName).to.equal(base.status!.backupRepoName);
      // Each increment stores the changed files only (plus files.list), far less than the base.
      expect((inc1.status!.manifests!.backupTool!.files ?? []).map((f) => f.name).sort()).to.deep.equal(["dir.dpar", "files.list"]);

      // The chain restores: base, then inc1, then inc2, into a fresh StatefulSet's claim.
      await expectRestoredTree(kc, ns.name, "inc2", "data", 52);

      await deleteBackup(kc, ns.name, "base");
      await until("DeletionBlocked Event", async () => ((await eventsFor(kc, ns.name, "base")).some((e) => e.reason === "DeletionBlocked") ? true : undefined), 60_000);
      const still = await getBackup(kc, ns.name, "base");
      expect(still?.metadata?.deletionTimestamp).to.be.a("string");
      expect(still?.status?.phase).to.equal("Completed");
    } finally {
      await ns.cleanup();
    }
  });
});
