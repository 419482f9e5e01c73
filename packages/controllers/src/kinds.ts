// Runtime descriptors for every kind the controllers read or write.
import { DataProtectionGroup, Plural, StorageGroup, ThreeScaleGroup, Version } from "@dataprotection/api";
import { Kinds as Builtin, type Kind } from "@dataprotection/runtime";

const dp = (kind: string, plural: string, namespaced: boolean): Kind => ({ group: DataProtectionGroup, version: Version, kind, plural, namespaced });

export const Kinds = {
  ...Builtin,
  Backup: dp("Backup", Plural.Backup, true),
  BackupPolicy: dp("BackupPolicy", Plural.BackupPolicy, true),
  BackupRepo: dp("BackupRepo", Plural.BackupRepo, false),
  BackupTool: dp("BackupTool", Plural.BackupTool, false),
  RestoreJob: dp("RestoreJob", Plural.RestoreJob, true),
  StorageProvider: { group: StorageGroup, version: Version, kind: "StorageProvider", plural: Plural.StorageProvider, namespaced: false },
  APIManagerBackup: { group: ThreeScaleGroup, version: Version, kind: "APIManagerBackup", plural: Plural.APIManagerBackup, namespaced: true },
  APIManagerRestore: { group: ThreeScaleGroup, version: Version, kind: "APIManagerRestore", plural: Plural.APIManagerRestore, namespaced: true },
  APIManager: { group: ThreeScaleGroup, version: Version, kind: "APIManager", plural: "apimanagers", namespaced: true },
  StorageClass: { group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", namespaced: false },
  CSIDriver: { group: "storage.k8s.io", version: "v1", kind: "CSIDriver", plural: "csidrivers", namespaced: false },
  VolumeSnapshot: { group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshot", plural: "volumesnapshots", namespaced: true },
  VolumeSnapshotContent: { group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshotContent", plural: "volumesnapshotcontents", namespaced: false },
} satisfies Record<string, Kind>;
