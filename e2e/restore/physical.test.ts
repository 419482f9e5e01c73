// Must-show 1 and 5: physical restore into the original StatefulSet and into a fresh PVC,
// and a corrupt backup refused before the target is touched.
import { expect } from "chai";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Operator } from "@dataprotection/controllers";
import { DataProtectionGroup, type RestoreJob } from "@dataprotection/api";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilEventReasons, untilEvents, untilInNamespace } from "../harness.ts";
import {
  agent, createPolicy, createRepo, createRestoreJob, createStatefulSet, createTool, deleteClusterObjects, pvcHostPath, seedBackup, treeDigest, waitReady, waitRestore, type Repo,
} from "./seed.ts";

describe("RestoreJob physical restore (e2e)", function () {
  this.timeout(400_000);
  let kc: KubeConfig;
  let op: Operator;
  let ns: { name: string; cleanup: () => Promise<void> };
  let repo: Repo;
  const labels = { app: "db" };
  let tool: string;
  let original: Record<string, string>;
  let dataDir: string;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    ns = await testNamespace(kc, "rj-phy");
    op = await startTestOperator({ controllers: ["restorejob"], timeouts: { targetPodWaitMs: 60_000, podStartMs: 60_000 } });
    repo = await createRepo(kc, ns.name);
    tool = `vol-${ns.name}`;
    await createTool(kc, tool, {
      env: [{ name: "DATA_DIR", value: "/data" }],
      physical: { restoreCommands: ['set -e\nfind "$DATA_DIR" -mindepth 1 -delete\ndp-agent pull-dir "$DATA_DIR"\necho "restored $BACKUP_NAME from $BACKUP_DIR"'] },
    });
    await createPolicy(kc, ns.name, "daily", tool, repo.name, labels);
    await createStatefulSet(kc, ns.name, "db", 2, labels);
    await waitReady(kc, ns.name, "db", 2);
    dataDir = await pvcHostPath(kc, ns.name, "data-db-0");
    mkdirSync(join(dataDir, "sub"), { recursive: true });
    writeFileSync(join(dataDir, "a.bin"), randomBytes(300_000));
    writeFileSync(join(dataDir, "sub", "b.txt"), "row 1\nrow 2\n");
    original = treeDigest(dataDir);
    for (const name of ["full", "corrupt"]) {
      await seedBackup(kc, ns.name, { name, policy: "daily", tool, repo, write: (p) => agent(repo, p, ["push-dir", dataDir]) });
    }
  });

  after(async () => {
    await op?.stop();
    await ns?.cleanup();
    await deleteClusterObjects(kc, repo ? [repo.name] : [], tool ? [tool] : []);
  });

  it("restores a volume backup into the original StatefulSet, scaled down and back to its replicas: bytes identical", async () => {
    writeFileSync(join(dataDir, "a.bin"), randomBytes(1000));
    writeFileSync(join(dataDir, "stray.txt"), "written after the backup");
    expect(treeDigest(dataDir)).to.not.deep.equal(original);

    await createRestoreJob(kc, ns.name, "to-original", { backupJobName: "full", labels, claim: "data-db-0" });
    const rj = await waitRestore(kc, ns.name, "to-original", "Completed");

    expect(treeDigest(dataDir)).to.deep.equal(original);
    expect(rj.status?.startTimestamp).to.be.a("string");
    expect(rj.status?.completionTimestamp).to.be.a("string");
    expect(rj.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"]).to.equal("db=2");
    await waitReady(kc, ns.name, "db", 2);
    // The Completed Event is written in the background, after the Completed status.
    const reasons = (await untilEventReasons(kc, ns.name, "to-original", ["Started", "Verifying", "Verified", "ScalingDown", "Restoring", "ScalingUp", "Completed"])).map((e) => e.reason);
    expect(reasons).to.include.members(["Started", "Verifying", "Verified", "ScalingDown", "Restoring", "ScalingUp", "Completed"]);
    const log = await (await e2eCluster()).node.logs(ns.name, await restorePod(kc, ns.name, "to-original-restore"), "restore-0");
    expect(log).to.contain(`restored full from /backupdata/${ns.name}/full`);
  });

  it("restores the same backup into a fresh PVC of a new StatefulSet: bytes identical", async () => {
    const fresh = { app: "fresh" };
    await createStatefulSet(kc, ns.name, "fresh", 1, fresh);
    await waitReady(kc, ns.name, "fresh", 1);
    const freshDir = await pvcHostPath(kc, ns.name, "data-fresh-0");
    expect(readdirSync(freshDir)).to.deep.equal([]);

    await createRestoreJob(kc, ns.name, "to-fresh", { backupJobName: "full", labels: fresh, claim: "data-fresh-0" });
    await waitRestore(kc, ns.name, "to-fresh", "Completed");
    expect(treeDigest(freshDir)).to.deep.equal(original);
    await waitReady(kc, ns.name, "fresh", 1);
  });

  it("fails a backup with one flipped byte before touching the target: names the object, data unchanged, replicas kept", async () => {
    const objectDir = join(repo.hostPath, ns.name, "corrupt");
    const object = join(objectDir, "dir.dpar");
    const bytes = readFileSync(object);
    const at = Math.floor(statSync(object).size / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(object, bytes);
    writeFileSync(join(dataDir, "after.txt"), "must survive");
    const before = treeDigest(dataDir);

    await createRestoreJob(kc, ns.name, "from-corrupt", { backupJobName: "corrupt", labels, claim: "data-db-0" });
    const rj = await waitRestore(kc, ns.name, "from-corrupt", "Failed");

    expect(rj.status?.failureReason).to.match(/^VerificationFailed: /);
    expect(rj.status?.failureReason).to.contain(`Backup "${ns.name}/corrupt"`);
    expect(rj.status?.failureReason).to.contain("dir.dpar");
    expect(treeDigest(dataDir)).to.deep.equal(before);
    const sts = await kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: "db", namespace: ns.name });
    expect(sts.spec?.replicas).to.equal(2);
    expect(sts.status?.readyReplicas).to.equal(2);
    // The VerificationFailed Warning is written in the background, after the Failed status.
    const events = await untilEventReasons(kc, ns.name, "from-corrupt", ["VerificationFailed"]);
    expect(events.map((e) => e.reason)).to.not.include("ScalingDown");
    expect(events.find((e) => e.reason === "VerificationFailed")?.type).to.equal("Warning");
    const jobs = await kc.makeApiClient(CustomObjectsApi).listNamespacedCustomObject({ group: "batch", version: "v1", namespace: ns.name, plural: "jobs", labelSelector: "dataprotection.kubeblocks.io/restorejob=from-corrupt" }) as { items: Array<{ metadata: { name: string } }> };
    expect(jobs.items.map((j) => j.metadata.name)).to.deep.equal(["from-corrupt-verify"]);
    rmSync(join(dataDir, "after.txt"));
  });

  it("deleted mid-restore: stops the restore Job's pod, scales the StatefulSet back to its replicas, then goes away", async () => {
    const slowTool = `slow-${ns.name}`;
    await createTool(kc, slowTool, { physical: { restoreCommands: ["echo restoring slowly; sleep 600"] } });
    try {
      await seedBackup(kc, ns.name, { name: "slow", policy: "daily", tool: slowTool, repo, write: (p) => agent(repo, p, ["push-dir", dataDir]) });
      const before = treeDigest(dataDir);
      await createRestoreJob(kc, ns.name, "cancelled", { backupJobName: "slow", labels, claim: "data-db-0" });
      const core = kc.makeApiClient(CoreV1Api);
      await untilInNamespace(kc, ns.name, "the restore pod running", async () => {
        const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "job-name=cancelled-restore" });
        return pods.items.some((p) => p.status?.phase === "Running") ? true : undefined;
      }, 120_000);
      const rj = await getCustom<RestoreJob>(kc, DataProtectionGroup, "restorejobs", ns.name, "cancelled");
      expect(rj?.metadata?.finalizers).to.include("dataprotection.kubeblocks.io/finalizer");
      expect((await kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: "db", namespace: ns.name })).spec?.replicas).to.equal(0);

      await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "restorejobs", name: "cancelled" });
      await untilInNamespace(kc, ns.name, "RestoreJob cancelled gone", async () => ((await getCustom(kc, DataProtectionGroup, "restorejobs", ns.name, "cancelled")) ? undefined : true), 120_000);
      const left = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "job-name=cancelled-restore" });
      expect(left.items.map((p) => p.metadata?.name), "the restore pod is gone before the workload restarts").to.deep.equal([]);
      await waitReady(kc, ns.name, "db", 2);
      // Recorded as the finalizer goes, written in the background.
      const warning = (await untilEvents(kc, ns.name, "cancelled", "a ScalingUp Warning", (evs) => evs.some((e) => e.reason === "ScalingUp" && e.type === "Warning")))
        .find((e) => e.reason === "ScalingUp" && e.type === "Warning");
      expect(warning?.message).to.contain('was deleted before it finished: scaling StatefulSet "db" back to 2 replicas');
      expect(treeDigest(dataDir), "the sleeping restore wrote nothing").to.deep.equal(before);
    } finally {
      await deleteClusterObjects(kc, [], [slowTool]);
    }
  });

  it("releases its finalizer once finished, so a finished RestoreJob deletes at once", async () => {
    // The finalizer is removed in a write of its own after the Completed status: poll for it.
    const rj = await until("RestoreJob to-original without finalizers", async () => {
      const x = await getCustom<RestoreJob>(kc, DataProtectionGroup, "restorejobs", ns.name, "to-original");
      if (x && !(x.metadata?.finalizers ?? []).length) return x;
      throw new Error(`finalizers ${JSON.stringify(x?.metadata?.finalizers)}`);
    }, 60_000, 500);
    expect(rj?.metadata?.finalizers ?? []).to.deep.equal([]);
  });
});

async function restorePod(kc: KubeConfig, ns: string, job: string): Promise<string> {
  const { CoreV1Api } = await import("@kubernetes/client-node");
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: `job-name=${job}` });
  return pods.items[0]!.metadata!.name!;
}
