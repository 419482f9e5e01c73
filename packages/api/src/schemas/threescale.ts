// apps.3scale.net APIManagerBackup and APIManagerRestore, compatible with the 3scale operator.
import { Type, type Static } from "@sinclair/typebox";
import { named, str, bool, int64, nameRef, describe, mapOf, celRule, object, arrayOf, EXT } from "./helpers.ts";
import { Quantity, Time, conditions } from "./k8s.ts";

export const PersistentVolumeClaimResourcesSpecSchema = named("PersistentVolumeClaimResourcesSpec", "PersistentVolumeClaimResourcesSpec sizes the backup PVC.", {
  requests: describe(Quantity, "Size of the PersistentVolumeClaim where the backup is to be performed. Set enough size to contain all data that is backed up."),
});

export const PersistentVolumeClaimBackupDestinationSchema = named("PersistentVolumeClaimBackupDestination",
  "PersistentVolumeClaimBackupDestination: either the volume name of an existing PersistentVolume (volumeName, resources still required but ignored) or the desired size (resources, optionally storageClass).", {
    resources: Type.Optional(describe(PersistentVolumeClaimResourcesSpecSchema, "The size of the PersistentVolumeClaim.")),
    volumeName: Type.Optional(str("A binding reference to the PersistentVolume backing this claim. This is not the persistentVolumeClaim name. See the field volumeName in the Kubernetes PersistentVolumeClaim API reference for more information")),
    storageClass: Type.Optional(str("Name of the StorageClass required by the claim. More info: https://kubernetes.io/docs/concepts/storage/persistent-volumes#class-1")),
  });

export const BackupRepoBackupDestinationSchema = named("BackupRepoBackupDestination", "BackupRepoBackupDestination (extension) stores the backup in a dataprotection BackupRepo, e.g. an S3-compatible bucket.", {
  name: nameRef("Name of the BackupRepo (cluster-scoped)."),
});

export const APIManagerBackupDestinationSpecSchema = named("APIManagerBackupDestinationSpec",
  "This section controls where APIManager's backup is to be stored. One of the fields is mandatory to be set. Only one of the fields can be set. The fields are mutually exclusive.", {
    persistentVolumeClaim: Type.Optional(describe(PersistentVolumeClaimBackupDestinationSchema, "APIManager backup destination in PVC")),
    backupRepo: Type.Optional(describe(BackupRepoBackupDestinationSchema, "APIManager backup destination in a BackupRepo (files are written by dp-agent, compressed and, if the repo says so, encrypted).", EXT)),
  }, {
    "x-kubernetes-validations": [
      celRule<{ persistentVolumeClaim?: object; backupRepo?: object }>(
        "(has(self.persistentVolumeClaim) ? 1 : 0) + (has(self.backupRepo) ? 1 : 0) == 1",
        "spec.backupDestination: exactly one destination must be set (persistentVolumeClaim or backupRepo)",
        (s) => Number(s.persistentVolumeClaim !== undefined) + Number(s.backupRepo !== undefined) === 1,
      ),
    ],
  });

export const APIManagerBackupSpecSchema = named("APIManagerBackupSpec", "The specfication for APIManagerBackup custom resource", {
  apiManagerName: Type.Optional(nameRef("Name of the APIManager to backup. Default: the APIManager deployed in the same namespace as the APIManagerBackup (there must be exactly one).")),
  backupDestination: describe(APIManagerBackupDestinationSpecSchema, "Configuration related to where the backup is performed"),
  includeDatabases: Type.Optional(bool(
    "true: the backup also takes the databases the upstream operator leaves to the user, each with a built-in BackupTool through its own generic Backup into the same destination: the system database (MySQL/MariaDB with mariadb-dump or PostgreSQL with postgres-dump, from the `system-database` Secret's URL), system-redis (`system-redis` Secret's URL) and backend-redis (`backend-redis` Secret's REDIS_STORAGE_URL, and REDIS_QUEUES_URL when it names another server) with redis-rdb-online, and zync's PostgreSQL database (`zync` Secret's DATABASE_URL) when that Secret has one. The databases are taken first, all started together (the consistency point), then the Secrets, ConfigMaps, APIManager and System FileStorage; any failed component fails the whole backup, naming it. An APIManagerRestore of such a backup restores the databases first (into the servers the namespace's Secrets name at restore time) and creates the APIManager only when all succeeded. Default false: the upstream behaviour (databases not backed up).",
    EXT,
  )),
}, {
  "x-kubernetes-validations": [celRule("self == oldSelf", "spec: is immutable after creation; create a new APIManagerBackup instead")],
});

export const APIManagerBackupComponentStatusSchema = named("APIManagerBackupComponentStatus", "APIManagerBackupComponentStatus (extension) is one database an APIManagerBackup with includeDatabases takes, and the generic Backup that holds it.", {
  name: str("The component: system-database, system-redis, backend-redis, backend-redis-queues or zync-database."),
  engine: Type.Optional(str("What the component's URL names: mysql, postgresql or redis.")),
  backupName: str("Name of the generic Backup (dataprotection.kubeblocks.io) holding the component's data, in the APIManagerBackup's namespace."),
  backupToolName: Type.Optional(str("The BackupTool that took it (a targetless copy of a built-in tool reading its endpoint from a Secret).")),
  backupPath: Type.Optional(str("Where the component's Backup stored its data (its status.manifests.backupTool.filePath). In a BackupRepo, the APIManager's backup also records it, so a restore in another namespace can import the component.")),
  runByAPIManager: Type.Optional(bool("true when the APIManager runs this database itself (spec.externalComponents does not mark it external): the 3scale operator creates its server with the APIManager, so a restore fills it once the APIManager reports its Deployment ready, before the routes resync.")),
  phase: Type.Optional(str("The generic Backup's phase: New, InProgress, Completed or Failed.")),
  totalSize: Type.Optional(str("The size of the component's backup, as its Backup recorded it.")),
  startTime: Type.Optional(describe(Time, "When the component's Backup started.")),
  completionTime: Type.Optional(describe(Time, "When the component's Backup completed.")),
  failureReason: Type.Optional(str("Why the component's Backup failed.")),
});

const stepsCompleted = (what: string) => mapOf(Type.Boolean(), `Which main steps of the ${what} have finished (step name -> true), so a restarted operator resumes where it stopped.`);

export const APIManagerBackupStatusSpecSchema = named("APIManagerBackupStatusSpec", "The status of APIManagerBackup custom resource", {
  completed: Type.Optional(bool("true when APIManager's backup has finished")),
  mainStepsCompleted: Type.Optional(stepsCompleted("backup")),
  apiManagerSourceName: Type.Optional(str("Name of the APIManager that APIManagerBackup handles")),
  startTime: Type.Optional(describe(Time, "Start time of the backup (in UTC)")),
  completionTime: Type.Optional(describe(Time, "Represents the time the backup was completed")),
  backupPersistentVolumeClaimName: Type.Optional(str("Name of the PersistentVolumeClaim where the backup has been stored")),
  backupRepoName: Type.Optional(str("Name of the BackupRepo where the backup has been stored, for the backupRepo destination.", EXT)),
  backupPath: Type.Optional(str("Path of the backup inside its BackupRepo, for the backupRepo destination.", EXT)),
  failureReason: Type.Optional(str("Why the backup failed (e.g. no APIManager, a failed Job); a failed backup is not retried.", EXT)),
  observedGeneration: Type.Optional(int64("The .metadata.generation the controller last acted on.", EXT)),
  conditions: Type.Optional(conditions("The latest observations of the backup's state (e.g. Completed, Failed).", EXT)),
  databases: Type.Optional(arrayOf(APIManagerBackupComponentStatusSchema, "With spec.includeDatabases: one entry per database component, in backup order.", { ...EXT, maxItems: 16, "x-kubernetes-list-type": "atomic" })),
});

export const PersistentVolumeClaimVolumeSourceSchema = named("PersistentVolumeClaimVolumeSource", "A reference to a PersistentVolumeClaim in the same namespace (core/v1 PersistentVolumeClaimVolumeSource).", {
  claimName: str("Name of the PVC produced as the backup result of an APIManagerBackup (its status.backupPersistentVolumeClaimName).", { minLength: 1, maxLength: 253 }),
  readOnly: Type.Optional(bool("Mount the claim read-only.")),
});

export const PersistentVolumeClaimRestoreSourceSchema = named("PersistentVolumeClaimRestoreSource", "PersistentVolumeClaimRestoreSource restores from the PVC an APIManagerBackup wrote.", {
  claimSource: describe(PersistentVolumeClaimVolumeSourceSchema, "The PersistentVolumeClaim holding the backup."),
});

export const APIManagerBackupRestoreSourceSchema = named("APIManagerBackupRestoreSource", "APIManagerBackupRestoreSource (extension) restores from wherever the named APIManagerBackup stored its data.", {
  name: nameRef("Name of an APIManagerBackup in the same namespace; it must be completed."),
});

export const BackupRepoRestoreSourceSchema = named("BackupRepoRestoreSource", "BackupRepoRestoreSource (extension) restores an APIManagerBackup's data from a BackupRepo when the APIManagerBackup is not in this namespace (another namespace, gone, or another cluster): the APIManager's backup is imported (a generic Backup with spec.importFrom, verified against its authenticated manifest), then each database component its manifest records, and the restore goes on as from an APIManagerBackup.", {
  name: nameRef("Name of the BackupRepo (cluster-scoped); its namespaceSelector must admit this namespace."),
  path: str("The APIManager's backup path in the repo: the APIManagerBackup's status.backupPath (\"<namespace>/<name>\").", { pattern: "^/?(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$", maxLength: 512 }),
});

export const APIManagerRestoreSourceSchema = named("APIManagerRestoreSource", "Where the data to restore comes from. Exactly one field must be set.", {
  persistentVolumeClaim: Type.Optional(describe(PersistentVolumeClaimRestoreSourceSchema, "Restore from a PersistentVolumeClaim written by an APIManagerBackup.")),
  apiManagerBackup: Type.Optional(describe(APIManagerBackupRestoreSourceSchema, "Restore from the data of a completed APIManagerBackup, in a PVC or a BackupRepo.", EXT)),
  backupRepo: Type.Optional(describe(BackupRepoRestoreSourceSchema, "Restore an APIManagerBackup's data from a BackupRepo by its path, with no APIManagerBackup in this namespace (disaster recovery into a new namespace or cluster).", EXT)),
}, {
  "x-kubernetes-validations": [
    celRule<{ persistentVolumeClaim?: object; apiManagerBackup?: object; backupRepo?: object }>(
      "(has(self.persistentVolumeClaim) ? 1 : 0) + (has(self.apiManagerBackup) ? 1 : 0) + (has(self.backupRepo) ? 1 : 0) == 1",
      "spec.restoreSource: exactly one source must be set (persistentVolumeClaim, apiManagerBackup or backupRepo)",
      (s) => Number(s.persistentVolumeClaim !== undefined) + Number(s.apiManagerBackup !== undefined) + Number(s.backupRepo !== undefined) === 1,
    ),
  ],
});

export const APIManagerRestoreSpecSchema = named("APIManagerRestoreSpec", "The specification for APIManagerRestore custom resource", {
  restoreSource: describe(APIManagerRestoreSourceSchema, "The backup data to restore from."),
}, {
  "x-kubernetes-validations": [celRule("self == oldSelf", "spec: is immutable after creation; create a new APIManagerRestore instead")],
});

export const APIManagerRestoreComponentStatusSchema = named("APIManagerRestoreComponentStatus", "APIManagerRestoreComponentStatus (extension) is one database of an includeDatabases backup being restored, and the generic RestoreJob that restores it.", {
  name: str("The component: system-database, system-redis, backend-redis, backend-redis-queues or zync-database."),
  engine: Type.Optional(str("What the component is: mysql, postgresql or redis.")),
  backupName: str("Name of the generic Backup holding the component's data (from the APIManagerBackup's status.databases)."),
  restoreJobName: str("Name of the generic RestoreJob (dataprotection.kubeblocks.io) restoring it, in the APIManagerRestore's namespace."),
  runByAPIManager: Type.Optional(bool("The APIManager runs this database itself (as the backup recorded): it is restored once the restored APIManager reports its Deployment ready, before the routes resync, not before the APIManager.")),
  phase: Type.Optional(str("The RestoreJob's phase: New, InProgressLogic, Completed or Failed.")),
  startTime: Type.Optional(describe(Time, "When the component's RestoreJob started.")),
  completionTime: Type.Optional(describe(Time, "When the component's RestoreJob ended.")),
  failureReason: Type.Optional(str("Why the component's RestoreJob failed.")),
});

export const APIManagerRestoreStatusSpecSchema = named("APIManagerRestoreStatusSpec", "The status of APIManagerRestore custom resource", {
  apiManagerToRestoreRef: Type.Optional(object({
    name: Type.Optional(str("Name of the APIManager.")),
  }, "The APIManager that is being restored (created from the backup).", { "x-kubernetes-map-type": "atomic" })),
  completed: Type.Optional(bool("true when the APIManager's restore has finished")),
  mainStepsCompleted: Type.Optional(stepsCompleted("restore")),
  startTime: Type.Optional(describe(Time, "Start time of the restore (in UTC)")),
  completionTime: Type.Optional(describe(Time, "Represents the time the restore was completed")),
  failureReason: Type.Optional(str("Why the restore failed (e.g. an APIManager already exists, a failed Job).", EXT)),
  observedGeneration: Type.Optional(int64("The .metadata.generation the controller last acted on.", EXT)),
  conditions: Type.Optional(conditions("The latest observations of the restore's state (e.g. Completed, Failed).", EXT)),
  databases: Type.Optional(arrayOf(APIManagerRestoreComponentStatusSchema, "From a backup taken with spec.includeDatabases: one entry per database component. External ones are restored (all together) before the Secrets, ConfigMaps, FileStorage and APIManager (mainStepsCompleted.databasesRestored is set when every one completed); those the APIManager runs itself (runByAPIManager) once it reports their Deployments ready, before the routes resync (mainStepsCompleted.apiManagerDatabasesRestored).", { ...EXT, maxItems: 16, "x-kubernetes-list-type": "atomic" })),
});

export type APIManagerBackupSpec = Static<typeof APIManagerBackupSpecSchema>;
export type APIManagerBackupStatus = Static<typeof APIManagerBackupStatusSpecSchema>;
export type APIManagerBackupComponentStatus = Static<typeof APIManagerBackupComponentStatusSchema>;
export type APIManagerBackupDestinationSpec = Static<typeof APIManagerBackupDestinationSpecSchema>;
export type APIManagerRestoreSpec = Static<typeof APIManagerRestoreSpecSchema>;
export type APIManagerRestoreStatus = Static<typeof APIManagerRestoreStatusSpecSchema>;
export type APIManagerRestoreComponentStatus = Static<typeof APIManagerRestoreComponentStatusSchema>;
