// Backup: one backup of a target, made by a BackupPolicy's tool or a volume snapshot.
import { Type, type Static } from "@sinclair/typebox";
import { named, str, int32, nameRef, describe, stringEnum, stringMap, celRule, arrayOf, EXT } from "./helpers.ts";
import { Time, Duration, conditions } from "./k8s.ts";
import { BackupDataFormat, BackupPhase, BackupType, values } from "../enums.ts";

export const BackupTypeSchema = stringEnum("BackupType", values(BackupType),
  "BackupType the backup type, marked backup set is datafile or logfile or snapshot.");
export const BackupPhaseSchema = stringEnum("BackupPhase", values(BackupPhase),
  "BackupPhase The current phase. Valid values are New, InProgress, Running (statefulSet tools), Completed, Failed, Deleting.");

export const BackupDataFormatSchema = stringEnum("BackupDataFormat", values(BackupDataFormat),
  "BackupDataFormat (extension) says how a backup's data was written: Agent, PlainFiles or SealedPlainFiles.");

/** A backup path in a repo: names joined by "/", never "." or ".." (what a delete or restore Job may be handed). */
export const BACKUP_PATH_PATTERN = "^(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$";

export const BackupImportSourceSchema = named("BackupImportSource", "BackupImportSource (extension) names a completed backup that another namespace (or another cluster) wrote into a BackupRepo, to import it as this Backup: a Job verifies every object against the backup's authenticated manifest, and the Backup completes with what the manifest records (its tool, files, checksums and backup id). No tool runs; the data is not copied. Deleting the imported Backup leaves the data in the repo.", {
  backupRepoName: nameRef("The BackupRepo holding the backup. Its spec.namespaceSelector must admit this namespace."),
  path: str("The backup's path in the repo, as its Backup recorded it in status.manifests.backupTool.filePath (\"<namespace>[/<prefix>]/<backup name>\"; a leading \"/\" is allowed).", { pattern: `^/?${BACKUP_PATH_PATTERN.slice(1)}`, maxLength: 512 }),
});

export const BackupSpecSchema = named("BackupSpec", "BackupSpec defines the desired state of Backup.", {
  backupPolicyName: nameRef("Which backupPolicy is applied to perform this backup. For an imported Backup (importFrom), the policy it is filed under: it need not exist, and when it does, only its retention applies (PITR chooses among the Backups of one policy)."),
  backupType: describe(BackupTypeSchema, "Backup Type. datafile or logfile or snapshot. If not set, datafile is the default type.", { default: BackupType.Datafile }),
  parentBackupName: Type.Optional(nameRef("if backupType is incremental, parentBackupName is required. A datafile backup with a parent is incremental: the tool's incrementalBackupCommands run against the parent.")),
  importFrom: Type.Optional(describe(BackupImportSourceSchema, "Import a completed datafile backup that another namespace or cluster wrote into a BackupRepo, instead of making one (see BackupImportSource). Restore it with a RestoreJob like any Backup of this namespace.", EXT)),
}, {
  "x-kubernetes-validations": [
    celRule("self == oldSelf", "spec: is immutable after creation; create a new Backup instead"),
    celRule<{ backupType?: string; parentBackupName?: string }>(
      "!has(self.parentBackupName) || self.backupType == 'datafile'",
      "spec.parentBackupName: only a datafile backup can be incremental",
      (s) => s.parentBackupName === undefined || (s.backupType ?? BackupType.Datafile) === BackupType.Datafile,
      ".parentBackupName",
    ),
    celRule<{ backupType?: string; parentBackupName?: string; importFrom?: unknown }>(
      "!has(self.importFrom) || (self.backupType == 'datafile' && !has(self.parentBackupName))",
      "spec.importFrom: only a datafile Backup without parentBackupName can be imported",
      (s) => s.importFrom === undefined || ((s.backupType ?? BackupType.Datafile) === BackupType.Datafile && s.parentBackupName === undefined),
      ".importFrom",
    ),
  ],
});

export const BackupLogStatusSchema = named("BackupLogStatus", "BackupLogStatus records the time span covered by logged data.", {
  startTime: Type.Optional(describe(Time, "startTime records the start time of data logging.")),
  stopTime: Type.Optional(describe(Time, "stopTime records the stop time of data logging.")),
});

export const BackupSnapshotStatusSchema = named("BackupSnapshotStatus", "BackupSnapshotStatus records the volume snapshot of a snapshot backup.", {
  volumeSnapshotName: Type.Optional(str("volumeSnapshotName records the volumeSnapshot name.")),
  volumeSnapshotContentName: Type.Optional(str("volumeSnapshotContentName specifies the name of a pre-existing VolumeSnapshotContent object representing an existing volume snapshot. This field should be set if the snapshot already exists and only needs a representation in Kubernetes. This field is immutable.")),
});

export const BackupFileSchema = named("BackupFile", "One file of a backup as reported by dp-agent.", {
  name: str("Path of the file relative to the backup directory."),
  size: Type.Optional(str("Stored size of the file (after compression and encryption) as a quantity string such as 12Mi. Filled when the tool's report lists it.")),
  checksum: Type.Optional(str("The file's checksum as dp-agent keeps it in the backup's manifest.json, as sha256:<hex> (by default sha256 over the file's authenticated chunk tags: see the dp-agent README). Filled when the tool's report lists it.")),
});

export const BackupToolManifestsStatusSchema = named("BackupToolManifestsStatus", "BackupToolManifestsStatus records the files written by the backup tool.", {
  filePath: Type.Optional(str("filePath records the file path of backup.")),
  logFilePath: Type.Optional(str("logFilePath records the log file path of backup.")),
  volumeName: Type.Optional(str("volumeName records volume name of backup data pvc.")),
  uploadTotalSize: Type.Optional(str("Backup upload total size. A string with capacity units in the form of \"1Gi\", \"1Mi\", \"1Ki\".")),
  checksum: Type.Optional(str("checksum of backup file, generated by md5 or sha1 or sha256.")),
  checkpoint: Type.Optional(str("backup checkpoint, for incremental backup.")),
  files: Type.Optional(arrayOf(BackupFileSchema, "The files of the backup with their sizes and checksums, as reported by dp-agent; a restore verifies each before use.", EXT)),
  encrypted: Type.Optional(Type.Boolean({ description: "Whether dp-agent encrypted the files with the repo's key.", ...EXT })),
  backupId: Type.Optional(str("The backup id dp-agent bound every object and the manifest to (the Backup's uid when it was made), as its report confirmed. A restore gives it to dp-agent, which refuses objects of another backup and older-format objects whose checksum was not recorded. Absent for backups made before objects were bound (or by a tool whose dp-agent does not bind): those are checked against the recorded checksums only.", EXT)),
  dataFormat: Type.Optional(describe(BackupDataFormatSchema, "How the tool's data was written, recorded when the backup completes: Agent (dp-agent objects with a manifest), PlainFiles (plain files kept in BACKUP_DIR on a mounted unencrypted repo, verified against checksum before a restore) or SealedPlainFiles (plain files sealed by dp-agent into the object plain-files.dpar on an S3 or encrypted repo, unpacked into a scratch BACKUP_DIR before the tool's restore commands run).", EXT)),
});

export const ManifestsStatusSchema = named("ManifestsStatus", "ManifestsStatus records the backup metadata.", {
  backupLog: Type.Optional(describe(BackupLogStatusSchema, "backupLog records startTime and stopTime of data logging.")),
  target: Type.Optional(str("target records the target cluster metadata string, which is in JSON format.")),
  backupSnapshot: Type.Optional(describe(BackupSnapshotStatusSchema, "snapshot records the volume snapshot metadata.")),
  backupTool: Type.Optional(describe(BackupToolManifestsStatusSchema, "backupTool records information about backup files generated by the backup tool.")),
  userContext: Type.Optional(stringMap("userContext stores some loosely structured and extensible information.")),
});

export const BackupStatusSchema = named("BackupStatus", "BackupStatus defines the observed state of Backup.", {
  phase: Type.Optional(describe(BackupPhaseSchema, "The current phase: New, InProgress, Running, Completed, Failed or Deleting.")),
  parentBackupName: Type.Optional(str("Records parentBackupName if backupType is incremental.")),
  expiration: Type.Optional(describe(Time, "The date and time when the Backup is eligible for garbage collection. 'null' means the Backup is NOT be cleaned except delete manual.")),
  startTimestamp: Type.Optional(describe(Time, "Date/time when the backup started being processed.")),
  completionTimestamp: Type.Optional(describe(Time, "Date/time when the backup finished being processed.")),
  duration: Type.Optional(describe(Duration, "The duration time of backup execution. When converted to a string, the form is \"1h2m0.5s\".")),
  totalSize: Type.Optional(str("Backup total size. A string with capacity units in the form of \"1Gi\", \"1Mi\", \"1Ki\".")),
  failureReason: Type.Optional(str("The reason for a backup failure.")),
  persistentVolumeClaimName: Type.Optional(str("remoteVolume saves the backup data.")),
  logFilePersistentVolumeClaimName: Type.Optional(str("logFilePersistentVolumeClaimName saves the logfile backup data.")),
  backupToolName: Type.Optional(str("backupToolName references the backup tool name.")),
  sourceCluster: Type.Optional(str("sourceCluster records the source cluster information for this backup.")),
  availableReplicas: Type.Optional(int32("availableReplicas available replicas for statefulSet which created by backup.")),
  manifests: Type.Optional(describe(ManifestsStatusSchema, "manifests determines the backup metadata info.")),
  backupRepoName: Type.Optional(str("The BackupRepo the data was written to, fixed when the backup starts so deletion finds the data even if the policy changes.", EXT)),
  attempts: Type.Optional(int32("How many times the backup tool has run and failed; the backup fails once this exceeds the policy's onFailAttempted.", { minimum: 0, ...EXT })),
  incrementalChain: Type.Optional(arrayOf(Type.String(), "For an incremental backup: the backups it depends on, base first, ending with its parent. A restore applies them in this order; retention keeps them.", { maxItems: 256, ...EXT })),
  observedGeneration: Type.Optional(Type.Integer({ format: "int64", description: "The .metadata.generation the controller last acted on.", ...EXT })),
  conditions: Type.Optional(conditions("The latest observations of the backup's state (e.g. ToolJobSucceeded, DataDeleted).", EXT)),
});

export type BackupSpec = Static<typeof BackupSpecSchema>;
export type BackupStatus = Static<typeof BackupStatusSchema>;
export type ManifestsStatus = Static<typeof ManifestsStatusSchema>;
export type BackupToolManifestsStatus = Static<typeof BackupToolManifestsStatusSchema>;
export type BackupLogStatus = Static<typeof BackupLogStatusSchema>;
export type BackupSnapshotStatus = Static<typeof BackupSnapshotStatusSchema>;
export type BackupFile = Static<typeof BackupFileSchema>;
