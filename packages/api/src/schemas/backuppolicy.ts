// BackupPolicy: what to back up, with which tool, where to, when, and for how long.
import { Type, type Static } from "@sinclair/typebox";
import { named, str, bool, int32, int64, nameRef, describe, stringEnum, celRule, arrayOf, strArray, EXT } from "./helpers.ts";
import { Time, Quantity, conditions } from "./k8s.ts";
import { TargetCluster } from "./common.ts";
import { BackupPolicyPhase, BackupStatusUpdateStage, CreatePVCPolicy, values } from "../enums.ts";

export const TTL_PATTERN = "^[0-9]+[dDhH]$";

export const RetentionSpecSchema = named("RetentionSpec", "RetentionSpec describes how long backups made by the policy are kept.", {
  ttl: Type.Optional(str("ttl is a time string ending with the 'd'|'D'|'h'|'H' character to describe how long the Backup should be retained. if not set, will be retained forever.", { pattern: TTL_PATTERN, maxLength: 16 })),
});

export const SchedulePolicySchema = named("SchedulePolicy", "SchedulePolicy is the cron schedule of one backup type.", {
  cronExpression: str("the cron expression for schedule, the timezone is in UTC. see https://en.wikipedia.org/wiki/Cron. Checked by the controller: an invalid expression sets the policy Failed with a failureReason.", { minLength: 1, maxLength: 256 }),
  enable: bool("enable or disable the schedule.", { default: false }),
});

export const ScheduleSchema = named("Schedule", "Schedule holds the schedules of a BackupPolicy.", {
  startingDeadlineMinutes: Type.Optional(int64("startingDeadlineMinutes defines the deadline in minutes for starting the backup job if it misses scheduled time for any reason.", { minimum: 0, maximum: 1440 })),
  snapshot: Type.Optional(describe(SchedulePolicySchema, "schedule policy for snapshot backup.")),
  datafile: Type.Optional(describe(SchedulePolicySchema, "schedule policy for datafile backup.")),
  logfile: Type.Optional(describe(SchedulePolicySchema, "schedule policy for logfile backup.")),
});

export const BackupStatusUpdateStageSchema = stringEnum("BackupStatusUpdateStage", values(BackupStatusUpdateStage),
  "BackupStatusUpdateStage defines the stage of backup status update.");

export const BackupStatusUpdateSchema = named("BackupStatusUpdate", "BackupStatusUpdate runs a script in the target and merges its JSON output into the Backup's status.", {
  path: Type.Optional(str("specify the json path of backup object for patch. example: manifests.backupLog -- means patch the backup json path of status.manifests.backupLog.")),
  containerName: Type.Optional(str("which container name that kubectl can execute.")),
  script: Type.Optional(str("the shell Script commands to collect backup status metadata. The script must exist in the container of ContainerName and the output format must be set to JSON. Note that outputting to stderr may cause the result format to not be in JSON.")),
  useTargetPodServiceAccount: Type.Optional(bool("useTargetPodServiceAccount defines whether this job requires the service account of the backup target pod. if true, will use the service account of the backup target pod. otherwise, will use the system service account.")),
  updateStage: describe(BackupStatusUpdateStageSchema, "when to update the backup status, pre: before backup, post: after backup"),
});

/** Members of BasePolicy, embedded into CommonBackupPolicy and SnapshotPolicy as in the Go API. */
const basePolicy = {
  target: describe(TargetCluster, "target database cluster for backup."),
  backupsHistoryLimit: Type.Optional(int32("the number of automatic backups to retain. Value must be non-negative integer. 0 means NO limit on the number of backups.", { minimum: 0, default: 7 })),
  onFailAttempted: Type.Optional(int32("count of backup stop retries on fail.", { minimum: 0 })),
  backupStatusUpdates: Type.Optional(arrayOf(BackupStatusUpdateSchema, "define how to update metadata for backup status. Each update runs as a short Job on the target pod's node with the target container's image, env and volumes (pre: before the tool Job or the VolumeSnapshots, post: after them); its JSON output is merged at `path`, and a failing one only raises a Warning Event. Datafile and snapshot backups run them; a continuous logfile backup (a StatefulSet) has no before and after and does not.", { maxItems: 32 })),
};

export const PersistentVolumeConfigMapSchema = named("PersistentVolumeConfigMap", "PersistentVolumeConfigMap references a ConfigMap holding a PersistentVolume template.", {
  name: str("the name of the persistentVolume ConfigMap."),
  namespace: str("the namespace of the persistentVolume ConfigMap."),
});

export const CreatePVCPolicySchema = stringEnum("CreatePVCPolicy", values(CreatePVCPolicy),
  "CreatePVCPolicy the policy how to create the PersistentVolumeClaim for backup.");

export const PersistentVolumeClaimSchema = named("PersistentVolumeClaim", "PersistentVolumeClaim describes the PVC that stores a policy's backups when no BackupRepo is used.", {
  name: Type.Optional(str("the name of PersistentVolumeClaim to store backup data.")),
  storageClassName: Type.Optional(str("storageClassName is the name of the StorageClass required by the claim.")),
  initCapacity: Type.Optional(describe(Quantity, "initCapacity represents the init storage size of the PersistentVolumeClaim which should be created if not exist. and the default value is 100Gi if it is empty.", { default: "100Gi" })),
  createPolicy: Type.Optional(describe(CreatePVCPolicySchema, "createPolicy defines the policy for creating the PersistentVolumeClaim, enum values: - Never: do nothing if the PersistentVolumeClaim not exists. - IfNotPresent: create the PersistentVolumeClaim if not present and the accessModes only contains 'ReadWriteMany'.", { default: CreatePVCPolicy.IfNotPresent })),
  persistentVolumeConfigMap: Type.Optional(describe(PersistentVolumeConfigMapSchema, "persistentVolumeConfigMap references the configmap which contains a persistentVolume template. key must be \"persistentVolume\" and value is the \"PersistentVolume\" struct. support the following built-in Objects: - $(GENERATE_NAME): generate a specific format \"PVC NAME-PVC NAMESPACE\". if the PersistentVolumeClaim not exists and CreatePolicy is \"IfNotPresent\", the controller will create it by this template. this is a mutually exclusive setting with \"storageClassName\".")),
}, {
  "x-kubernetes-validations": [
    celRule<{ storageClassName?: string; persistentVolumeConfigMap?: object }>(
      "!(has(self.storageClassName) && has(self.persistentVolumeConfigMap))",
      "persistentVolumeClaim.persistentVolumeConfigMap: cannot be set together with storageClassName",
      (s) => !(s.storageClassName !== undefined && s.persistentVolumeConfigMap !== undefined),
      ".persistentVolumeConfigMap",
    ),
  ],
});

export const CommonBackupPolicySchema = named("CommonBackupPolicy", "CommonBackupPolicy is the policy of datafile and logfile backups (BasePolicy members are embedded).", {
  ...basePolicy,
  persistentVolumeClaim: Type.Optional(describe(PersistentVolumeClaimSchema, "refer to PersistentVolumeClaim and the backup data will be stored in the corresponding persistent volume.")),
  backupRepoName: Type.Optional(nameRef("refer to BackupRepo and the backup data will be stored in the corresponding repo.")),
  backupToolName: nameRef("which backup tool to perform database backup, only support one tool."),
});

export const BackupPolicyHookSchema = named("BackupPolicyHook", "BackupPolicyHook defines for the database execute commands before and after backup.", {
  preCommands: Type.Optional(strArray("pre backup to perform commands", { maxItems: 64 })),
  postCommands: Type.Optional(strArray("post backup to perform commands", { maxItems: 64 })),
  image: Type.Optional(str("exec command with image")),
  containerName: Type.Optional(str("which container can exec command")),
});

export const SnapshotPolicySchema = named("SnapshotPolicy", "SnapshotPolicy is the policy of snapshot backups (BasePolicy members are embedded).", {
  ...basePolicy,
  hooks: Type.Optional(describe(BackupPolicyHookSchema, "execute hook commands for backup.")),
});

export const BackupPolicySpecSchema = named("BackupPolicySpec", "BackupPolicySpec defines the desired state of BackupPolicy", {
  retention: Type.Optional(describe(RetentionSpecSchema, "retention describe how long the Backup should be retained. if not set, will be retained forever.")),
  schedule: Type.Optional(describe(ScheduleSchema, "schedule policy for backup.")),
  snapshot: Type.Optional(describe(SnapshotPolicySchema, "the policy for snapshot backup.")),
  datafile: Type.Optional(describe(CommonBackupPolicySchema, "the policy for datafile backup.")),
  logfile: Type.Optional(describe(CommonBackupPolicySchema, "the policy for logfile backup.")),
});

export const BackupPolicyPhaseSchema = stringEnum("BackupPolicyPhase", values(BackupPolicyPhase), "BackupPolicyPhase defines phases for BackupPolicy CR.");

export const BackupPolicyStatusSchema = named("BackupPolicyStatus", "BackupPolicyStatus defines the observed state of BackupPolicy", {
  observedGeneration: Type.Optional(int64("observedGeneration is the most recent generation observed for this BackupPolicy. It corresponds to the Cluster's generation, which is updated on mutation by the API Server.")),
  phase: Type.Optional(describe(BackupPolicyPhaseSchema, "backup policy phase valid value: Available, Failed.")),
  failureReason: Type.Optional(str("the reason if backup policy check failed.")),
  lastScheduleTime: Type.Optional(describe(Time, "information when was the last time the job was successfully scheduled.")),
  lastSuccessfulTime: Type.Optional(describe(Time, "information when was the last time the job successfully completed.")),
  conditions: Type.Optional(conditions("The latest observations of the policy's state (e.g. ToolFound, ScheduleValid).", EXT)),
});

export type BackupPolicySpec = Static<typeof BackupPolicySpecSchema>;
export type BackupPolicyStatus = Static<typeof BackupPolicyStatusSchema>;
export type RetentionSpec = Static<typeof RetentionSpecSchema>;
export type Schedule = Static<typeof ScheduleSchema>;
export type SchedulePolicy = Static<typeof SchedulePolicySchema>;
export type CommonBackupPolicy = Static<typeof CommonBackupPolicySchema>;
export type SnapshotPolicy = Static<typeof SnapshotPolicySchema>;
export type BackupPolicyHook = Static<typeof BackupPolicyHookSchema>;
export type BackupStatusUpdate = Static<typeof BackupStatusUpdateSchema>;
export type PersistentVolumeClaim = Static<typeof PersistentVolumeClaimSchema>;
export type PersistentVolumeConfigMap = Static<typeof PersistentVolumeConfigMapSchema>;
