// Enum values with the API's spelling; the schemas build their `enum` lists from these.

export const BackupPhase = {
  New: "New",
  InProgress: "InProgress",
  Running: "Running",
  Completed: "Completed",
  Failed: "Failed",
  Deleting: "Deleting",
} as const;
export type BackupPhase = (typeof BackupPhase)[keyof typeof BackupPhase];

export const BackupType = {
  Datafile: "datafile",
  Logfile: "logfile",
  Snapshot: "snapshot",
} as const;
export type BackupType = (typeof BackupType)[keyof typeof BackupType];

export const BackupMethod = {
  BackupTool: "backupTool",
  Snapshot: "snapshot",
} as const;
export type BackupMethod = (typeof BackupMethod)[keyof typeof BackupMethod];

export const DeployKind = {
  Job: "job",
  StatefulSet: "statefulSet",
} as const;
export type DeployKind = (typeof DeployKind)[keyof typeof DeployKind];

/** BackupTool spec.type. */
export const BackupToolType = {
  File: "file",
  PITR: "pitr",
} as const;
export type BackupToolType = (typeof BackupToolType)[keyof typeof BackupToolType];

export const CreatePVCPolicy = {
  IfNotPresent: "IfNotPresent",
  Never: "Never",
} as const;
export type CreatePVCPolicy = (typeof CreatePVCPolicy)[keyof typeof CreatePVCPolicy];

export const PodRestoreScope = {
  All: "All",
  ReadWrite: "ReadWrite",
} as const;
export type PodRestoreScope = (typeof PodRestoreScope)[keyof typeof PodRestoreScope];

export const RestoreJobPhase = {
  New: "New",
  InProgressPhy: "InProgressPhy",
  InProgressLogic: "InProgressLogic",
  Completed: "Completed",
  Failed: "Failed",
} as const;
export type RestoreJobPhase = (typeof RestoreJobPhase)[keyof typeof RestoreJobPhase];

export const BackupPolicyPhase = {
  Available: "Available",
  Failed: "Failed",
} as const;
export type BackupPolicyPhase = (typeof BackupPolicyPhase)[keyof typeof BackupPolicyPhase];

export const BackupRepoPhase = {
  PreChecking: "PreChecking",
  Failed: "Failed",
  Ready: "Ready",
  Deleting: "Deleting",
} as const;
export type BackupRepoPhase = (typeof BackupRepoPhase)[keyof typeof BackupRepoPhase];

export const BackupStatusUpdateStage = {
  Pre: "pre",
  Post: "post",
} as const;
export type BackupStatusUpdateStage = (typeof BackupStatusUpdateStage)[keyof typeof BackupStatusUpdateStage];

export const StorageProviderPhase = {
  NotReady: "NotReady",
  Ready: "Ready",
} as const;
export type StorageProviderPhase = (typeof StorageProviderPhase)[keyof typeof StorageProviderPhase];

/** core/v1 PersistentVolumeReclaimPolicy values a repo may use (Recycle is deprecated upstream). */
export const PersistentVolumeReclaimPolicy = {
  Delete: "Delete",
  Retain: "Retain",
} as const;
export type PersistentVolumeReclaimPolicy = (typeof PersistentVolumeReclaimPolicy)[keyof typeof PersistentVolumeReclaimPolicy];

/** Extension: how a repo is reached. */
export const AccessMethod = {
  Mount: "Mount",
  Tool: "Tool",
} as const;
export type AccessMethod = (typeof AccessMethod)[keyof typeof AccessMethod];

/** Extension: the cipher of an encrypted repo. */
export const EncryptionAlgorithm = {
  AES256GCM: "AES-256-GCM",
} as const;
export type EncryptionAlgorithm = (typeof EncryptionAlgorithm)[keyof typeof EncryptionAlgorithm];

/**
 * Extension: how a Backup's data was written, recorded at completion (never inferred later).
 * - Agent: the tool streamed through dp-agent (objects + manifest.json).
 * - PlainFiles: the tool wrote plain files into BACKUP_DIR on a mounted, unencrypted repo; they
 *   stay there in the KubeBlocks 0.6 layout and are verified against the recorded sha256.
 * - SealedPlainFiles: the tool wrote plain files into a scratch BACKUP_DIR (S3 or encrypted repo);
 *   dp-agent sealed them into the repo as one object, unpacked into a scratch BACKUP_DIR at restore.
 */
export const BackupDataFormat = {
  Agent: "Agent",
  PlainFiles: "PlainFiles",
  SealedPlainFiles: "SealedPlainFiles",
} as const;
export type BackupDataFormat = (typeof BackupDataFormat)[keyof typeof BackupDataFormat];

export const ConditionStatus = {
  True: "True",
  False: "False",
  Unknown: "Unknown",
} as const;
export type ConditionStatus = (typeof ConditionStatus)[keyof typeof ConditionStatus];

export const LabelSelectorOperator = {
  In: "In",
  NotIn: "NotIn",
  Exists: "Exists",
  DoesNotExist: "DoesNotExist",
} as const;
export type LabelSelectorOperator = (typeof LabelSelectorOperator)[keyof typeof LabelSelectorOperator];

/** The values of an `as const` enum object, for schema `enum` lists. */
export function values<const E extends Record<string, string>>(e: E): E[keyof E][] {
  return Object.values(e) as E[keyof E][];
}
