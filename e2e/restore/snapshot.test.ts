// Must-show 6: a snapshot backup restored by provisioning the target's PVC from the VolumeSnapshot.
import { expect } from "chai";
import { AppsV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Backup } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilEventReasons, untilInNamespace } from "../harness.ts";
import { createPolicy, createRepo, createRestoreJob, createStatefulSet, deleteClusterObjects, pvcHostPath, seedBackup, treeDigest, waitReady, waitRestore, type Repo } from "./seed.ts";

describe("RestoreJob snapshot restore (e2e)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let op: Operator;
  let ns: { name: string; cleanup: () => Promise<void> };
  let repo: Repo;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    ns = await testNamespace(kc, "rj-snap");
    op = await startTestOperator({ controllers: ["restorejob"] });
    repo = await createRepo(kc, ns.name);
  });

  after(async () => {
    await op?.stop();
    await ns?.cleanup();
    await deleteClusterObjects(kc, repo ? [repo.name] : [], []);
  });

  it("replaces the StatefulSet's PVC with one provisioned from the VolumeSnapshot: bytes identical", async () => {
    const labels = { app: "snap" };
    await createPolicy(kc, ns.name, "snap", "none", repo.name, labels);
    await createStatefulSet(kc, ns.name, "db", 1, labels);
    await waitReady(kc, ns.name, "db", 1);
    const dir = await pvcHostPath(kc, ns.name, "data-db-0");
    writeFileSync(join(dir, "a.bin"), randomBytes(100_000));
    writeFileSync(join(dir, "b.txt"), "snapshotted\n");
    const original = treeDigest(dir);

    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ group: "snapshot.storage.k8s.io", version: "v1", namespace: ns.name, plural: "volumesnapshots", body: {
      apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", metadata: { name: "snap-1" },
      spec: { source: { persistentVolumeClaimName: "data-db-0" }, volumeSnapshotClassName: "local-snapshots" },
    } });
    await until("VolumeSnapshot snap-1 ready", async () => {
      const s = (await custom.getNamespacedCustomObject({ group: "snapshot.storage.k8s.io", version: "v1", namespace: ns.name, plural: "volumesnapshots", name: "snap-1" })) as { status?: { readyToUse?: boolean } };
      return s.status?.readyToUse ? true : undefined;
    }, 60_000);
    await seedBackup(kc, ns.name, { name: "snap", policy: "snap", tool: "", repo, type: "snapshot", status: { backupToolName: undefined, manifests: { backupSnapshot: { volumeSnapshotName: "snap-1" } } } });
    writeFileSync(join(dir, "a.bin"), "changed after the snapshot");

    await createRestoreJob(kc, ns.name, "from-snap", { backupJobName: "snap", labels, claim: "data-db-0" });
    await waitRestore(kc, ns.name, "from-snap", "Completed");
    const restoredDir = await pvcHostPath(kc, ns.name, "data-db-0");
    expect(restoredDir).to.not.equal(dir);
    expect(treeDigest(restoredDir)).to.deep.equal(original);
    await waitReady(kc, ns.name, "db", 1);
    // The Completed Event is written in the background, after the Completed status.
    const reasons = (await untilEventReasons(kc, ns.name, "from-snap", ["Started", "ScalingDown", "ProvisioningFromSnapshot", "ScalingUp", "Completed"])).map((e) => e.reason);
    expect(reasons).to.include.members(["Started", "ScalingDown", "ProvisioningFromSnapshot", "ScalingUp", "Completed"]);
  });

});

// Taken by the real Backup controller (seeded Backups above would race its status writes).
describe("RestoreJob snapshot restore of several volumes (e2e)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let op: Operator;
  let ns: { name: string; cleanup: () => Promise<void> };

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    ns = await testNamespace(kc, "rj-snap2");
    op = await startTestOperator({ controllers: ["backup", "restorejob"], timeouts: { targetPodWaitMs: 60_000, podStartMs: 60_000, snapshotReadyMs: 60_000 } });
  });

  after(async () => {
    // The namespace first: its snapshot Backup carries a finalizer the operator removes.
    await ns?.cleanup();
    await op?.stop();
  });

  it("restores a pod with a data and a log volume, each from its own VolumeSnapshot of a real snapshot Backup", async () => {
    const labels = { app: "two-vol" };
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createNamespacedCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", namespace: ns.name, plural: "backuppolicies", body: {
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy", metadata: { name: "two-vol" },
      spec: { snapshot: { target: { labelsSelector: { matchLabels: labels } } } },
    } });
    const template = (name: string, type: string) => ({ metadata: { name, labels: { "kubeblocks.io/volume-type": type } }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Mi" } } } });
    await kc.makeApiClient(AppsV1Api).createNamespacedStatefulSet({ namespace: ns.name, body: {
      metadata: { name: "pg", labels },
      spec: {
        replicas: 1, serviceName: "pg", selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: { containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "sleep 3600"], volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "wal", mountPath: "/wal" }] }], terminationGracePeriodSeconds: 1 },
        },
        volumeClaimTemplates: [template("data", "data"), template("wal", "log")],
      },
    } });
    await waitReady(kc, ns.name, "pg", 1);
    const dataDir = await pvcHostPath(kc, ns.name, "data-pg-0");
    const walDir = await pvcHostPath(kc, ns.name, "wal-pg-0");
    writeFileSync(join(dataDir, "table.bin"), randomBytes(50_000));
    writeFileSync(join(walDir, "000000010000000000000001"), "wal segment\n");
    const data0 = treeDigest(dataDir);
    const wal0 = treeDigest(walDir);

    await custom.createNamespacedCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", namespace: ns.name, plural: "backups", body: {
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup", metadata: { name: "two-vol-1" }, spec: { backupPolicyName: "two-vol", backupType: "snapshot" },
    } });
    const b = await untilInNamespace(kc, ns.name, "snapshot Backup two-vol-1 Completed", async () => {
      const o = await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, "two-vol-1");
      if (o?.status?.phase === "Failed") throw new Error(`backup failed: ${o.status.failureReason}`);
      return o?.status?.phase === "Completed" ? o : undefined;
    }, 120_000);
    expect(b.status!.manifests!.backupSnapshot!.volumeSnapshotName).to.equal("two-vol-1");
    writeFileSync(join(dataDir, "table.bin"), "changed after the backup");
    writeFileSync(join(walDir, "000000010000000000000001"), "changed after the backup");

    await custom.createNamespacedCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", namespace: ns.name, plural: "restorejobs", body: {
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "RestoreJob", metadata: { name: "two-vol-restore" },
      spec: {
        backupJobName: "two-vol-1", target: { labelsSelector: { matchLabels: labels } },
        targetVolumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-pg-0" } }, { name: "wal", persistentVolumeClaim: { claimName: "wal-pg-0" } }],
        targetVolumeMounts: [{ name: "data", mountPath: "/data" }, { name: "wal", mountPath: "/wal" }],
      },
    } });
    await waitRestore(kc, ns.name, "two-vol-restore", "Completed");
    const restoredData = await pvcHostPath(kc, ns.name, "data-pg-0");
    const restoredWal = await pvcHostPath(kc, ns.name, "wal-pg-0");
    expect(treeDigest(restoredData)).to.deep.equal(data0);
    expect(treeDigest(restoredWal)).to.deep.equal(wal0);
    expect(readFileSync(join(restoredWal, "000000010000000000000001"), "utf8")).to.equal("wal segment\n");
    await waitReady(kc, ns.name, "pg", 1);
    const events = await untilEventReasons(kc, ns.name, "two-vol-restore", ["Completed"]);
    const done = events.find((e) => e.reason === "Completed")!.message!;
    expect(done).to.contain('PVC "data-pg-0" from VolumeSnapshot "two-vol-1"').and.match(/PVC "wal-pg-0" from VolumeSnapshot "two-vol-1-log-\d+"/);
  });
});
