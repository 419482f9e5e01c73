// Pure: the objects kubectl-dp creates, from its flags and what it read from the cluster.
import { AnnotationBackupDestination, BackupDestinationPVC, DataProtectionAPIVersion, type Backup, type BackupPolicy, type RestoreJob, type Volume, type VolumeMount } from "@dataprotection/api";
import { UsageError } from "./exit.ts";

type TargetCluster = RestoreJob["spec"]["target"];

export type BackupType = "datafile" | "logfile" | "snapshot";
export const BACKUP_TYPES: readonly BackupType[] = ["datafile", "logfile", "snapshot"];

export { UsageError };

const DNS = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;

export function checkName(what: string, name: string): string {
  if (name.length > 63 || !DNS.test(name)) throw new UsageError(`${what} "${name}" is not a valid name (lower-case letters, digits, "-" and ".", at most 63)`);
  return name;
}

/** "20261123T221500Z" -> a name suffix "20261123221500". */
function stamp(now: Date): string {
  return now.toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

/** `<base>-<yyyymmddhhmmss>`, the base cut so the whole stays a 63-character name. */
export function generatedName(base: string, now: Date): string {
  const s = stamp(now);
  return `${base.slice(0, 63 - s.length - 1).replace(/[-.]+$/, "")}-${s}`;
}

export interface BackupFlags {
  policy: string;
  name?: string;
  type: BackupType;
  parent?: string;
  /** Backup to the policy's persistentVolumeClaim even when a default BackupRepo exists. */
  toPvc?: boolean;
}

export function backupObject(f: BackupFlags, namespace: string, now: Date): Backup {
  if (!BACKUP_TYPES.includes(f.type)) throw new UsageError(`--type ${f.type} is not one of ${BACKUP_TYPES.join(", ")}`);
  if (f.parent && f.type !== "datafile") throw new UsageError("--parent makes an incremental backup, which only datafile backups have");
  const name = checkName("backup name", f.name ?? generatedName(f.policy, now));
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "Backup",
    metadata: { name, namespace, ...(f.toPvc ? { annotations: { [AnnotationBackupDestination]: BackupDestinationPVC } } : {}) },
    spec: { backupPolicyName: checkName("policy", f.policy), backupType: f.type, ...(f.parent ? { parentBackupName: checkName("parent backup", f.parent) } : {}) },
  };
}

export interface ImportFlags {
  repo: string;
  /** The backup's path in the repo (its Backup's status.manifests.backupTool.filePath). */
  path: string;
  name?: string;
  policy?: string;
}

const BACKUP_PATH = /^\/?(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*\/?$/;

/** A Backup importing a backup another namespace or cluster wrote (spec.importFrom): named after the path's last name by default. */
export function importObject(f: ImportFlags, namespace: string, now: Date): Backup {
  if (f.path.length > 512 || !BACKUP_PATH.test(f.path)) throw new UsageError(`path "${f.path.slice(0, 100)}" is not a backup path in a repo (names joined by "/", no "." or ".."; e.g. /shop/nightly-20261206030000)`);
  const last = f.path.replace(/\/+$/, "").split("/").pop()!.toLowerCase().replace(/[^a-z0-9.-]+/g, "-").replace(/^[-.]+/, "") || "imported";
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "Backup",
    metadata: { name: checkName("backup name", f.name ?? generatedName(last, now)), namespace },
    spec: { backupPolicyName: checkName("policy", f.policy ?? "imported"), backupType: "datafile", importFrom: { backupRepoName: checkName("repo", f.repo), path: f.path } },
  };
}

/** "app=db,role in (primary)" is too much for flags: k=v pairs only, comma-separated. */
export function parseSelector(s: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of s.split(",").map((p) => p.trim()).filter(Boolean)) {
    const i = part.indexOf("=");
    if (i <= 0) throw new UsageError(`--selector ${s}: "${part}" is not key=value`);
    out[part.slice(0, i).trim()] = part.slice(i + 1).trim();
  }
  if (Object.keys(out).length === 0) throw new UsageError("--selector is empty");
  return out;
}

/** NAME:CLAIM:MOUNTPATH, e.g. data:data-pg-0:/var/lib/postgresql. */
export function parseVolume(s: string): { volume: Volume; mount: VolumeMount } {
  const [name, claim, mountPath, ...rest] = s.split(":");
  if (!name || !claim || !mountPath || rest.length > 0 || !mountPath.startsWith("/")) throw new UsageError(`--volume ${s}: expected NAME:CLAIM:/MOUNT/PATH`);
  checkName("volume name", name);
  checkName("claim", claim);
  return { volume: { name, persistentVolumeClaim: { claimName: claim } }, mount: { name, mountPath } };
}

/** NAME (keys username and password, the API's defaults) or NAME:USERNAME_KEY:PASSWORD_KEY. */
export function parseSecret(s: string): NonNullable<TargetCluster["secret"]> {
  const [name, usernameKey, passwordKey, ...rest] = s.split(":");
  if (!name || rest.length > 0 || (usernameKey === undefined) !== (passwordKey === undefined) || usernameKey === "" || passwordKey === "") {
    throw new UsageError(`--secret ${s}: expected NAME or NAME:USERNAME_KEY:PASSWORD_KEY`);
  }
  return { name: checkName("secret", name), usernameKey: usernameKey ?? "username", passwordKey: passwordKey ?? "password" };
}

export interface RestoreFlags {
  backup: string;
  name?: string;
  selector?: string;
  secret?: string;
  volumes: string[];
  restoreTime?: string;
  onFailAttempted?: number;
}

/** The policy part a backup of this type was taken with (its target is the restore's default). */
export function policyTarget(policy: BackupPolicy | undefined, type: string): TargetCluster | undefined {
  const spec = policy?.spec;
  if (!spec) return undefined;
  if (type === "snapshot") return spec.snapshot?.target;
  if (type === "logfile") return spec.logfile?.target;
  return spec.datafile?.target;
}

/**
 * A RestoreJob for `backup`: the target is the backup's policy target unless --selector /
 * --secret say otherwise, so restoring "where it came from" needs no flags but the volumes.
 */
export function restoreJobObject(f: RestoreFlags, backup: Backup, policy: BackupPolicy | undefined, namespace: string, now: Date): RestoreJob {
  const fromPolicy = policyTarget(policy, backup.spec.backupType ?? "datafile");
  const labels = f.selector ? { matchLabels: parseSelector(f.selector) } : fromPolicy?.labelsSelector;
  if (!labels) {
    const why = policy ? `policy ${policy.metadata?.name} has no target for ${backup.spec.backupType ?? "datafile"} backups` : `its policy ${backup.spec.backupPolicyName} is gone`;
    throw new UsageError(`cannot tell which pods to restore backup ${backup.metadata?.name} to (${why}): pass --selector key=value`);
  }
  const secret = f.secret ? parseSecret(f.secret) : f.selector ? undefined : fromPolicy?.secret;
  let restoreTime: string | undefined;
  if (f.restoreTime !== undefined) {
    const t = Date.parse(f.restoreTime);
    if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/.test(f.restoreTime)) {
      throw new UsageError(`--restore-time ${f.restoreTime} is not an RFC 3339 time such as 2026-11-23T10:00:00Z`);
    }
    restoreTime = new Date(t).toISOString().replace(/\.000Z$/, "Z");
  }
  const volumes = f.volumes.map(parseVolume);
  const backupName = backup.metadata?.name ?? f.backup;
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "RestoreJob",
    metadata: { name: checkName("restore name", f.name ?? generatedName(`${backupName}-restore`, now)), namespace },
    spec: {
      backupJobName: backupName,
      target: { labelsSelector: labels, ...(secret ? { secret } : {}) },
      targetVolumes: volumes.map((v) => v.volume),
      targetVolumeMounts: volumes.map((v) => v.mount),
      ...(restoreTime ? { restoreTime } : {}),
      ...(f.onFailAttempted !== undefined ? { onFailAttempted: f.onFailAttempted } : {}),
    },
  };
}
