// Groups, versions, kinds and the well-known labels/annotations shared by every package.

export const DataProtectionGroup = "dataprotection.kubeblocks.io";
export const StorageGroup = "storage.kubeblocks.io";
export const ThreeScaleGroup = "apps.3scale.net";
export const Version = "v1alpha1";

export const DataProtectionAPIVersion = `${DataProtectionGroup}/${Version}`;
export const StorageAPIVersion = `${StorageGroup}/${Version}`;
export const ThreeScaleAPIVersion = `${ThreeScaleGroup}/${Version}`;

export const Kind = {
  Backup: "Backup",
  BackupPolicy: "BackupPolicy",
  BackupRepo: "BackupRepo",
  BackupTool: "BackupTool",
  RestoreJob: "RestoreJob",
  StorageProvider: "StorageProvider",
  APIManagerBackup: "APIManagerBackup",
  APIManagerRestore: "APIManagerRestore",
} as const;
export type Kind = (typeof Kind)[keyof typeof Kind];

export const Plural = {
  Backup: "backups",
  BackupPolicy: "backuppolicies",
  BackupRepo: "backuprepos",
  BackupTool: "backuptools",
  RestoreJob: "restorejobs",
  StorageProvider: "storageproviders",
  APIManagerBackup: "apimanagerbackups",
  APIManagerRestore: "apimanagerrestores",
} as const satisfies Record<Kind, string>;

/** Annotation on a BackupRepo: "true" makes it the default repo. */
export const AnnotationIsDefaultRepo = "dataprotection.kubeblocks.io/is-default-repo";
/** Label on a Backup (or BackupPolicy) choosing its repo; wins over the policy's backupRepoName. */
export const LabelBackupRepoName = "dataprotection.kubeblocks.io/backup-repo-name";
/**
 * Annotation on a Backup (extension): value {@link BackupDestinationPVC} writes it to its policy's
 * persistentVolumeClaim even when a default BackupRepo exists (which otherwise comes first).
 */
export const AnnotationBackupDestination = "dataprotection.kubeblocks.io/backup-destination";
export const BackupDestinationPVC = "persistentVolumeClaim";
/** Annotation on a Backup or BackupPolicy naming the exact target pod. */
export const AnnotationTargetPodName = "dataprotection.kubeblocks.io/target-pod-name";
/** Label on a Backup; value {@link BackupProtectionRetain} keeps it from retention and deletion of its data. */
export const LabelBackupProtection = "dataprotection.kubeblocks.io/backup-protection";
/** The KubeBlocks 0.6 spelling of the protection label, honoured too. */
export const LabelBackupProtectionLegacy = "kubeblocks.io/backup-protection";
export const BackupProtectionRetain = "retain";
/** Finalizer on Backups (deletes the data) and BackupRepos (waits for their backups). */
export const Finalizer = "dataprotection.kubeblocks.io/finalizer";
/** Label on a Backup naming the BackupPolicy it was made from. */
export const LabelBackupPolicy = "dataprotection.kubeblocks.io/backup-policy";
/** Label on a Backup with its backupType. */
export const LabelBackupType = "dataprotection.kubeblocks.io/backup-type";
/** Label on Backups created by a schedule: "true". */
export const LabelAutoBackup = "dataprotection.kubeblocks.io/autobackup";
/** Annotation on a BackupPolicy: a path prefix inserted into the backup file path. */
export const AnnotationPathPrefix = "dataprotection.kubeblocks.io/path-prefix";
/** Label on PVC snapshots' source volumes selecting data and log volumes (value "data" or "log"). */
export const LabelVolumeType = "kubeblocks.io/volume-type";
