// Every kind with the schema and the CRD facts (scope, names, printer columns) the generator needs.
import type { Static, TSchema } from "@sinclair/typebox";
import { resource } from "./schemas/resource.ts";
import { BackupSpecSchema, BackupStatusSchema } from "./schemas/backup.ts";
import { BackupPolicySpecSchema, BackupPolicyStatusSchema } from "./schemas/backuppolicy.ts";
import { BackupRepoSpecSchema, BackupRepoStatusSchema } from "./schemas/backuprepo.ts";
import { BackupToolSpecSchema, BackupToolStatusSchema } from "./schemas/backuptool.ts";
import { RestoreJobSpecSchema, RestoreJobStatusSchema } from "./schemas/restorejob.ts";
import { StorageProviderSpecSchema, StorageProviderStatusSchema } from "./schemas/storageprovider.ts";
import {
  APIManagerBackupSpecSchema, APIManagerBackupStatusSpecSchema, APIManagerRestoreSpecSchema, APIManagerRestoreStatusSpecSchema,
} from "./schemas/threescale.ts";
import {
  DataProtectionAPIVersion, DataProtectionGroup, Kind, Plural, StorageAPIVersion, StorageGroup, ThreeScaleAPIVersion, ThreeScaleGroup, Version,
} from "./constants.ts";

export const BackupSchema = resource(DataProtectionAPIVersion, Kind.Backup, "Backup is the Schema for the backups API (defined by User).", BackupSpecSchema, BackupStatusSchema);
export const BackupPolicySchema = resource(DataProtectionAPIVersion, Kind.BackupPolicy, "BackupPolicy is the Schema for the backuppolicies API (defined by User)", BackupPolicySpecSchema, BackupPolicyStatusSchema);
export const BackupRepoSchema = resource(DataProtectionAPIVersion, Kind.BackupRepo, "BackupRepo is the Schema for the backuprepos API", BackupRepoSpecSchema, BackupRepoStatusSchema);
export const BackupToolSchema = resource(DataProtectionAPIVersion, Kind.BackupTool, "BackupTool is the Schema for the backuptools API (defined by provider)", BackupToolSpecSchema, BackupToolStatusSchema);
export const RestoreJobSchema = resource(DataProtectionAPIVersion, Kind.RestoreJob, "RestoreJob is the Schema for the restorejobs API (defined by User)", RestoreJobSpecSchema, RestoreJobStatusSchema);
export const StorageProviderSchema = resource(StorageAPIVersion, Kind.StorageProvider, "StorageProvider is the Schema for the storageproviders API: how to provision storage for a BackupRepo.", StorageProviderSpecSchema, StorageProviderStatusSchema);
export const APIManagerBackupSchema = resource(ThreeScaleAPIVersion, Kind.APIManagerBackup, "APIManagerBackup is the resource used to backup a 3scale API Management solution deployed using an APIManager custom resource.", APIManagerBackupSpecSchema, APIManagerBackupStatusSpecSchema);
export const APIManagerRestoreSchema = resource(ThreeScaleAPIVersion, Kind.APIManagerRestore, "APIManagerRestore is the resource used to restore a 3scale API Management solution previously backed up with an APIManagerBackup.", APIManagerRestoreSpecSchema, APIManagerRestoreStatusSpecSchema);

export type Backup = Static<typeof BackupSchema>;
export type BackupPolicy = Static<typeof BackupPolicySchema>;
export type BackupRepo = Static<typeof BackupRepoSchema>;
export type BackupTool = Static<typeof BackupToolSchema>;
export type RestoreJob = Static<typeof RestoreJobSchema>;
export type StorageProvider = Static<typeof StorageProviderSchema>;
export type APIManagerBackup = Static<typeof APIManagerBackupSchema>;
export type APIManagerRestore = Static<typeof APIManagerRestoreSchema>;

export interface PrinterColumn {
  name: string;
  type: "string" | "integer" | "number" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindInfo {
  group: string;
  version: string;
  kind: Kind;
  plural: string;
  singular: string;
  scope: "Namespaced" | "Cluster";
  shortNames: string[];
  categories: string[];
  printerColumns: PrinterColumn[];
  schema: TSchema;
}

const age: PrinterColumn = { name: "AGE", type: "date", jsonPath: ".metadata.creationTimestamp" };
const dp = ["dataprotection"];

/** The kinds in generation order. */
export const kinds: readonly KindInfo[] = [
  {
    group: DataProtectionGroup, version: Version, kind: Kind.Backup, plural: Plural.Backup, singular: "backup", scope: "Namespaced",
    shortNames: [], categories: dp, schema: BackupSchema,
    printerColumns: [
      { name: "POLICY", type: "string", jsonPath: ".spec.backupPolicyName" },
      { name: "TYPE", type: "string", jsonPath: ".spec.backupType" },
      { name: "STATUS", type: "string", jsonPath: ".status.phase" },
      { name: "TOTAL-SIZE", type: "string", jsonPath: ".status.totalSize" },
      { name: "DURATION", type: "string", jsonPath: ".status.duration" },
      { name: "CREATION-TIME", type: "string", jsonPath: ".metadata.creationTimestamp" },
      { name: "COMPLETION-TIME", type: "string", jsonPath: ".status.completionTimestamp" },
    ],
  },
  {
    group: DataProtectionGroup, version: Version, kind: Kind.BackupPolicy, plural: Plural.BackupPolicy, singular: "backuppolicy", scope: "Namespaced",
    shortNames: ["bp"], categories: dp, schema: BackupPolicySchema,
    printerColumns: [
      { name: "STATUS", type: "string", jsonPath: ".status.phase" },
      { name: "LAST-SCHEDULE", type: "string", jsonPath: ".status.lastScheduleTime" },
      age,
    ],
  },
  {
    group: DataProtectionGroup, version: Version, kind: Kind.BackupRepo, plural: Plural.BackupRepo, singular: "backuprepo", scope: "Cluster",
    shortNames: [], categories: dp, schema: BackupRepoSchema,
    printerColumns: [
      { name: "STATUS", type: "string", jsonPath: ".status.phase" },
      { name: "STORAGE-PROVIDER", type: "string", jsonPath: ".spec.storageProviderRef" },
      { name: "DEFAULT", type: "boolean", jsonPath: ".status.isDefault" },
      age,
    ],
  },
  {
    group: DataProtectionGroup, version: Version, kind: Kind.BackupTool, plural: Plural.BackupTool, singular: "backuptool", scope: "Cluster",
    shortNames: [], categories: dp, schema: BackupToolSchema,
    printerColumns: [
      { name: "TYPE", type: "string", jsonPath: ".spec.type" },
      { name: "DEPLOY-KIND", type: "string", jsonPath: ".spec.deployKind" },
      { name: "IMAGE", type: "string", jsonPath: ".spec.image", priority: 1 },
      age,
    ],
  },
  {
    group: DataProtectionGroup, version: Version, kind: Kind.RestoreJob, plural: Plural.RestoreJob, singular: "restorejob", scope: "Namespaced",
    shortNames: [], categories: dp, schema: RestoreJobSchema,
    printerColumns: [
      { name: "STATUS", type: "string", jsonPath: ".status.phase" },
      { name: "BACKUP", type: "string", jsonPath: ".spec.backupJobName" },
      { name: "COMPLETION-TIME", type: "string", jsonPath: ".status.completionTimestamp" },
      age,
    ],
  },
  {
    group: StorageGroup, version: Version, kind: Kind.StorageProvider, plural: Plural.StorageProvider, singular: "storageprovider", scope: "Cluster",
    shortNames: [], categories: dp, schema: StorageProviderSchema,
    printerColumns: [
      { name: "CSIDRIVER", type: "string", jsonPath: ".spec.csiDriverName" },
      { name: "STATUS", type: "string", jsonPath: ".status.phase" },
      age,
    ],
  },
  {
    group: ThreeScaleGroup, version: Version, kind: Kind.APIManagerBackup, plural: Plural.APIManagerBackup, singular: "apimanagerbackup", scope: "Namespaced",
    shortNames: [], categories: [...dp, "threescale"], schema: APIManagerBackupSchema,
    printerColumns: [
      { name: "COMPLETED", type: "boolean", jsonPath: ".status.completed" },
      { name: "PVC", type: "string", jsonPath: ".status.backupPersistentVolumeClaimName" },
      age,
    ],
  },
  {
    group: ThreeScaleGroup, version: Version, kind: Kind.APIManagerRestore, plural: Plural.APIManagerRestore, singular: "apimanagerrestore", scope: "Namespaced",
    shortNames: [], categories: [...dp, "threescale"], schema: APIManagerRestoreSchema,
    printerColumns: [
      { name: "COMPLETED", type: "boolean", jsonPath: ".status.completed" },
      { name: "APIMANAGER", type: "string", jsonPath: ".status.apiManagerToRestoreRef.name" },
      age,
    ],
  },
];

export function kindInfo(kind: Kind): KindInfo {
  const k = kinds.find((x) => x.kind === kind);
  if (!k) throw new Error(`unknown kind ${kind}`);
  return k;
}
