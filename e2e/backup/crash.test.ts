// Must-show 7: the operator process is SIGKILLed while a tool Job runs and started again: it finds
// that Job (exactly one, the same one) and completes the Backup.
import { expect } from "chai";
import type { ChildProcess } from "node:child_process";
import { e2eCluster, operatorIdentity, testNamespace, until } from "../harness.ts";
import { killed, startOperatorProcess } from "./fixtures/operator-process.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, installShared, jobsOf, startTargetPod, testTimeouts, tool } from "./fixtures.ts";

const sleepy = tool("e2e-crash-sleepy", ["sh", "-c", 'sleep 6; mkdir -p "$BACKUP_DIR"; echo survived > "$BACKUP_DIR/out.txt"']);

describe("Backup: operator SIGKILLed while the tool Job runs", function () {
  this.timeout(240_000);
  const children: ChildProcess[] = [];

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig, [sleepy]);
  });
  after(async () => {
    for (const c of children) await killed(c);
  });

  it("finds the same Job after a restart, never a twin, and completes the Backup", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-crash");
    try {
      await createPVC(kc, ns.name, "data");
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "p", datafilePolicy(sleepy.metadata!.name!));

      const first = await startOperatorProcess((await operatorIdentity(kc)).kubeconfigPath, { timeouts: testTimeouts });
      children.push(first);
      await createBackup(kc, ns.name, "b", "p");
      await backupInPhase(kc, ns.name, "b", ["InProgress"], 60_000);
      const running = await until("the tool Job running", async () => {
        const jobs = await jobsOf(kc, ns.name, "b");
        return jobs.length === 1 && (jobs[0].status?.active ?? 0) > 0 ? jobs[0] : undefined;
      }, 60_000, 200);
      expect(await killed(first)).to.equal("SIGKILL");

      const second = await startOperatorProcess((await operatorIdentity(kc)).kubeconfigPath, { timeouts: testTimeouts });
      children.push(second);
      const b = await backupInPhase(kc, ns.name, "b", ["Completed"], 120_000);
      expect(b.status!.totalSize).to.equal("9");
      expect(b.status!.attempts ?? 0).to.equal(0);
      const jobs = await jobsOf(kc, ns.name, "b");
      expect(jobs.map((j) => j.metadata!.uid)).to.deep.equal([running.metadata!.uid]);
    } finally {
      // The second operator is still running: it removes the Backup's finalizer as the namespace goes.
      await ns.cleanup();
    }
  });
});
