import { expect } from "chai";
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { contentsToDelete, decideSnapshot, defaultSnapshotClass, DRIVER, readyStatus } from "./decide.ts";
import type { VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from "./types.ts";

const snap = (source: VolumeSnapshot["spec"]["source"], className?: string): VolumeSnapshot => ({
  metadata: { name: "s", namespace: "ns", uid: "u1" }, spec: { source, volumeSnapshotClassName: className },
});
const classes: VolumeSnapshotClass[] = [defaultSnapshotClass(), { metadata: { name: "foreign" }, driver: "ebs.csi.aws.com", deletionPolicy: "Delete" }];
const boundPvc: V1PersistentVolumeClaim = { metadata: { name: "data" }, spec: { volumeName: "pv1", resources: { requests: { storage: "3Gi" } } }, status: { phase: "Bound" } };
const pv: V1PersistentVolume = { metadata: { name: "pv1" }, spec: { hostPath: { path: "/n/pvs/pv1" } } };
const content = (ready: boolean, uid = "u1"): VolumeSnapshotContent => ({
  metadata: { name: "snapcontent-u1" },
  spec: { deletionPolicy: "Delete", driver: DRIVER, source: { volumeHandle: "pv1" }, volumeSnapshotRef: { name: "s", namespace: "ns", uid } },
  status: { readyToUse: ready, restoreSize: 1234, creationTime: 1_700_000_000_000_000_000, snapshotHandle: "/n/snapshots/snapcontent-u1" },
});

describe("decideSnapshot", () => {
  it("copies a bound claim through the default class", () => {
    expect(decideSnapshot({ snap: snap({ persistentVolumeClaimName: "data" }), classes, pvc: boundPvc, pv })).to.deep.equal({
      kind: "create", contentName: "snapcontent-u1", sourcePath: "/n/pvs/pv1", volumeHandle: "pv1",
      restoreSize: "3Gi", className: "local-snapshots", deletionPolicy: "Delete",
    });
  });

  it("reports a missing or unbound claim as an error", () => {
    expect(decideSnapshot({ snap: snap({ persistentVolumeClaimName: "data" }), classes }))
      .to.deep.equal({ kind: "error", message: 'failed to take snapshot: PersistentVolumeClaim "ns/data" not found' });
    expect(decideSnapshot({ snap: snap({ persistentVolumeClaimName: "data" }), classes, pvc: { ...boundPvc, status: { phase: "Pending" } } }))
      .to.deep.equal({ kind: "error", message: 'failed to take snapshot: PersistentVolumeClaim "ns/data" is not bound to a volume' });
  });

  it("leaves snapshots of another driver's class alone and names a missing class", () => {
    expect(decideSnapshot({ snap: snap({ persistentVolumeClaimName: "data" }, "foreign"), classes, pvc: boundPvc, pv })).to.deep.equal({ kind: "skip" });
    expect(decideSnapshot({ snap: snap({ persistentVolumeClaimName: "data" }, "nope"), classes }))
      .to.deep.equal({ kind: "error", message: 'VolumeSnapshotClass "nope" not found' });
  });

  it("binds to an existing ready content (after a crash, or pre-provisioned)", () => {
    expect(decideSnapshot({ snap: snap({ persistentVolumeClaimName: "data" }), classes, pvc: boundPvc, pv, content: content(true) }))
      .to.deep.include({ kind: "bind", restoreSize: "3Gi" });
    expect(decideSnapshot({ snap: snap({ volumeSnapshotContentName: "snapcontent-u1" }), classes, content: content(true) }))
      .to.deep.include({ kind: "bind", restoreSize: 1234 });
    expect(decideSnapshot({ snap: snap({ volumeSnapshotContentName: "gone" }), classes }))
      .to.deep.equal({ kind: "error", message: 'VolumeSnapshotContent "gone" not found' });
  });

  it("builds the ready status from the content", () => {
    expect(readyStatus(content(true), "3Gi")).to.deep.equal({
      boundVolumeSnapshotContentName: "snapcontent-u1", creationTime: "2023-11-14T22:13:20Z", readyToUse: true, restoreSize: "3Gi",
    });
  });

  it("deletes contents whose snapshot is gone, unless their policy is Retain", () => {
    const retained = { ...content(true, "u2"), metadata: { name: "kept" }, spec: { ...content(true, "u2").spec, deletionPolicy: "Retain" as const } };
    const orphan = content(true, "u3");
    expect(contentsToDelete([content(true, "u1"), retained, orphan], new Set(["u1"]))).to.deep.equal([orphan]);
  });
});
