// Public surface of @dataprotection/api: types, schemas, enums, constants, validators, CRDs.
export * from "./constants.ts";
export * from "./enums.ts";
export * from "./kinds.ts";
export { Kinds, type ResourceKind } from "./resources.ts";
export type * from "./schemas/backup.ts";
export type * from "./schemas/backuppolicy.ts";
export type * from "./schemas/backuprepo.ts";
export type * from "./schemas/backuptool.ts";
export type * from "./schemas/restorejob.ts";
export type * from "./schemas/storageprovider.ts";
export type * from "./schemas/threescale.ts";
export type { Condition, EnvVar, EnvFromSource, LabelSelector, ResourceRequirements, Volume, VolumeMount, SecretReference, ObjectMeta } from "./types/k8s.ts";
export type { SnapshotError, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from "./types/volumesnapshot.ts";
export { TTL_PATTERN } from "./schemas/backuppolicy.ts";
export { QUANTITY_PATTERN } from "./schemas/k8s.ts";
export { validate, withDefaults, validateObject, formatErrors, validateBackup, validateBackupPolicy, validateBackupRepo, validateBackupTool, validateRestoreJob, validateStorageProvider, validateAPIManagerBackup, validateAPIManagerRestore, type ValidationError } from "./validate.ts";
export { crdDocuments, crdDocument, type CrdDocument } from "./gen/crd.ts";
export * from "./metrics.ts";
