// Narrow input models for the BackupPolicy decisions. The reconcile shell maps API
// objects onto these, so the decisions do not depend on how @dataprotection/api
// spells its full types; the literals keep the API's spelling.

export type BackupType = "datafile" | "logfile" | "snapshot";

export const BACKUP_TYPES: readonly BackupType[] = ["datafile", "logfile", "snapshot"];

/** What retention needs to know about one Backup. */
export interface BackupSummary {
  name: string;
  namespace: string;
  backupType: BackupType;
  /** status.phase; undefined while the Backup controller has not seen it yet. */
  phase?: string;
  /** spec.backupPolicyName ("" when none). */
  policyName: string;
  /** Created by a schedule (label dataprotection.kubeblocks.io/autobackup=true). */
  scheduled: boolean;
  /** Labelled backup-protection=retain. */
  protected: boolean;
  /** Incremental parent (spec or status parentBackupName), same namespace. */
  parentBackupName?: string;
  creationTimestamp: Date;
  completionTimestamp?: Date;
  /** status.expiration; undefined = kept until deleted by hand or by the history limit. */
  expiration?: Date;
}

/** A Backup of the same type that has not finished yet. */
export interface RunningBackup {
  name: string;
  phase: string;
}
