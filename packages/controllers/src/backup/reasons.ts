// Failure reasons and Event reasons of Backups: one PascalCase constant per outcome,
// shared by status.failureReason (as "<Reason>: <message>"), Events and tests.

export const Reason = {
  // Validation (New -> Failed)
  PolicyNotFound: "PolicyNotFound",
  PolicySectionMissing: "PolicySectionMissing",
  ToolNotFound: "ToolNotFound",
  ToolUnsuitable: "ToolUnsuitable",
  RepoNotFound: "RepoNotFound",
  RepoNotReady: "RepoNotReady",
  RepoNotAllowed: "RepoNotAllowed",
  AmbiguousDefaultRepo: "AmbiguousDefaultRepo",
  NoBackupDestination: "NoBackupDestination",
  PVCNotFound: "PVCNotFound",
  PVCPending: "PVCPending",
  PVCNotBound: "PVCNotBound",
  PVTemplateInvalid: "PVTemplateInvalid",
  SecretNotFound: "SecretNotFound",
  ServiceAccountNotFound: "ServiceAccountNotFound",
  TargetPodNotFound: "TargetPodNotFound",
  ParentNotFound: "ParentNotFound",
  PathInvalid: "PathInvalid",
  ParentNotCompleted: "ParentNotCompleted",
  // Running
  JobFailed: "JobFailed",
  /** The tool's Job failed because the repo (or its volume) was full: free space or grow it, then back up again. */
  NoSpace: "NoSpace",
  JobNotFound: "JobNotFound",
  PodCannotStart: "PodCannotStart",
  DataNotStored: "DataNotStored",
  HookFailed: "HookFailed",
  SnapshotFailed: "SnapshotFailed",
  SnapshotAPIUnavailable: "SnapshotAPIUnavailable",
  StatefulSetNotFound: "StatefulSetNotFound",
  // Normal transitions
  BackupStarted: "BackupStarted",
  BackupRunning: "BackupRunning",
  BackupCompleted: "BackupCompleted",
  BackupFailed: "BackupFailed",
  AttemptFailed: "AttemptFailed",
  WaitingForTargetPod: "WaitingForTargetPod",
  WaitingForParent: "WaitingForParent",
  HookCompleted: "HookCompleted",
  SnapshotCreated: "SnapshotCreated",
  StatusUpdateFailed: "StatusUpdateFailed",
  StatusUpdated: "StatusUpdated",
  LogArchivingStopped: "LogArchivingStopped",
  // Deletion
  DeletionBlocked: "DeletionBlocked",
  DeletingData: "DeletingData",
  DataDeleted: "DataDeleted",
  DataDeleteFailed: "DataDeleteFailed",
  DataRetained: "DataRetained",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Condition types written to status.conditions. */
export const Condition = {
  Validated: "Validated",
  ToolJobSucceeded: "ToolJobSucceeded",
  DataDeleted: "DataDeleted",
} as const;

/** status.failureReason: the reason first, so users and tests can match on it. */
export function failureReason(reason: Reason, message: string): string {
  return `${reason}: ${message}`;
}
