// Pure: what the snapshot emulation does for one VolumeSnapshot, and which contents it removes.
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from "./types.ts";

export const DRIVER = "dataprotection.local/local-path";
export const DEFAULT_SNAPSHOT_CLASS = "local-snapshots";
export const ANN_DEFAULT_SNAPSHOT_CLASS = "snapshot.storage.kubernetes.io/is-default-class";

export function defaultSnapshotClass(): VolumeSnapshotClass {
  return {
    apiVersion: "snapshot.storage.k8s.io/v1",
    kind: "VolumeSnapshotClass",
    metadata: { name: DEFAULT_SNAPSHOT_CLASS, annotations: { [ANN_DEFAULT_SNAPSHOT_CLASS]: "true" } },
    driver: DRIVER,
    deletionPolicy: "Delete",
  };
}

export function contentNameFor(snap: VolumeSnapshot): string {
  return `snapcontent-${snap.metadata.uid}`;
}

export type SnapshotDecision =
  | { kind: "skip" }
  | { kind: "error"; message: string }
  | { kind: "bind"; content: VolumeSnapshotContent; restoreSize: string | number }
  | {
      kind: "create";
      contentName: string;
      sourcePath: string;
      volumeHandle: string;
      restoreSize: string;
      className: string;
      deletionPolicy: "Delete" | "Retain";
    };

export interface SnapshotObservation {
  snap: VolumeSnapshot;
  classes: VolumeSnapshotClass[];
  /** The source claim (dynamic snapshots), if it exists. */
  pvc?: V1PersistentVolumeClaim;
  /** The claim's bound volume, if any. */
  pv?: V1PersistentVolume;
  /** The content bound (or to be bound) to the snapshot, if it exists. */
  content?: VolumeSnapshotContent;
}

function resolveClass(snap: VolumeSnapshot, classes: VolumeSnapshotClass[]): VolumeSnapshotClass | string {
  const name = snap.spec.volumeSnapshotClassName;
  if (name) return classes.find((c) => c.metadata.name === name) ?? `VolumeSnapshotClass "${name}" not found`;
  const defaults = classes.filter((c) => c.metadata.annotations?.[ANN_DEFAULT_SNAPSHOT_CLASS] === "true" && c.driver === DRIVER);
  return defaults[0] ?? `no default VolumeSnapshotClass for driver ${DRIVER}: set spec.volumeSnapshotClassName`;
}

export function decideSnapshot(o: SnapshotObservation): SnapshotDecision {
  const { snap } = o;
  if (snap.metadata.deletionTimestamp) return { kind: "skip" };
  const src = snap.spec.source;
  if (src.volumeSnapshotContentName) {
    const c = o.content;
    if (!c) return { kind: "error", message: `VolumeSnapshotContent "${src.volumeSnapshotContentName}" not found` };
    if (c.spec.driver !== DRIVER) return { kind: "skip" };
    if (!c.status?.readyToUse) return { kind: "error", message: `VolumeSnapshotContent "${c.metadata.name}" is not ready to use` };
    return { kind: "bind", content: c, restoreSize: c.status.restoreSize ?? 0 };
  }
  const cls = resolveClass(snap, o.classes);
  if (typeof cls === "string") {
    // A named class of another driver is someone else's business.
    return { kind: "error", message: cls };
  }
  if (cls.driver !== DRIVER) return { kind: "skip" };
  const claim = src.persistentVolumeClaimName ?? "";
  const key = `${snap.metadata.namespace}/${claim}`;
  if (o.content?.status?.readyToUse) {
    return { kind: "bind", content: o.content, restoreSize: o.pvc?.spec?.resources?.requests?.storage ?? o.content.status.restoreSize ?? 0 };
  }
  if (!o.pvc) return { kind: "error", message: `failed to take snapshot: PersistentVolumeClaim "${key}" not found` };
  if (o.pvc.status?.phase !== "Bound" || !o.pv) {
    return { kind: "error", message: `failed to take snapshot: PersistentVolumeClaim "${key}" is not bound to a volume` };
  }
  const path = o.pv.spec?.hostPath?.path ?? o.pv.spec?.local?.path;
  if (!path) return { kind: "error", message: `failed to take snapshot: PersistentVolume "${o.pv.metadata?.name}" has no local path` };
  return {
    kind: "create",
    contentName: contentNameFor(snap),
    sourcePath: path,
    volumeHandle: o.pv.metadata!.name!,
    restoreSize: o.pvc.spec?.resources?.requests?.storage ?? o.pv.spec?.capacity?.storage ?? "0",
    className: cls.metadata.name!,
    deletionPolicy: cls.deletionPolicy,
  };
}

/** Contents of our driver whose snapshot is gone and whose policy says Delete. */
export function contentsToDelete(contents: VolumeSnapshotContent[], liveSnapshotUids: Set<string>): VolumeSnapshotContent[] {
  return contents.filter((c) =>
    c.spec.driver === DRIVER &&
    c.spec.deletionPolicy === "Delete" &&
    !!c.spec.volumeSnapshotRef.uid &&
    !liveSnapshotUids.has(c.spec.volumeSnapshotRef.uid));
}

/** The snapshot status for a bound, ready content. */
export function readyStatus(content: VolumeSnapshotContent, restoreSize: string | number): NonNullable<VolumeSnapshot["status"]> {
  const ns = content.status?.creationTime;
  return {
    boundVolumeSnapshotContentName: content.metadata.name,
    creationTime: (ns ? new Date(Math.floor(ns / 1e6)) : new Date()).toISOString().replace(/\.\d{3}Z$/, "Z"),
    readyToUse: true,
    restoreSize,
  };
}
