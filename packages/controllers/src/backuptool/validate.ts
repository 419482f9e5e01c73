// Pure: is a BackupTool usable? Commands present for its type and deployKind (or none: a
// restore-only tool), restore commands coherent.
import { BackupToolType, DeployKind, type BackupTool } from "@dataprotection/api";
import { isRepoEnv } from "@dataprotection/storage";

export const ToolReason = {
  Valid: "Valid",
  MissingCommands: "MissingCommands",
  DeployKindMismatch: "DeployKindMismatch",
  IncoherentRestore: "IncoherentRestore",
  RestoreSupported: "RestoreSupported",
  NoRestoreCommands: "NoRestoreCommands",
  InvalidEnv: "InvalidEnv",
} as const;

export interface ToolCheck {
  valid: boolean;
  reason: string;
  message: string;
  restorable: boolean;
  restoreMessage: string;
}

const has = (a: readonly string[] | undefined): boolean => !!a && a.length > 0;

/**
 * Env the operator sets for the repo, the backup's place in it and its integrity: a tool's env
 * comes after it in the container, so a tool setting one of these would win (point BACKUP_DIR
 * elsewhere, swap the repo or the expected checksums).
 */
const RESERVED_ENV = new Set([
  "BACKUP_DIR", "BACKUP_NAME", "PARENT_BACKUP_DIR", "PARENT_BACKUP_NAME", "BASE_BACKUP_DIR",
  "DP_BACKUP_PATH", "DP_REPO_KIND", "DP_REPO_PATH", "DP_ENCRYPTION_KEY", "DP_ENCRYPTION_KEY_FILE",
  "DP_EXPECT_CHECKSUMS", "DP_BACKUP_ID", "DP_SEAL_PLAIN_FILES", "DP_ALLOW_HOSTPATH_RESTORE",
]);
const PATH_NAME = /_(DIR|PATH|FILE)$/;
const MAX_PATH = 4096;

/**
 * Problems with a tool's env, or undefined: reserved names, and literal values of path-like
 * names (…_DIR, …_PATH, …_FILE) that are not clean absolute paths (NUL, ".." segments, relative,
 * over-long). Checked by the BackupTool controller and again before any Job is built.
 */
export function toolEnvProblem(t: BackupTool): string | undefined {
  const tool = `BackupTool "${t.metadata?.name ?? ""}"`;
  for (const e of t.spec.env ?? []) {
    const name = e.name;
    // The repo's env (DP_REPO_*) and what any repo backend's SDK reads: the storage registry's.
    if (RESERVED_ENV.has(name) || isRepoEnv(name)) {
      return `${tool} .spec.env sets ${name}, which the operator sets for every tool pod (repo, backup path, integrity): remove it from the tool`;
    }
    const v = e.value;
    if (v === undefined || !PATH_NAME.test(name)) continue;
    const shown = JSON.stringify(v.slice(0, 100));
    if (v.includes("\0")) return `${tool} .spec.env ${name} contains a NUL byte`;
    if (v.length > MAX_PATH) return `${tool} .spec.env ${name} is longer than ${MAX_PATH} characters`;
    // $(VAR) references are expanded by the kubelet from the container's own env: allowed as written.
    if (!v.startsWith("/") && !v.startsWith("$(")) return `${tool} .spec.env ${name}=${shown} is not an absolute path: give a path starting with /`;
    if (v.split("/").includes("..")) return `${tool} .spec.env ${name}=${shown} has a ".." segment: give a path without one`;
  }
  return undefined;
}

export function checkBackupTool(t: BackupTool): ToolCheck {
  const name = t.metadata?.name ?? "";
  const s = t.spec;
  const kind = s.deployKind ?? DeployKind.Job;
  const type = s.type ?? BackupToolType.File;
  const problems: Array<[string, string]> = [];
  const restorable = has(s.physical?.restoreCommands) || has(s.logical?.restoreCommands);
  // No backupCommands (the KubeBlocks 0.6 schema allows it): a restore-only tool, such as 0.6's
  // pitr tools whose work is all in restore. Valid while it restores; a Backup with it fails.
  const restoreOnly = !has(s.backupCommands);
  if (restoreOnly && !restorable) problems.push([ToolReason.MissingCommands, "spec.backupCommands is empty and there are no restoreCommands: add the command that makes a backup"]);
  if (!restoreOnly && type === BackupToolType.PITR && kind !== DeployKind.StatefulSet) problems.push([ToolReason.DeployKindMismatch, `type pitr archives logs continuously and needs deployKind statefulSet, not ${kind}`]);
  if (!restoreOnly && type === BackupToolType.File && kind === DeployKind.StatefulSet) problems.push([ToolReason.DeployKindMismatch, "deployKind statefulSet runs continuously: set type pitr, or deployKind job for file backups"]);
  for (const [which, r] of [["physical", s.physical], ["logical", s.logical]] as const) {
    if (r && has(r.incrementalRestoreCommands) && !has(r.restoreCommands)) {
      problems.push([ToolReason.IncoherentRestore, `spec.${which}.incrementalRestoreCommands without spec.${which}.restoreCommands: a chain restores its base first`]);
    }
  }
  if (has(s.incrementalBackupCommands) && !has(s.physical?.incrementalRestoreCommands) && !has(s.logical?.incrementalRestoreCommands)) {
    problems.push([ToolReason.IncoherentRestore, "spec.incrementalBackupCommands without incrementalRestoreCommands (physical or logical): incremental backups could not be restored"]);
  }
  const env = toolEnvProblem(t);
  if (env) problems.push([ToolReason.InvalidEnv, env]);
  const restoreMessage = restorable ? "restore commands present" : `BackupTool "${name}" has no physical or logical restoreCommands: its backups cannot be restored by a RestoreJob`;
  if (problems.length) return { valid: false, reason: problems[0][0], message: problems.map((p) => p[1]).join("; "), restorable, restoreMessage };
  const message = restoreOnly
    ? `restore only: no backupCommands (a Backup with this tool fails ToolUnsuitable), restore commands present for type ${type}`
    : `commands present for type ${type}, deployKind ${kind}`;
  return { valid: true, reason: ToolReason.Valid, message: s.image ? message : `${message}; empty image: the target's first container's image is used`, restorable, restoreMessage };
}
