import { expect } from "chai";
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { buildPv, claimDataSource, claimsToProvision, defaultStorageClass, PROVISIONER, volumesToDelete } from "./provision.ts";

const local = defaultStorageClass();
const wffc: V1StorageClass = { ...local, metadata: { name: "wffc" }, volumeBindingMode: "WaitForFirstConsumer" };
const other: V1StorageClass = { metadata: { name: "ebs" }, provisioner: "ebs.csi.aws.com" };
const repoClass: V1StorageClass = { metadata: { name: "repo-abc" }, provisioner: PROVISIONER, reclaimPolicy: "Retain" };

function pvc(name: string, sc: string, extra: Partial<V1PersistentVolumeClaim> = {}): V1PersistentVolumeClaim {
  return {
    metadata: { name, namespace: "ns", uid: `uid-${name}`, ...extra.metadata },
    spec: { storageClassName: sc, accessModes: ["ReadWriteMany"], resources: { requests: { storage: "5Mi" } }, ...extra.spec },
    status: { phase: "Pending", ...extra.status },
  };
}

describe("local-path provisioning decisions", () => {
  it("provisions pending claims of any class with our provisioner, and no others", () => {
    const claims = [
      pvc("a", "local-path"), pvc("b", "ebs"), pvc("c", "repo-abc"), pvc("d", "missing"),
      pvc("bound", "local-path", { spec: { volumeName: "pv-x" }, status: { phase: "Bound" } }),
      pvc("done", "local-path"),
      pvc("w1", "wffc"), pvc("w2", "wffc", { metadata: { name: "w2", namespace: "ns", uid: "uid-w2", annotations: { "volume.kubernetes.io/selected-node": "local-node-0" } } }),
    ];
    const got = claimsToProvision(claims, [local, wffc, other, repoClass], new Set(["pvc-uid-done"]), "local-node-0");
    expect(got.map((g) => g.pvc.metadata!.name)).to.deep.equal(["a", "c", "w2"]);
    // Another node of the cluster: only the WaitForFirstConsumer claims placed on it.
    const w3 = pvc("w3", "wffc", { metadata: { name: "w3", namespace: "ns", uid: "uid-w3", annotations: { "volume.kubernetes.io/selected-node": "local-node-1" } } });
    expect(claimsToProvision([...claims, w3], [local, wffc, other, repoClass], new Set(), "local-node-1", false).map((g) => g.pvc.metadata!.name)).to.deep.equal(["w3"]);
  });

  it("makes a node's PV local to it (required node affinity on its hostname)", () => {
    expect(buildPv(pvc("c", "wffc"), wffc, "/n1/pvs/pvc-uid-c", "local-node-1").spec?.nodeAffinity).to.deep.equal({
      required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: ["local-node-1"] }] }] },
    });
    expect(buildPv(pvc("c", "wffc"), wffc, "/p").spec?.nodeAffinity).to.equal(undefined);
  });

  it("builds a hostPath PV pre-bound to the claim with its size, modes and the class's reclaim policy", () => {
    const pv = buildPv(pvc("c", "repo-abc"), repoClass, "/data/pvs/pvc-uid-c");
    expect(pv.metadata).to.deep.equal({ name: "pvc-uid-c", annotations: { "pv.kubernetes.io/provisioned-by": PROVISIONER } });
    expect(pv.spec).to.deep.include({
      capacity: { storage: "5Mi" }, accessModes: ["ReadWriteMany"], persistentVolumeReclaimPolicy: "Retain",
      storageClassName: "repo-abc", hostPath: { path: "/data/pvs/pvc-uid-c", type: "DirectoryOrCreate" },
    });
    expect(pv.spec!.claimRef).to.include({ namespace: "ns", name: "c", uid: "uid-c" });
  });

  it("reclaims only our released volumes with policy Delete", () => {
    const pv = (name: string, phase: string, policy: string, by = PROVISIONER): V1PersistentVolume => ({
      metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": by } },
      spec: { persistentVolumeReclaimPolicy: policy },
      status: { phase },
    });
    const got = volumesToDelete([pv("a", "Released", "Delete"), pv("b", "Bound", "Delete"), pv("c", "Released", "Retain"), pv("d", "Released", "Delete", "other")]);
    expect(got.map((p) => p.metadata!.name)).to.deep.equal(["a"]);
  });

  it("recognizes VolumeSnapshot and PVC data sources", () => {
    expect(claimDataSource(pvc("r", "local-path", { spec: { dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: "s" } } })))
      .to.deep.equal({ kind: "VolumeSnapshot", name: "s" });
    expect(claimDataSource(pvc("r", "local-path", { spec: { dataSource: { kind: "PersistentVolumeClaim", name: "src" } } })))
      .to.deep.equal({ kind: "PersistentVolumeClaim", name: "src" });
    expect(claimDataSource(pvc("r", "local-path"))).to.equal(undefined);
  });
});
