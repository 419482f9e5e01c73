// The snapshot.storage.k8s.io/v1 VolumeSnapshot the Backup controller reads and writes (shared shape in @dataprotection/api).
export type { VolumeSnapshot as VolumeSnapshotObject } from "@dataprotection/api";
