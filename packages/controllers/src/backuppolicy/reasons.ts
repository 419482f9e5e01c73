// Reasons shared by decisions, Events and tests.

/** Why a schedule tick produced no Backup. */
export const SkipReason = {
  PreviousRunning: "PreviousRunning",
  MissedDeadline: "MissedDeadline",
} as const;
export type SkipReason = (typeof SkipReason)[keyof typeof SkipReason];

/** Why retention deletes a Backup. */
export const PruneReason = {
  Expired: "Expired",
  HistoryLimit: "HistoryLimit",
} as const;
export type PruneReason = (typeof PruneReason)[keyof typeof PruneReason];

/** Why a BackupPolicy is Failed: the prefix of status.failureReason and the Warning Event's reason. */
export const PolicyFailureReason = {
  InvalidCron: "InvalidCron",
  ToolNotFound: "ToolNotFound",
  RepoNotFound: "RepoNotFound",
  SectionMissing: "SectionMissing",
  InvalidTTL: "InvalidTTL",
} as const;
export type PolicyFailureReason = (typeof PolicyFailureReason)[keyof typeof PolicyFailureReason];

/** Reasons of the Events the controller records on a BackupPolicy (besides skips and failures). */
export const EventReason = {
  PolicyAvailable: "PolicyAvailable",
  BackupScheduled: "BackupScheduled",
  LogfileBackupCreated: "LogfileBackupCreated",
  BackupPruned: "BackupPruned",
  ScheduleEnabled: "ScheduleEnabled",
  ScheduleDisabled: "ScheduleDisabled",
} as const;
export type EventReason = (typeof EventReason)[keyof typeof EventReason];
