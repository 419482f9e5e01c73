import { readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { posix } from "node:path";
import { REPO_CONFIG_ENV, type RepoConfig, isRepoError, parseRepoDocument, repoConfigFromDocument } from "@dataprotection/storage";
import type { CompressionOptions } from "./object-writer.ts";
import { CHECKSUMS, type ChecksumAlgorithm } from "./chunks/checksum.ts";
import { dedupPrefix } from "./dedup/commands.ts";
import { AgentError } from "./errors.ts";
import { BACKUP_ID_RE, COMPRESSIONS, type Compression } from "./format/header.ts";
import { type KeySource, parseKey } from "./format/keys.ts";

/** Everything dp-agent takes from its environment (see README.md for the contract). */
export interface AgentConfig {
  repo: RepoConfig;
  /** The backup's prefix in the repo, e.g. "ns/backup-1". */
  backupPath: string;
  key?: KeySource;
  compression: CompressionOptions;
  chunkSize: number;
  checksum: ChecksumAlgorithm;
  tool?: string;
  terminationMessagePath: string;
  /**
   * DP_EXPECT_CHECKSUMS: the checksum of each object as the operator recorded it in the Backup's
   * status (JSON {"name": "sha256:<hex>"}). When set, reads check these instead of manifest.json
   * (which anyone who can write the repo can edit), and refuse objects not listed.
   */
  expect?: ReadonlyMap<string, string>;
  /**
   * DP_BACKUP_ID: the backup's identity (the operator sets the Backup's metadata.uid). Objects
   * written with it record it (format v5) and manifest.json records it; reads refuse another
   * backup's objects and manifest, and objects from before binding unless `expect` names them.
   */
  backupId?: string;
  /**
   * DP_DEDUP=true: push and push-dir store snapshots in the dedup repository under `prefix`
   * (DP_DEDUP_PREFIX, else <parent of the backup path>/.dedup), and pull, pull-dir, verify and rm
   * follow the snapshots manifest.json names (dedup/transparent.ts).
   */
  dedup?: { prefix: string };
  /**
   * Where snapshots a manifest names are read and forgotten, with or without DP_DEDUP (a backup
   * stored while a repo had deduplication on stays readable after it is turned off).
   */
  dedupPrefix: string;
  /** DP_DEDUP_LOCK_WAIT_SECONDS (default 600): how long a dedup backup, restore or prune waits for another's conflicting lock. */
  dedupLockWaitMs: number;
  /**
   * Threads that compress and seal a dedup backup's new chunks: DP_COMPRESSION_THREADS, default
   * every core but one (the backup's own thread reads, cuts and names chunks, a core's work).
   */
  dedupThreads: number;
}

type Env = Record<string, string | undefined>;

export function configFromEnv(env: Env): AgentConfig {
  const repoPath = env.DP_REPO_PATH || "/backupdata";
  const repo = env[REPO_CONFIG_ENV] ? repoFromDocument(env, env[REPO_CONFIG_ENV]) : repoFromLegacyEnv(env, repoPath);

  const algorithm = (env.DP_COMPRESSION || "zstd") as Compression;
  if (!COMPRESSIONS.includes(algorithm)) throw new AgentError(`DP_COMPRESSION=${algorithm} is not supported: use zstd, gzip or none`);
  const level = int(env.DP_COMPRESSION_LEVEL, "DP_COMPRESSION_LEVEL");
  const givenThreads = int(env.DP_COMPRESSION_THREADS, "DP_COMPRESSION_THREADS");
  const threads = givenThreads ?? availableParallelism();
  const chunkSize = int(env.DP_CHUNK_SIZE, "DP_CHUNK_SIZE") ?? 1 << 20;
  if (chunkSize < 4096 || chunkSize > 16 << 20) throw new AgentError("DP_CHUNK_SIZE must be between 4096 and 16777216 bytes");
  const checksum = (env.DP_CHECKSUM || "sha256-tags") as ChecksumAlgorithm;
  if (!CHECKSUMS.includes(checksum)) throw new AgentError(`DP_CHECKSUM=${checksum} is not supported: use sha256-tags or sha256-chunked`);

  const backupPath = backupPathFrom(env, repoPath);
  return {
    repo,
    backupPath,
    key: keyFrom(env),
    compression: { algorithm, level, threads },
    chunkSize,
    checksum,
    tool: env.DP_TOOL || undefined,
    terminationMessagePath: env.DP_TERMINATION_MESSAGE_PATH || "/dev/termination-log",
    ...(env.DP_EXPECT_CHECKSUMS ? { expect: expectedChecksums(env.DP_EXPECT_CHECKSUMS) } : {}),
    // Set but empty is an error, not "unset": a binding that silently went missing would be no binding.
    ...(env.DP_BACKUP_ID !== undefined ? { backupId: backupIdFrom(env.DP_BACKUP_ID) } : {}),
    ...(dedupOn(env.DP_DEDUP) ? { dedup: { prefix: dedupPrefix(env, backupPath) } } : {}),
    dedupPrefix: dedupPrefix(env, backupPath),
    dedupLockWaitMs: (int(env.DP_DEDUP_LOCK_WAIT_SECONDS, "DP_DEDUP_LOCK_WAIT_SECONDS") ?? 600) * 1000,
    dedupThreads: givenThreads ?? Math.max(1, availableParallelism() - 1),
  };
}

// Strict: a typo must not silently write backups the other way.
function dedupOn(v: string | undefined): boolean {
  if (v === undefined || v === "" || v === "false" || v === "0") return false;
  if (v === "true" || v === "1") return true;
  throw new AgentError(`DP_DEDUP=${v} is not true or false: set it to true (or 1) to store backups in the deduplicating repository, or unset it`);
}

/**
 * DP_REPO_CONFIG: the one document the operator writes for a repo (packages/storage document.ts),
 * its secrets in the env it names. The storage registry checks it and builds the config.
 */
function repoFromDocument(env: Env, text: string): RepoConfig {
  try {
    return repoConfigFromDocument(parseRepoDocument(text), env);
  } catch (err) {
    if (isRepoError(err)) throw new AgentError(err.message, { cause: err });
    throw err;
  }
}

/** Without DP_REPO_CONFIG: DP_REPO_KIND/DP_REPO_PATH, DP_S3_* and AWS_* (tests, KubeBlocks 0.6-style tools, older operators). */
function repoFromLegacyEnv(env: Env, repoPath: string): RepoConfig {
  const kind = env.DP_REPO_KIND || "filesystem";
  if (kind === "filesystem") return { kind, root: repoPath };
  if (kind !== "s3") throw new AgentError(`DP_REPO_KIND=${kind} is not supported: use filesystem or s3, or give the repo as ${REPO_CONFIG_ENV}`);
  if (!env.DP_S3_BUCKET) throw new AgentError("DP_REPO_KIND=s3 needs DP_S3_BUCKET");
  return {
    kind,
    bucket: env.DP_S3_BUCKET,
    endpoint: env.DP_S3_ENDPOINT || undefined,
    region: env.DP_S3_REGION || undefined,
    forcePathStyle: bool(env.DP_S3_FORCE_PATH_STYLE, "DP_S3_FORCE_PATH_STYLE"),
    prefix: env.DP_S3_PREFIX || undefined,
    accessKeyId: env.AWS_ACCESS_KEY_ID || undefined,
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY || undefined,
    sessionToken: env.AWS_SESSION_TOKEN || undefined,
    maxAttempts: int(env.DP_S3_MAX_ATTEMPTS, "DP_S3_MAX_ATTEMPTS"),
    partSize: int(env.DP_S3_PART_SIZE, "DP_S3_PART_SIZE"),
    idleTimeoutMs: env.DP_S3_IDLE_TIMEOUT_SECONDS ? int(env.DP_S3_IDLE_TIMEOUT_SECONDS, "DP_S3_IDLE_TIMEOUT_SECONDS")! * 1000 : undefined,
  };
}

function backupIdFrom(id: string): string {
  if (!BACKUP_ID_RE.test(id)) {
    throw new AgentError(`DP_BACKUP_ID=${JSON.stringify(id.length > 80 ? `${id.slice(0, 80)}...` : id)} is not a backup id: give 1 to 253 characters of letters, digits and . _ : / - (the Backup's metadata.uid)`);
  }
  return id;
}

function expectedChecksums(json: string): ReadonlyMap<string, string> {
  let v: unknown;
  try {
    v = JSON.parse(json);
  } catch {
    throw new AgentError("DP_EXPECT_CHECKSUMS is not JSON: give {\"<object>\": \"sha256:<hex>\"}");
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) throw new AgentError("DP_EXPECT_CHECKSUMS must be a JSON object of object names to sha256:<hex>");
  const out = new Map<string, string>();
  for (const [name, sum] of Object.entries(v as Record<string, unknown>)) {
    const m = typeof sum === "string" ? /^sha256:([0-9a-f]{64})$/.exec(sum) : null;
    if (!m) throw new AgentError(`DP_EXPECT_CHECKSUMS: the checksum of "${name}" is not sha256:<64 hex digits>`);
    out.set(name, m[1]!);
  }
  return out;
}

// DP_BACKUP_PATH wins; otherwise BACKUP_DIR (KubeBlocks contract: /backupdata/<ns>/<backup>) relative to the repo path.
function backupPathFrom(env: Env, repoPath: string): string {
  let p = env.DP_BACKUP_PATH;
  if (!p && env.BACKUP_DIR) {
    const rel = posix.relative(posix.resolve(repoPath), posix.resolve(env.BACKUP_DIR));
    if (rel.startsWith("..") || posix.isAbsolute(rel)) throw new AgentError(`BACKUP_DIR=${env.BACKUP_DIR} is not under DP_REPO_PATH=${repoPath}: set DP_BACKUP_PATH`);
    p = rel;
  }
  if (!p) throw new AgentError("set DP_BACKUP_PATH (or BACKUP_DIR) to the backup's path in the repo, e.g. <namespace>/<backup>");
  p = p.replace(/^\/+|\/+$/g, "");
  if (!p || p.split("/").some((s) => s === "" || s === "." || s === "..")) throw new AgentError(`DP_BACKUP_PATH=${env.DP_BACKUP_PATH ?? p} is not a valid relative path`);
  return p;
}

function keyFrom(env: Env): KeySource | undefined {
  if (env.DP_ENCRYPTION_KEY) return parseKey(env.DP_ENCRYPTION_KEY);
  if (env.DP_ENCRYPTION_KEY_FILE) {
    let raw: Buffer;
    try {
      raw = readFileSync(env.DP_ENCRYPTION_KEY_FILE);
    } catch (err) {
      throw new AgentError(`cannot read DP_ENCRYPTION_KEY_FILE=${env.DP_ENCRYPTION_KEY_FILE}: ${(err as { code?: string }).code ?? String(err)}`);
    }
    return parseKey(raw);
  }
  return undefined;
}

function int(v: string | undefined, name: string): number | undefined {
  if (v === undefined || v === "") return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new AgentError(`${name}=${v} is not a non-negative integer`);
  return n;
}

function bool(v: string | undefined, name: string): boolean | undefined {
  if (v === undefined || v === "") return undefined;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  throw new AgentError(`${name}=${v} is not true or false`);
}
