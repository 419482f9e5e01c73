// The node dying under a Job: every process of the tool Job's pod SIGKILLed mid-run, and the
// node itself killed and started again on its data (restartSharedNode: kubelet after a reboot
// fails a restartPolicy Never pod it lost, ContainerStatusUnknown). A Backup makes a new attempt
// per onFailAttempted and the retry restores byte-identical, or fails naming the killed container
// when no attempt is left.
// A RestoreJob whose restore pod is killed fails with a reason and scales the StatefulSet back to
// its replicas; the next RestoreJob restores byte-identical. Nothing stays InProgress.
import { expect } from "chai";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { AnnotationRunAsRoot, DataProtectionGroup, type Backup, type BackupTool, type RestoreJob } from "@dataprotection/api";
import { volumeTool } from "@dataprotection/tools";
import { restartSharedNode } from "@dataprotection/testenv";
import { e2eCluster, startTestOperator, testNamespace, until } from "../harness.ts";
import {
  backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, expectRestoredTree, hostPathOf, installShared, jobsOf, runJob, seedScript, startTargetPod, testTimeouts,
} from "./fixtures.ts";
import { createRestoreJob, createStatefulSet, treeDigest, waitReady, waitRestore } from "../restore/seed.ts";

// The volume tool, each step starting with a pause the test kills it in.
const slowVolume: BackupTool = {
  ...volumeTool,
  metadata: { name: "e2e-slow-volume", annotations: { [AnnotationRunAsRoot]: "true" } },
  spec: {
    ...volumeTool.spec,
    backupCommands: ["sh", "-c", 'sleep 5; set -e; dp-agent push-dir "${DATA_DIR:-/data}"'],
    incrementalBackupCommands: undefined,
    physical: { restoreCommands: ["sh", "-c", 'sleep 5; set -e; mkdir -p "${DATA_DIR:-/data}"; dp-agent pull-dir "${DATA_DIR:-/data}"'] },
  },
};

/**
 * Waits until a pod matching `selector` has every container running, then SIGKILLs each
 * container's process group (the local node's containerID is local://<pid>). Returns the pod's name.
 */
async function killPodProcesses(kc: KubeConfig, ns: string, selector: string): Promise<string> {
  const pod = await runningPod(kc, ns, selector);
  const pids = (pod.status!.containerStatuses ?? []).map((c) => Number(/^local:\/\/(\d+)$/.exec(c.containerID ?? "")?.[1]));
  expect(pids.every((p) => p > 0), `pids of ${pod.metadata!.name}'s containers`).to.equal(true);
  for (const pid of pids) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      process.kill(pid, "SIGKILL");
    }
  }
  return pod.metadata!.name!;
}

/** A pod matching `selector` with every container running for a second. */
async function runningPod(kc: KubeConfig, ns: string, selector: string): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  const pod = await until(`a running pod ${selector}`, async () => {
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: selector });
    return pods.items.find((p) => p.status?.phase === "Running" && (p.status.containerStatuses ?? []).length > 0 && p.status.containerStatuses!.every((c) => c.state?.running));
  }, 120_000, 200);
  await new Promise((r) => setTimeout(r, 1_000));
  return pod;
}

async function phases(kc: KubeConfig, ns: string, plural: "backups" | "restorejobs"): Promise<Record<string, string | undefined>> {
  const list = (await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns, plural })) as { items: Array<Backup | RestoreJob> };
  return Object.fromEntries(list.items.map((o) => [o.metadata!.name!, o.status?.phase]));
}

describe("Backup and RestoreJob: the tool pod's processes killed mid-run (a node's death under a Job)", function () {
  this.timeout(400_000);
  let op: Operator;
  let kc: KubeConfig;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc, [slowVolume]);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("a Backup makes its next attempt (onFailAttempted 1) and restores byte-identical, or fails naming the killed container with no attempt left", async () => {
    const ns = await testNamespace(kc, "bk-killed");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(50), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "retry", datafilePolicy(slowVolume.metadata!.name!, { onFailAttempted: 1 }));
      await createPolicy(kc, ns.name, "once", datafilePolicy(slowVolume.metadata!.name!));

      await createBackup(kc, ns.name, "retried", "retry");
      const firstJob = await until("the first attempt's Job", async () => (await jobsOf(kc, ns.name, "retried"))[0], 60_000, 200);
      await killPodProcesses(kc, ns.name, `job-name=${firstJob.metadata!.name}`);
      const retried = await backupInPhase(kc, ns.name, "retried", ["Completed"], 180_000);
      expect(retried.status!.attempts, "one more attempt after the killed one").to.equal(1);
      expect(await jobsOf(kc, ns.name, "retried")).to.have.length(2);
      await expectRestoredTree(kc, ns.name, "retried", "data", 50);

      await createBackup(kc, ns.name, "killed", "once");
      const job = await until("the only attempt's Job", async () => (await jobsOf(kc, ns.name, "killed"))[0], 60_000, 200);
      await killPodProcesses(kc, ns.name, `job-name=${job.metadata!.name}`);
      const failed = await backupInPhase(kc, ns.name, "killed", ["Failed"], 120_000);
      expect(failed.status!.failureReason).to.match(/^JobFailed: /);
      expect(failed.status!.failureReason).to.match(/137|SIGKILL|killed/i);
      expect(await phases(kc, ns.name, "backups"), "nothing stays InProgress").to.deep.equal({ retried: "Completed", killed: "Failed" });
    } finally {
      await ns.cleanup();
    }
  });

  it("the node itself dies and comes back mid-backup and mid-restore: the lost tool pod fails ContainerStatusUnknown, the Backup's next attempt restores byte-identical; the RestoreJob fails naming it and the StatefulSet is back at its replicas", async () => {
    const ns = await testNamespace(kc, "node-restart");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(30), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "retry", datafilePolicy(slowVolume.metadata!.name!, { onFailAttempted: 1 }));

      await createBackup(kc, ns.name, "across", "retry");
      const firstJob = await until("the first attempt's Job", async () => (await jobsOf(kc, ns.name, "across"))[0], 60_000, 200);
      const lost = await runningPod(kc, ns.name, `job-name=${firstJob.metadata!.name}`);
      await restartSharedNode();
      const b = await backupInPhase(kc, ns.name, "across", ["Completed"], 240_000);
      expect(b.status!.attempts, "one more attempt after the node came back").to.equal(1);
      const core = kc.makeApiClient(CoreV1Api);
      const lostNow = await core.readNamespacedPod({ name: lost.metadata!.name!, namespace: ns.name });
      expect(lostNow.status?.phase).to.equal("Failed");
      expect(lostNow.status?.containerStatuses?.[0]?.state?.terminated).to.deep.include({ exitCode: 137, reason: "ContainerStatusUnknown" });
      await expectRestoredTree(kc, ns.name, "across", "data", 30);

      const labels = { app: "db3" };
      await createStatefulSet(kc, ns.name, "db3", 2, labels);
      await waitReady(kc, ns.name, "db3", 2);
      await createRestoreJob(kc, ns.name, "lost", { backupJobName: "across", labels, claim: "data-db3-0" });
      await runningPod(kc, ns.name, "job-name=lost-restore");
      await restartSharedNode();
      const rj = await waitRestore(kc, ns.name, "lost", "Failed");
      expect(rj.status!.failureReason).to.match(/^JobFailed: .*exited 137/);
      expect((await waitReady(kc, ns.name, "db3", 2)).spec?.replicas, "scaled back to its replicas").to.equal(2);
      await createRestoreJob(kc, ns.name, "after", { backupJobName: "across", labels, claim: "data-db3-0" });
      await waitRestore(kc, ns.name, "after", "Completed");
      expect(treeDigest(await hostPathOf(kc, ns.name, "data-db3-0"))).to.deep.equal(treeDigest(await hostPathOf(kc, ns.name, "data")));
      expect(await phases(kc, ns.name, "restorejobs"), "nothing stays InProgress").to.deep.equal({ "from-across": "Completed", lost: "Failed", after: "Completed" });
    } finally {
      await ns.cleanup();
    }
  });

  it("a RestoreJob whose restore pod is killed fails with a reason and scales the StatefulSet back; the next one restores byte-identical", async () => {
    const ns = await testNamespace(kc, "rj-killed");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(30), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "daily", datafilePolicy(slowVolume.metadata!.name!));
      await createBackup(kc, ns.name, "b", "daily");
      await backupInPhase(kc, ns.name, "b", ["Completed"], 120_000);
      const want = treeDigest(await hostPathOf(kc, ns.name, "data"));

      const labels = { app: "db2" };
      await createStatefulSet(kc, ns.name, "db2", 2, labels);
      await waitReady(kc, ns.name, "db2", 2);
      const target = await hostPathOf(kc, ns.name, "data-db2-0");
      const before = treeDigest(target);
      await createRestoreJob(kc, ns.name, "killed", { backupJobName: "b", labels, claim: "data-db2-0" });
      await killPodProcesses(kc, ns.name, "job-name=killed-restore");
      const rj = await waitRestore(kc, ns.name, "killed", "Failed");
      expect(rj.status!.failureReason).to.match(/137|SIGKILL|killed|exit/i);
      expect(treeDigest(target), "the killed restore wrote nothing (it died in its first step)").to.deep.equal(before);
      const sts = await waitReady(kc, ns.name, "db2", 2);
      expect(sts.spec?.replicas, "scaled back to its replicas").to.equal(2);

      await createRestoreJob(kc, ns.name, "again", { backupJobName: "b", labels, claim: "data-db2-0" });
      await waitRestore(kc, ns.name, "again", "Completed");
      expect(treeDigest(target)).to.deep.equal(want);
      await waitReady(kc, ns.name, "db2", 2);
      expect((await kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: "db2", namespace: ns.name })).spec?.replicas).to.equal(2);
      expect(await phases(kc, ns.name, "restorejobs"), "nothing stays InProgress").to.deep.equal({ killed: "Failed", again: "Completed" });
    } finally {
      await ns.cleanup();
    }
  });
});
