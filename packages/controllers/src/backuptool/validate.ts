// Pure: is a BackupTool usable? Commands present for its type and deployKind, restore commands coherent.
import { BackupToolType, DeployKind, type BackupTool } from "@dataprotection/api";

export const ToolReason = {
  Valid: "Valid",
  MissingCommands: "MissingCommands",
  DeployKindMismatch: "DeployKindMismatch",
  IncoherentRestore: "IncoherentRestore",
  RestoreSupported: "RestoreSupported",
  NoRestoreCommands: "NoRestoreCommands",
} as const;

export interface ToolCheck {
  valid: boolean;
  reason: string;
  message: string;
  restorable: boolean;
  restoreMessage: string;
}

const has = (a: readonly string[] | undefined): boolean => !!a && a.length > 0;

export function checkBackupTool(t: BackupTool): ToolCheck {
  const name = t.metadata?.name ?? "";
  const s = t.spec;
  const kind = s.deployKind ?? DeployKind.Job;
  const type = s.type ?? BackupToolType.File;
  const problems: Array<[string, string]> = [];
  if (!has(s.backupCommands)) problems.push([ToolReason.MissingCommands, "spec.backupCommands is empty: add the command that makes a backup"]);
  if (type === BackupToolType.PITR && kind !== DeployKind.StatefulSet) problems.push([ToolReason.DeployKindMismatch, `type pitr archives logs continuously and needs deployKind statefulSet, not ${kind}`]);
  if (type === BackupToolType.File && kind === DeployKind.StatefulSet) problems.push([ToolReason.DeployKindMismatch, "deployKind statefulSet runs continuously: set type pitr, or deployKind job for file backups"]);
  for (const [which, r] of [["physical", s.physical], ["logical", s.logical]] as const) {
    if (r && has(r.incrementalRestoreCommands) && !has(r.restoreCommands)) {
      problems.push([ToolReason.IncoherentRestore, `spec.${which}.incrementalRestoreCommands without spec.${which}.restoreCommands: a chain restores its base first`]);
    }
  }
  if (has(s.incrementalBackupCommands) && !has(s.physical?.incrementalRestoreCommands) && !has(s.logical?.incrementalRestoreCommands)) {
    problems.push([ToolReason.IncoherentRestore, "spec.incrementalBackupCommands without incrementalRestoreCommands (physical or logical): incremental backups could not be restored"]);
  }
  const restorable = has(s.physical?.restoreCommands) || has(s.logical?.restoreCommands);
  const restoreMessage = restorable ? "restore commands present" : `BackupTool "${name}" has no physical or logical restoreCommands: its backups cannot be restored by a RestoreJob`;
  if (problems.length) return { valid: false, reason: problems[0][0], message: problems.map((p) => p[1]).join("; "), restorable, restoreMessage };
  return { valid: true, reason: ToolReason.Valid, message: `commands present for type ${type}, deployKind ${kind}`, restorable, restoreMessage };
}
