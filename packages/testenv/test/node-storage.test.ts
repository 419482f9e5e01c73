// local-path provisioning and the CSI snapshot emulation, end to end.
import { expect } from "chai";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { BatchV1Api, CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import { sharedCluster } from "../src/node/shared-cluster.ts";
import type { VolumeSnapshot, VolumeSnapshotContent } from "../src/snapshot/types.ts";
import { testNamespace, until } from "./node-helpers.ts";

const SNAP = { group: "snapshot.storage.k8s.io", version: "v1" };

describe("local node storage", function () {
  this.timeout(180_000);

  it("snapshots a PVC (readyToUse) and restores a PVC from it with identical bytes", async () => {
    const { controlPlane } = await sharedCluster();
    const kc = controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ns = await testNamespace(kc, "node-snap");
    try {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: ns.name,
        body: { metadata: { name: "src" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Mi" } } } },
      });
      await batch.createNamespacedJob({
        namespace: ns.name,
        body: {
          metadata: { name: "fill" },
          spec: {
            backoffLimit: 0,
            template: {
              spec: {
                restartPolicy: "Never",
                containers: [{
                  name: "main", image: "busybox",
                  command: ["sh", "-c", "head -c 300000 /dev/urandom > /data/blob && mkdir -p /data/sub && echo nested > /data/sub/file"],
                  volumeMounts: [{ name: "d", mountPath: "/data" }],
                }],
                volumes: [{ name: "d", persistentVolumeClaim: { claimName: "src" } }],
              },
            },
          },
        },
      });
      await until("fill Complete", async () => {
        const j = await batch.readNamespacedJob({ name: "fill", namespace: ns.name });
        return j.status?.conditions?.find((c) => c.type === "Complete" && c.status === "True");
      }, 90_000);

      await custom.createNamespacedCustomObject({
        ...SNAP, plural: "volumesnapshots", namespace: ns.name,
        body: { apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", metadata: { name: "snap" }, spec: { source: { persistentVolumeClaimName: "src" } } },
      });
      const snap = await until("snapshot readyToUse", async () => {
        const s = (await custom.getNamespacedCustomObject({ ...SNAP, plural: "volumesnapshots", namespace: ns.name, name: "snap" })) as VolumeSnapshot;
        return s.status?.readyToUse ? s : undefined;
      }, 60_000);
      expect(snap.status?.restoreSize).to.equal("2Mi");
      expect(snap.status?.creationTime).to.be.a("string");
      const content = (await custom.getClusterCustomObject({
        ...SNAP, plural: "volumesnapshotcontents", name: snap.status!.boundVolumeSnapshotContentName!,
      })) as VolumeSnapshotContent;
      expect(content.spec.driver).to.equal("dataprotection.local/local-path");
      expect(content.spec.volumeSnapshotRef.uid).to.equal(snap.metadata.uid);
      expect(content.status?.readyToUse).to.equal(true);

      await core.createNamespacedPersistentVolumeClaim({
        namespace: ns.name,
        body: {
          metadata: { name: "restored" },
          spec: {
            accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Mi" } },
            dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "snap" },
          },
        },
      });
      const pvDir = async (claim: string) => {
        const pvc = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns.name });
        if (pvc.status?.phase !== "Bound") return undefined;
        return (await core.readPersistentVolume({ name: pvc.spec!.volumeName! })).spec!.hostPath!.path;
      };
      const srcDir = (await pvDir("src"))!;
      const restoredDir = await until("restored PVC bound", () => pvDir("restored"), 60_000);
      expect(restoredDir).to.not.equal(srcDir);
      const [a, b] = await Promise.all([readFile(`${srcDir}/blob`), readFile(`${restoredDir}/blob`)]);
      expect(a.length).to.equal(300000);
      expect(b.equals(a)).to.equal(true);
      expect(await readFile(`${restoredDir}/sub/file`, "utf8")).to.equal("nested\n");

      // Deleting the snapshot (class policy Delete) removes its content and the copy.
      const copy = content.status!.snapshotHandle!;
      expect(existsSync(copy)).to.equal(true);
      await custom.deleteNamespacedCustomObject({ ...SNAP, plural: "volumesnapshots", namespace: ns.name, name: "snap" });
      await until("snapshot copy removed", async () => (existsSync(copy) ? undefined : true), 60_000);
      await until("content deleted", async () => {
        try {
          await custom.getClusterCustomObject({ ...SNAP, plural: "volumesnapshotcontents", name: content.metadata.name! });
          return undefined;
        } catch {
          return true;
        }
      }, 60_000);
    } finally {
      await ns.cleanup();
    }
  });

  it("runs every pod created together with its own fresh claim (the scheduler is made to look again once claims bind)", async () => {
    const { controlPlane } = await sharedCluster();
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await testNamespace(controlPlane.kubeConfig, "node-fresh-claims");
    const n = 16;
    try {
      await Promise.all(Array.from({ length: n }, async (_, i) => {
        await core.createNamespacedPersistentVolumeClaim({
          namespace: ns.name,
          body: { metadata: { name: `c${i}` }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Mi" } } } },
        });
        await core.createNamespacedPod({
          namespace: ns.name,
          body: {
            metadata: { name: `p${i}` },
            spec: {
              restartPolicy: "Never",
              containers: [{ name: "main", image: "busybox", command: ["sh", "-c", `echo ${i} > /data/i`], volumeMounts: [{ name: "d", mountPath: "/data" }] }],
              volumes: [{ name: "d", persistentVolumeClaim: { claimName: `c${i}` } }],
            },
          },
        });
      }));
      await until(`${n} pods Succeeded`, async () => {
        const pods = await core.listNamespacedPod({ namespace: ns.name });
        return pods.items.filter((p) => p.status?.phase === "Succeeded").length === n ? true : undefined;
      }, 90_000);
      for (let i = 0; i < n; i++) {
        const pvc = await core.readNamespacedPersistentVolumeClaim({ name: `c${i}`, namespace: ns.name });
        const dir = (await core.readPersistentVolume({ name: pvc.spec!.volumeName! })).spec!.hostPath!.path;
        expect(await readFile(`${dir}/i`, "utf8")).to.equal(`${i}\n`);
      }
    } finally {
      await ns.cleanup();
    }
  });

  it("reports a snapshot of a missing PVC in status.error", async () => {
    const { controlPlane } = await sharedCluster();
    const custom = controlPlane.kubeConfig.makeApiClient(CustomObjectsApi);
    const ns = await testNamespace(controlPlane.kubeConfig, "node-snap-err");
    try {
      await custom.createNamespacedCustomObject({
        ...SNAP, plural: "volumesnapshots", namespace: ns.name,
        body: { apiVersion: "snapshot.storage.k8s.io/v1", kind: "VolumeSnapshot", metadata: { name: "orphan" }, spec: { source: { persistentVolumeClaimName: "nope" } } },
      });
      const s = await until("snapshot error", async () => {
        const o = (await custom.getNamespacedCustomObject({ ...SNAP, plural: "volumesnapshots", namespace: ns.name, name: "orphan" })) as VolumeSnapshot;
        return o.status?.error ? o : undefined;
      }, 60_000);
      expect(s.status?.readyToUse).to.equal(false);
      expect(s.status?.error?.message).to.contain(`PersistentVolumeClaim "${ns.name}/nope" not found`);
    } finally {
      await ns.cleanup();
    }
  });

  it("removes a released PV and its directory (reclaim policy Delete)", async () => {
    const { controlPlane } = await sharedCluster();
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await testNamespace(controlPlane.kubeConfig, "node-reclaim");
    try {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: ns.name,
        body: { metadata: { name: "tmp" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Mi" } } } },
      });
      const pvName = await until("tmp bound", async () => {
        const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "tmp", namespace: ns.name });
        return pvc.status?.phase === "Bound" ? pvc.spec!.volumeName : undefined;
      }, 60_000);
      const dir = (await core.readPersistentVolume({ name: pvName })).spec!.hostPath!.path;
      expect(existsSync(dir)).to.equal(true);
      await core.deleteNamespacedPersistentVolumeClaim({ name: "tmp", namespace: ns.name });
      await until("PV deleted", async () => {
        try {
          await core.readPersistentVolume({ name: pvName });
          return undefined;
        } catch {
          return true;
        }
      }, 60_000);
      expect(existsSync(dir)).to.equal(false);
    } finally {
      await ns.cleanup();
    }
  });
});
