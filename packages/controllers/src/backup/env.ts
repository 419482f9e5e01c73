// The tool env contract, in one place (docs/execution-contract.md; KubeBlocks 0.6 order).
// Pure; RestoreJob imports it too, so keep the names and order stable.
//
//   DB_HOST            target pod IP
//   DB_PORT            the target container's first containerPort, when it has one
//   BACKUP_NAME        the Backup's name
//   BACKUP_DIR         /backupdata<filePath>, filePath = /<namespace>[/<path-prefix>]/<backup>
//   DB_USER/DB_PASSWORD  secretKeyRef to target.secret (usernameKey/passwordKey)
//   TTL                retention.ttl when set; LOGFILE_TTL and LOGFILE_TTL_SECOND for logfile backups
//   ARCHIVE_INTERVAL   logfile backups: seconds between archives, from the logfile cron ("60s")
//   PARENT_BACKUP_NAME, PARENT_BACKUP_DIR, PARENT_CHECKPOINT   incremental backups
//   DP_REPO_KIND, DP_REPO_PATH (mounted repos) or DP_REPO_CONFIG, DP_REPO_PATH, DP_REPO_SECRET_*
//                      (object stores: the storage registry's document), DP_ENCRYPTION_KEY_FILE
//                      the repo (backuprepo/access.ts)
//   DP_BACKUP_PATH     filePath without the leading "/" (dp-agent's key prefix)
//   DP_BACKUP_ID       the Backup's metadata.uid: dp-agent binds the objects it writes to it and
//                      refuses another backup's (integrityEnv: restores, with DP_EXPECT_CHECKSUMS)
//   DP_TOOL            the BackupTool's name
//   then the tool's own env (which may override any of the above), and envFrom on the container.
import type { V1Container, V1EnvVar, V1Pod } from "@kubernetes/client-node";
import type { Backup, BackupTool } from "@dataprotection/api";
import { BACKUP_MOUNT_PATH, type RepoAccess } from "../backuprepo/access.ts";

export interface DbSecret {
  name: string;
  usernameKey?: string;
  passwordKey?: string;
}

export interface ParentRef {
  name: string;
  /** The parent's BACKUP_DIR. */
  dir: string;
  checkpoint?: string;
}

export interface ToolEnvInput {
  backupName: string;
  /** "/<namespace>[/<prefix>]/<backup>". */
  filePath: string;
  target?: { pod: V1Pod; container: V1Container };
  secret?: DbSecret;
  ttl?: string;
  logfile?: boolean;
  archiveInterval?: string;
  parent?: ParentRef;
  access: RepoAccess;
  tool: BackupTool;
  /** The Backup's metadata.uid (DP_BACKUP_ID) when it writes; restores give integrityEnv in `extra`. */
  backupId?: string;
  /** Appended after the tool's env (e.g. restore-only variables). */
  extra?: V1EnvVar[];
}

/** The backup file path KubeBlocks uses: /<namespace>[/<prefix>]/<backupName>. */
export function backupFilePath(namespace: string, backupName: string, prefix?: string): string {
  const p = (prefix ?? "").replace(/^\/+|\/+$/g, "");
  return `/${namespace}${p ? `/${p}` : ""}/${backupName}`;
}

/** A recorded filePath the operator will hand to a delete or restore Job: "/" then names, never "." or "..". */
export function isSafeFilePath(p: string): boolean {
  return p.length <= 512 && /^(\/[A-Za-z0-9._-]+)+$/.test(p) && !p.split("/").some((s) => s === "." || s === "..");
}

export function backupDirOf(filePath: string): string {
  return `${BACKUP_MOUNT_PATH}${filePath}`;
}

/** DB_HOST, DB_PORT, DB_USER, DB_PASSWORD of a target pod. */
export function dbConnectionEnv(target: { pod: V1Pod; container: V1Container } | undefined, secret?: DbSecret): V1EnvVar[] {
  const env: V1EnvVar[] = [];
  if (target) {
    env.push({ name: "DB_HOST", value: target.pod.status?.podIP ?? "" });
    const port = target.container.ports?.[0]?.containerPort;
    if (port !== undefined) env.push({ name: "DB_PORT", value: String(port) });
  }
  if (secret?.name) {
    env.push(
      { name: "DB_USER", valueFrom: { secretKeyRef: { name: secret.name, key: secret.usernameKey || "username" } } },
      { name: "DB_PASSWORD", valueFrom: { secretKeyRef: { name: secret.name, key: secret.passwordKey || "password" } } },
    );
  }
  return env;
}

function ttlSeconds(ttl: string): number | undefined {
  const m = /^(\d+)([dDhH])$/.exec(ttl.trim());
  if (!m) return undefined;
  return Number(m[1]) * (m[2].toLowerCase() === "d" ? 86_400 : 3_600);
}

/** The whole env of a tool container, in contract order. */
export function toolEnv(i: ToolEnvInput): V1EnvVar[] {
  const conn = dbConnectionEnv(i.target, i.secret);
  const host = conn.filter((e) => e.name === "DB_HOST" || e.name === "DB_PORT");
  const creds = conn.filter((e) => e.name === "DB_USER" || e.name === "DB_PASSWORD");
  const env: V1EnvVar[] = [
    ...host,
    { name: "BACKUP_NAME", value: i.backupName },
    { name: "BACKUP_DIR", value: backupDirOf(i.filePath) },
    ...creds,
  ];
  if (i.ttl) {
    env.push({ name: "TTL", value: i.ttl });
    const s = ttlSeconds(i.ttl);
    if (i.logfile) {
      env.push({ name: "LOGFILE_TTL", value: i.ttl });
      if (s !== undefined) env.push({ name: "LOGFILE_TTL_SECOND", value: String(s) });
    }
  }
  if (i.archiveInterval) env.push({ name: "ARCHIVE_INTERVAL", value: i.archiveInterval });
  if (i.parent) {
    env.push({ name: "PARENT_BACKUP_NAME", value: i.parent.name }, { name: "PARENT_BACKUP_DIR", value: i.parent.dir });
    if (i.parent.checkpoint) env.push({ name: "PARENT_CHECKPOINT", value: i.parent.checkpoint });
  }
  env.push(...i.access.env);
  env.push({ name: "DP_BACKUP_PATH", value: i.filePath.replace(/^\/+/, "") });
  if (i.backupId) env.push({ name: "DP_BACKUP_ID", value: i.backupId });
  if (i.tool.metadata?.name) env.push({ name: "DP_TOOL", value: i.tool.metadata.name });
  env.push(...((i.tool.spec.env ?? []) as V1EnvVar[]));
  env.push(...(i.extra ?? []));
  return env;
}

/** DP_BACKUP_ID: the Backup's uid, which dp-agent binds objects to (none when the Backup has no uid yet). */
export function backupIdEnv(b: Backup): V1EnvVar[] {
  return b.metadata?.uid ? [{ name: "DP_BACKUP_ID", value: b.metadata.uid }] : [];
}

/**
 * DP_EXPECT_CHECKSUMS: each object's checksum as the Backup's status recorded it (the API server
 * is the trust anchor, not the repo's manifest.json). Set only when every recorded file has one.
 */
export function expectedChecksumsEnv(b: Backup): V1EnvVar[] {
  const files = b.status?.manifests?.backupTool?.files ?? [];
  if (files.length === 0 || files.some((f) => !f.checksum)) return [];
  return [{ name: "DP_EXPECT_CHECKSUMS", value: JSON.stringify(Object.fromEntries(files.map((f) => [f.name, f.checksum]))) }];
}

/**
 * What a dp-agent container that reads a Backup's data is given to check it is that Backup's:
 * the backup id its status recorded (dp-agent refuses another backup's objects and manifest, and
 * older-format objects without a recorded checksum) and the checksums its status recorded. A
 * Backup made before objects were bound records no id: its objects are checked against the
 * checksums only, as before.
 */
export function integrityEnv(b: Backup): V1EnvVar[] {
  return [...recordedBackupIdEnv(b), ...expectedChecksumsEnv(b)];
}

/** DP_BACKUP_ID as the Backup's status recorded it (none for Backups made before binding). */
export function recordedBackupIdEnv(b: Backup): V1EnvVar[] {
  const id = b.status?.manifests?.backupTool?.backupId;
  return id ? [{ name: "DP_BACKUP_ID", value: id }] : [];
}
