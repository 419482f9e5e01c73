// RestoreJob: restore one Backup into a target workload.
import { Type, type Static } from "@sinclair/typebox";
import { named, str, int32, int64, nameRef, describe, stringEnum, arrayOf, EXT } from "./helpers.ts";
import { Time, Volume, VolumeMount, conditions } from "./k8s.ts";
import { TargetCluster } from "./common.ts";
import { RestoreJobPhase, values } from "../enums.ts";

export const RestoreJobSpecSchema = named("RestoreJobSpec", "RestoreJobSpec defines the desired state of RestoreJob", {
  backupJobName: nameRef("Specified one backupJob to restore."),
  target: describe(TargetCluster, "the target database workload to restore"),
  targetVolumes: arrayOf(Volume, "array of restore volumes ."),
  targetVolumeMounts: arrayOf(VolumeMount, "array of restore volume mounts ."),
  onFailAttempted: Type.Optional(int32("count of backup stop retries on fail.", { minimum: 0 })),
  restoreTime: Type.Optional(describe(Time, "Point-in-time restore: recover to this RFC 3339 time using the logfile backups of the backup's policy; the restore Job gets it as KB_RECOVERY_TIME. Unset: restore the backup as it is.", EXT)),
});

export const RestoreJobPhaseSchema = stringEnum("RestoreJobPhase", values(RestoreJobPhase),
  "RestoreJobPhase The current phase. Valid values are New, InProgressPhy, InProgressLogic, Completed, Failed.");

export const RestoreJobStatusSchema = named("RestoreJobStatus", "RestoreJobStatus defines the observed state of RestoreJob", {
  phase: Type.Optional(describe(RestoreJobPhaseSchema, "The current phase: New, InProgressPhy, InProgressLogic, Completed or Failed.")),
  expiration: Type.Optional(describe(Time, "The date and time when the Backup is eligible for garbage collection. 'null' means the Backup is NOT be cleaned except delete manual.")),
  startTimestamp: Type.Optional(describe(Time, "Date/time when the backup started being processed.")),
  completionTimestamp: Type.Optional(describe(Time, "Date/time when the backup finished being processed.")),
  failureReason: Type.Optional(str("Job failed reason.")),
  attempts: Type.Optional(int32("How many restore runs have failed so far; the RestoreJob fails once this exceeds spec.onFailAttempted.", { minimum: 0, ...EXT })),
  observedGeneration: Type.Optional(int64("The .metadata.generation the controller last acted on.", EXT)),
  conditions: Type.Optional(conditions("The latest observations of the restore's state (e.g. WorkloadStopped, DataRestored).", EXT)),
});

export type RestoreJobSpec = Static<typeof RestoreJobSpecSchema>;
export type RestoreJobStatus = Static<typeof RestoreJobStatusSchema>;
