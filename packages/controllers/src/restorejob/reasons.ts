// Failure reasons and Event reasons of the RestoreJob controller, shared by status,
// Events and tests.

/** Why a RestoreJob failed (status.failureReason starts with one of these). */
export const Reason = {
  InvalidRestoreJob: "InvalidRestoreJob",
  BackupNotFound: "BackupNotFound",
  BackupFailed: "BackupFailed",
  BackupNotCompleted: "BackupNotCompleted",
  ToolNotFound: "ToolNotFound",
  /** The tool's env sets a name the operator reserves or a path-like value that is not a clean absolute path, or its empty image has no target image to stand for. */
  ToolUnsuitable: "ToolUnsuitable",
  NoRestoreCommands: "NoRestoreCommands",
  RepoNotFound: "RepoNotFound",
  RepoNotAllowed: "RepoNotAllowed",
  MixedRepos: "MixedRepos",
  MixedDataFormats: "MixedDataFormats",
  ChainIncomplete: "ChainIncomplete",
  TargetNotFound: "TargetNotFound",
  TargetAmbiguous: "TargetAmbiguous",
  TargetPodNotFound: "TargetPodNotFound",
  NoReadWritePod: "NoReadWritePod",
  RestoreTimeInvalid: "RestoreTimeInvalid",
  RestoreTimeOutOfWindow: "RestoreTimeOutOfWindow",
  NoLogfileBackup: "NoLogfileBackup",
  SnapshotNotReady: "SnapshotNotReady",
  VerificationFailed: "VerificationFailed",
  /** A step could not reach the repo (dp-agent exit 75; verify retries it 3 times, restore steps per onFailAttempted): nothing is known to be wrong with the data. */
  StorageUnreachable: "StorageUnreachable",
  JobFailed: "JobFailed",
  Timeout: "Timeout",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Normal Event reasons, one per transition or step. */
export const EventReason = {
  Started: "Started",
  Verifying: "Verifying",
  Verified: "Verified",
  VerificationSkipped: "VerificationSkipped",
  ScalingDown: "ScalingDown",
  Restoring: "Restoring",
  ProvisioningFromSnapshot: "ProvisioningFromSnapshot",
  ScalingUp: "ScalingUp",
  LogicalRestoring: "LogicalRestoring",
  Completed: "Completed",
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];
