// Failure and Event reasons shared by the CLI, the controllers, their status and tests.
export const Reason = {
  APIManagerNotFound: "APIManagerNotFound",
  MultipleAPIManagers: "MultipleAPIManagers",
  APIManagerExists: "APIManagerExists",
  SecretNotFound: "SecretNotFound",
  ConfigMapNotFound: "ConfigMapNotFound",
  S3ConfigInvalid: "S3ConfigInvalid",
  S3STSUnsupported: "S3STSUnsupported",
  BackupDataInvalid: "BackupDataInvalid",
  HelperJobFailed: "HelperJobFailed",
  APIManagerNotReady: "APIManagerNotReady",
  SidekiqNotFound: "SidekiqNotFound",
  ResyncFailed: "ResyncFailed",
  // Controller reasons.
  BackupStarted: "BackupStarted",
  BackupCompleted: "BackupCompleted",
  BackupFailed: "BackupFailed",
  RestoreStarted: "RestoreStarted",
  RestoreCompleted: "RestoreCompleted",
  RestoreFailed: "RestoreFailed",
  DestinationCreated: "DestinationCreated",
  ToolJobFailed: "ToolJobFailed",
  ToolJobTimeout: "ToolJobTimeout",
  SourceNotFound: "SourceNotFound",
  SourceNotCompleted: "SourceNotCompleted",
  StepCompleted: "StepCompleted",
  BackupNameTaken: "BackupNameTaken",
  // includeDatabases.
  DatabaseNotLocated: "DatabaseNotLocated",
  DatabaseToolNotFound: "DatabaseToolNotFound",
  DatabaseBackupFailed: "DatabaseBackupFailed",
  DatabasesBackedUp: "DatabasesBackedUp",
  WaitingForBackup: "WaitingForBackup",
  DatabaseRestoreFailed: "DatabaseRestoreFailed",
  DatabasesRestored: "DatabasesRestored",
  /** The tool cannot record the database components in the APIManager's backup (status.databases not Completed, without a backupPath, or invalid). */
  DatabasesNotRecorded: "DatabasesNotRecorded",
  // restoreSource.backupRepo: the backups imported into the namespace first.
  ImportStarted: "ImportStarted",
  ImportFailed: "ImportFailed",
  BackupsImported: "BackupsImported",
} as const;

/** An expected failure of a CLI step: its reason goes into the termination message. */
export class StepError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
  }
}
