// Must-show 3: snapshot backups on the local node. The pre hook's marker ends up in the
// VolumeSnapshot, the post hook's does not (it runs after); a protected Backup's
// VolumeSnapshots survive its deletion, an unprotected Backup's go with it.
import { expect } from "chai";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import type { BackupPolicy } from "@dataprotection/api";
import { e2eCluster, startTestOperator, testNamespace, until, untilEventReasons, untilEvents } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, deleteBackup, exists, getBackup, hostPathOf, installShared, startTargetPod, testTimeouts } from "./fixtures.ts";

interface Snap { metadata: { name: string; ownerReferences?: unknown[] }; status?: { readyToUse?: boolean; restoreSize?: string; boundVolumeSnapshotContentName?: string } }

async function getSnapshotObject(kc: KubeConfig, ns: string | undefined, plural: string, name: string): Promise<Snap | undefined> {
  const api = kc.makeApiClient(CustomObjectsApi);
  try {
    const o = ns
      ? await api.getNamespacedCustomObject({ group: "snapshot.storage.k8s.io", version: "v1", namespace: ns, plural, name })
      : await api.getClusterCustomObject({ group: "snapshot.storage.k8s.io", version: "v1", plural, name });
    return o as Snap;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

/** The directory the local node's snapshot emulation copied the claim into. */
async function snapshotDir(kc: KubeConfig, ns: string, name: string): Promise<string> {
  const vs = await getSnapshotObject(kc, ns, "volumesnapshots", name);
  const content = await getSnapshotObject(kc, undefined, "volumesnapshotcontents", vs!.status!.boundVolumeSnapshotContentName!);
  return (content as unknown as { status: { snapshotHandle: string } }).status.snapshotHandle;
}

describe("Backup: snapshot backups with hooks", function () {
  this.timeout(240_000);
  let op: Operator;

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig);
    op = await startTestOperator({ controllers: ["backup"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("runs the pre hook, snapshots the data PVC, runs the post hook; protected snapshots outlive their Backup", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-snap");
    try {
      await createPVC(kc, ns.name, "data", { "kubeblocks.io/volume-type": "data" });
      await startTargetPod(kc, ns.name);
      const live = await hostPathOf(kc, ns.name, "data");
      const spec = {
        snapshot: {
          target: { labelsSelector: { matchLabels: { app: "db" } } },
          hooks: {
            containerName: "db",
            preCommands: ["sh", "-c", "rm -f /data/post-marker; echo frozen > /data/pre-marker"],
            postCommands: ["sh", "-c", "echo thawed > /data/post-marker"],
          },
        },
      } as BackupPolicy["spec"];
      await createPolicy(kc, ns.name, "snap", spec);

      await createBackup(kc, ns.name, "s1", "snap", { backupType: "snapshot" });
      const s1 = await backupInPhase(kc, ns.name, "s1", ["Completed"], 120_000);
      expect(s1.status!.manifests!.backupSnapshot!.volumeSnapshotName).to.equal("s1");
      expect(s1.status!.manifests!.backupSnapshot!.volumeSnapshotContentName).to.be.a("string");
      expect(s1.status!.totalSize).to.match(/^[0-9.]+(Ki|Mi)?$/);
      const vs1 = await getSnapshotObject(kc, ns.name, "volumesnapshots", "s1");
      expect(vs1!.status!.readyToUse).to.equal(true);
      expect(vs1!.metadata.ownerReferences ?? []).to.deep.equal([]);

      // The pre hook ran before the snapshot, the post hook after it.
      const copy = await snapshotDir(kc, ns.name, "s1");
      expect(await readFile(join(copy, "pre-marker"), "utf8")).to.equal("frozen\n");
      expect(await exists(join(copy, "post-marker"))).to.equal(false);
      expect(await readFile(join(live, "post-marker"), "utf8")).to.equal("thawed\n");
      // BackupCompleted is written in the background, after the Completed status.
      expect((await untilEventReasons(kc, ns.name, "s1", ["BackupStarted", "SnapshotCreated", "BackupCompleted"])).map((e) => e.reason)).to.include.members(["BackupStarted", "SnapshotCreated", "BackupCompleted"]);

      await createBackup(kc, ns.name, "s2", "snap", { backupType: "snapshot" }, { "dataprotection.kubeblocks.io/backup-protection": "retain" });
      await backupInPhase(kc, ns.name, "s2", ["Completed"], 120_000);

      // Unprotected: its VolumeSnapshot goes with it. Protected: the VolumeSnapshot stays.
      await deleteBackup(kc, ns.name, "s1");
      await until("s1 and its VolumeSnapshot gone", async () => {
        if (await getBackup(kc, ns.name, "s1")) return undefined;
        return (await getSnapshotObject(kc, ns.name, "volumesnapshots", "s1")) ? undefined : true;
      }, 60_000);
      await deleteBackup(kc, ns.name, "s2");
      await until("s2 gone", async () => ((await getBackup(kc, ns.name, "s2")) ? undefined : true), 60_000);
      // The garbage collector acts within a second or two on owned objects: give it the chance.
      await new Promise((r) => setTimeout(r, 3_000));
      const kept = await getSnapshotObject(kc, ns.name, "volumesnapshots", "s2");
      expect(kept?.status?.readyToUse).to.equal(true);
      expect(await readFile(join(await snapshotDir(kc, ns.name, "s2"), "pre-marker"), "utf8")).to.equal("frozen\n");
      // DataRetained is recorded as the finalizer goes and written asynchronously.
      const reasons = (await untilEvents(kc, ns.name, "s2", "a DataRetained Event", (evs) => evs.some((e) => e.reason === "DataRetained"))).filter((e) => e.reason === "DataRetained").map((e) => e.message);
      expect(reasons[0]).to.contain("VolumeSnapshot(s) s2 are kept");
    } finally {
      await ns.cleanup();
    }
  });
});
