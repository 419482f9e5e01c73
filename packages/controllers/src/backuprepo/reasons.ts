// Failure and Event reasons of the BackupRepo controller, shared by status, Events and tests.
export const Reason = {
  StorageProviderNotFound: "StorageProviderNotFound",
  StorageProviderNotReady: "StorageProviderNotReady",
  InvalidParameters: "InvalidParameters",
  NamespaceNotFound: "NamespaceNotFound",
  TemplateError: "TemplateError",
  SecretNotFound: "SecretNotFound",
  SecretKeyMissing: "SecretKeyMissing",
  RepoNotReady: "RepoNotReady",
  RepoDeleting: "RepoDeleting",
  PVCDeleting: "PVCDeleting",
  StorageClassCreated: "StorageClassCreated",
  CSIDriverSecretCreated: "CSIDriverSecretCreated",
  PreCheckStarted: "PreCheckStarted",
  PreCheckPassed: "PreCheckPassed",
  PreCheckFailed: "PreCheckFailed",
  PreCheckTimedOut: "PreCheckTimedOut",
  Ready: "Ready",
  DefaultRepo: "DefaultRepo",
  MultipleDefaultRepos: "MultipleDefaultRepos",
  DeletionBlocked: "DeletionBlocked",
  Deleting: "Deleting",
  PruneStarted: "PruneStarted",
  PruneSucceeded: "PruneSucceeded",
  PruneFailed: "PruneFailed",
  InvalidPruneSchedule: "InvalidPruneSchedule",
} as const;
export type Reason = (typeof Reason)[keyof typeof Reason];

/** Condition types on a BackupRepo. */
export const Condition = {
  StorageProviderReady: "StorageProviderReady",
  ParametersChecked: "ParametersChecked",
  StorageClassCreated: "StorageClassCreated",
  PreCheckPassed: "PreCheckPassed",
  DeletionBlocked: "DeletionBlocked",
  Ready: "Ready",
} as const;
