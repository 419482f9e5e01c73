// Must-show 6: a snapshot backup restored by provisioning the target's PVC from the VolumeSnapshot.
import { expect } from "chai";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, until, untilEventReasons } from "../harness.ts";
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
