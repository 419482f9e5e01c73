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
/** Annotation on a RestoreJob: "<statefulset>=<replicas>", recorded before scaling the target down. */
export const AnnotationOriginalReplicas = "dataprotection.kubeblocks.io/original-replicas";

/**
 * Annotation on a running logfile Backup: the keep-from time (RFC 3339) its policy last handed
 * to the archiver, in the ConfigMap the archiver mounts (key {@link LogRetentionKeepFromKey}).
 */
export const AnnotationLogKeepFrom = "dataprotection.kubeblocks.io/log-keep-from";
/** Key of the log-retention ConfigMap's keep-from time, and the file name the archiver reads. */
export const LogRetentionKeepFromKey = "keepFrom";

/** Annotation on a BackupTool: "true" runs its backup and restore pods as root (uid 0), as KubeBlocks 0.6 ran every tool. */
export const AnnotationRunAsRoot = "dataprotection.kubeblocks.io/run-as-root";

// Labels and annotations the operator, its plugin and its tools put on what they create, and
// find their children by: read by more than one package, so spelled here once.

/** Kubernetes' recommended label; value {@link ManagedBy} on everything the operator and its tools create. */
export const LabelManagedBy = "app.kubernetes.io/managed-by";
export const ManagedBy = "dataprotection";
/** Label on a Backup's Jobs, pods and StatefulSets: the Backup's name. */
export const LabelBackupName = "dataprotection.kubeblocks.io/backup-name";
/** On VolumeSnapshots: the uid of the Backup that made them (they carry no owner reference). */
export const LabelBackupUID = "dataprotection.kubeblocks.io/backup-uid";
/** What a child pod does for its Backup: tool, delete, prehook, posthook, status. */
export const LabelJobRole = "dataprotection.kubeblocks.io/job-role";
/** Label on every child of a RestoreJob, naming it. */
export const LabelRestoreJob = "dataprotection.kubeblocks.io/restorejob";
/** Label on restore Jobs and their pods: verify, physical or logical. */
export const LabelRestoreStage = "dataprotection.kubeblocks.io/restore-stage";
/** Label on a logical restore Job: the target pod it restores into. */
export const LabelTargetPod = "dataprotection.kubeblocks.io/target-pod";
/** Label on a PVC provisioned by a RestoreJob: the RestoreJob's uid. */
export const LabelRestoreJobUid = "dataprotection.kubeblocks.io/restorejob-uid";
/**
 * Annotation a provider's storageClassTemplate may put on the StorageClass: the access
 * modes its volumes support (comma-separated), e.g. "ReadWriteOnce" for a node-local class.
 */
export const AnnotationAccessModes = "dataprotection.kubeblocks.io/access-modes";
/** Label on a BackupRepo's pre-check Job and its PVC: the repo's generation it checks. */
export const LabelPreCheckGeneration = "dataprotection.kubeblocks.io/pre-check-generation";
/** Annotations on an APIManagerBackup's destination PVC: the APIManager and the CR it holds. */
export const AnnotationAPIManagerName = "apps.3scale.net/apimanager-name";
export const AnnotationAPIManagerUID = "apps.3scale.net/apimanager-uid";
export const AnnotationAPIManagerBackupName = "apps.3scale.net/apimanagerbackup-name";
export const AnnotationAPIManagerBackupUID = "apps.3scale.net/apimanagerbackup-uid";
/** Label on what an APIManagerBackup/APIManagerRestore creates: the CR's name. */
export const LabelThreescaleOwner = "threescale.dataprotection/owner";
/** Label on the 3scale tool's helper Jobs: the step they run. */
export const LabelThreescaleHelper = "threescale.dataprotection/helper";

/** A label, annotation or finalizer users meet, for the generated API reference. */
export interface WellKnownKey {
  key: string;
  type: "label" | "annotation" | "finalizer";
  on: string;
  meaning: string;
  /** Not in KubeBlocks 0.6. */
  extension?: boolean;
}

export const wellKnownKeys: readonly WellKnownKey[] = [
  { key: AnnotationIsDefaultRepo, type: "annotation", on: "BackupRepo", meaning: '"true" makes it the default repo: Backups whose policy names no repo go there. Two defaults: both report the conflict and such Backups fail with AmbiguousDefaultRepo.' },
  { key: LabelBackupRepoName, type: "label", on: "Backup", meaning: "The repo this Backup goes to; wins over everything but an incremental backup's parent repo." },
  { key: AnnotationBackupDestination, type: "annotation", on: "Backup", meaning: `"${BackupDestinationPVC}": write to the policy's persistentVolumeClaim even when a default repo exists. APIManagerBackup sets it for PVC destinations.`, extension: true },
  { key: AnnotationTargetPodName, type: "annotation", on: "Backup, BackupPolicy", meaning: "Pins the target pod by name (the Backup's wins); otherwise a pod labelled primary/leader is preferred among those matching target.labelsSelector." },
  { key: LabelBackupProtection, type: "label", on: "Backup", meaning: `"${BackupProtectionRetain}": retention never deletes it, and deleting it keeps its data and VolumeSnapshots. ${LabelBackupProtectionLegacy} is honoured too.` },
  { key: LabelBackupPolicy, type: "label", on: "Backup", meaning: "Set on scheduled Backups: the policy that made it (for selection with kubectl -l; the operator itself follows spec.backupPolicyName)." },
  { key: LabelBackupType, type: "label", on: "Backup", meaning: "Set on scheduled Backups: datafile, logfile or snapshot." },
  { key: LabelAutoBackup, type: "label", on: "Backup", meaning: '"true" on Backups made by a schedule; backupsHistoryLimit counts only these.' },
  { key: AnnotationPathPrefix, type: "annotation", on: "BackupPolicy", meaning: "A path prefix inserted into its Backups' file paths in the repo." },
  { key: LabelVolumeType, type: "label", on: "PersistentVolumeClaim", meaning: '"data" or "log": which of the target pod\'s claims a snapshot Backup takes (all claims when none is labelled).' },
  { key: AnnotationRunAsRoot, type: "annotation", on: "BackupTool", meaning: '"true": its backup pods and its restore pods into a target (physical, or logical against the target pods) run as root (uid 0), as KubeBlocks 0.6 ran every tool, e.g. to read every file or restore owners. Otherwise a backup runs non-root as the target container\'s uid (else the target pod\'s, else 65532) and a restore as the image\'s user. backupStatusUpdates Jobs always run as the target\'s user.', extension: true },
  { key: AnnotationOriginalReplicas, type: "annotation", on: "RestoreJob", meaning: "Written by the operator: the StatefulSet and replicas it scales back to after a physical restore.", extension: true },
  { key: Finalizer, type: "finalizer", on: "Backup, BackupRepo, RestoreJob", meaning: "Backup: its data is deleted first. BackupRepo: waits until no Backup uses it. RestoreJob (extension): from scale-down to scale-back; deleting it mid-restore stops its Jobs' pods and scales the StatefulSet back." },
];
