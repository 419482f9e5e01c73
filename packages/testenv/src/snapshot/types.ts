// The snapshot.storage.k8s.io/v1 shapes live in @dataprotection/api, shared with the controllers.
export type { SnapshotError, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from "@dataprotection/api";

export interface ObjectList<T> {
  items: T[];
}
