// BackupTool: the image and commands that back up and restore one kind of database.
import { Type, type Static } from "@sinclair/typebox";
import { named, str, bool, int64, describe, stringEnum, strArray, arrayOf, EXT } from "./helpers.ts";
import { EnvVar, EnvFromSource, ResourceRequirements, conditions } from "./k8s.ts";
import { BackupToolType, DeployKind, PodRestoreScope, values } from "../enums.ts";

export const DeployKindSchema = stringEnum("DeployKind", values(DeployKind), "DeployKind which kind for run a backup tool.");
export const PodRestoreScopeSchema = stringEnum("PodRestoreScope", values(PodRestoreScope), "PodRestoreScope defines the scope pod for restore from backup.");
export const BackupToolTypeSchema = stringEnum("BackupToolType", values(BackupToolType), "The type of a backup tool: file (datafile backups) or pitr (log archiving for point-in-time restore).");

const restoreCommands = {
  restoreCommands: Type.Optional(strArray("Array of command that apps can perform database restore. like xtrabackup, that can performs restore mysql from files.", { maxItems: 256 })),
  incrementalRestoreCommands: Type.Optional(strArray("Array of incremental restore commands.", { maxItems: 256 })),
};

export const PhysicalConfigSchema = named("PhysicalConfig", "PhysicalConfig: restore by replacing the data files (the database restarts). BackupToolRestoreCommand members are embedded.", {
  ...restoreCommands,
  relyOnLogfile: Type.Optional(bool("relyOnLogfile defines whether the current recovery relies on log files")),
});

export const LogicalConfigSchema = named("LogicalConfig", "LogicalConfig: restore through the running database (no restart). BackupToolRestoreCommand members are embedded.", {
  ...restoreCommands,
  podScope: Type.Optional(describe(PodRestoreScopeSchema, "podScope defines the pod scope for restore from backup, supported values: - 'All' will exec the restore command on all pods. - 'ReadWrite' will pick a ReadWrite pod to exec the restore command.", { default: PodRestoreScope.All })),
});

export const BackupToolSpecSchema = named("BackupToolSpec", "BackupToolSpec defines the desired state of BackupTool", {
  image: str("Backup tool Container image name. Empty (as the KubeBlocks 0.6 pitr tools ship): the image of the target pod's first container (for a restore, the first container of the target workload's pod template or pod)."),
  deployKind: describe(DeployKindSchema, "which kind for run a backup tool, supported values: job, statefulSet.", { default: DeployKind.Job }),
  type: describe(BackupToolTypeSchema, "the type of backup tool, file or pitr", { default: BackupToolType.File }),
  resources: Type.Optional(describe(ResourceRequirements, "Compute Resources required by this container. Cannot be updated.")),
  env: Type.Optional(arrayOf(EnvVar, "List of environment variables to set in the container.")),
  envFrom: Type.Optional(arrayOf(EnvFromSource, "List of sources to populate environment variables in the container. The keys defined within a source must be a C_IDENTIFIER. All invalid keys will be reported as an event when the container is starting. When a key exists in multiple sources, the value associated with the last source will take precedence. Values defined by an Env with a duplicate key will take precedence. Cannot be updated.")),
  backupCommands: strArray("Array of command that apps can do database backup. from invoke args the order of commands follows the order of array. Required but may be empty (a pitr-type tool whose work is all in restore); a Backup with such a tool fails with ToolUnsuitable.", { maxItems: 256 }),
  incrementalBackupCommands: Type.Optional(strArray("Array of command that apps can do database incremental backup. like xtrabackup, that can performs an incremental backup file.", { maxItems: 256 })),
  physical: Type.Optional(describe(PhysicalConfigSchema, "backup tool can support physical restore, in this case, restore must be RESTART database.")),
  logical: Type.Optional(describe(LogicalConfigSchema, "backup tool can support logical restore, in this case, restore NOT RESTART database.")),
  serviceAccountName: Type.Optional(str("The ServiceAccount (in the workload's namespace) the tool's pods run as, with its token mounted: backup Jobs, logfile StatefulSets and restore Jobs. Unset: the pods run with no service-account token.", { maxLength: 253, ...EXT })),
  targetless: Type.Optional(bool("true: the tool reaches its data by itself (an API, a CLI with its own ServiceAccount) and needs no target pod. A BackupPolicy whose target.labelsSelector is empty (no matchLabels, no matchExpressions) and that pins no pod then runs it without one: no DB_HOST/DB_PORT, no target volumes, no node pinning. With a non-empty selector the target is used as usual.", EXT)),
});

export const BackupToolStatusSchema = named("BackupToolStatus", "BackupToolStatus defines the observed state of BackupTool", {
  observedGeneration: Type.Optional(int64("The .metadata.generation the controller last checked.", EXT)),
  conditions: Type.Optional(conditions("Results of the controller's checks of the tool (e.g. Valid: commands and image present).", EXT)),
});

export type BackupToolSpec = Static<typeof BackupToolSpecSchema>;
export type BackupToolStatus = Static<typeof BackupToolStatusSchema>;
export type PhysicalConfig = Static<typeof PhysicalConfigSchema>;
export type LogicalConfig = Static<typeof LogicalConfigSchema>;
