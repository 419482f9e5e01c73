import { createHash } from "node:crypto";
import { type RepoBackend, isRepoError } from "@dataprotection/storage";
import type { ChecksumAlgorithm } from "./chunks/checksum.ts";
import { AgentError } from "./errors.ts";
import { type ManifestTrust, type ManifestUse, checkManifest, sealManifest } from "./manifest-auth.ts";

export const MANIFEST_NAME = "manifest.json";

export interface ManifestFile {
  name: string;
  /** "stream": push/pull; "directory": push-dir/pull-dir. */
  kind: "stream" | "directory";
  /** Plaintext bytes (for a directory: of its archive stream). */
  size: number;
  /** Bytes stored in the repo (header, frames, tags included). */
  storedSize: number;
  /**
   * The object's checksum, hex: see `checksumAlgorithm`. Absent algorithm (objects of format
   * v2): sha256 of the plaintext.
   */
  sha256: string;
  /**
   * "sha256-tags" (format v4 or v5, the default): sha256 over the data frames' tags in order.
   * "sha256-chunked" (format v3 or v5): sha256 over the concatenated sha256 digests of the plaintext
   * chunks of `chunkSize` bytes, in order; an object of at most one chunk has the plain sha256
   * of its plaintext. See chunks/checksum.ts; dp-agent pull/verify recompute either.
   * "dedup-snapshot" (DP_DEDUP, with `snapshot`): sha256 of the sealed snapshot object as stored
   * in the dedup repository (dedup/transparent.ts).
   */
  checksumAlgorithm?: "sha256" | ChecksumAlgorithm | "dedup-snapshot";
  /** Plaintext bytes per chunk (the chunked checksum depends on it). */
  chunkSize?: number;
  /** Frames of an object; for a snapshot, the chunks its tree names (data and tree blobs). */
  chunks: number;
  compression: string;
  encryption: string;
  startTime: string;
  stopTime: string;
  /**
   * DP_DEDUP: the object is this snapshot (32 hex) of the dedup repository, not an object under
   * the backup path; `storedSize` is what it added to the repository.
   */
  snapshot?: string;
}

/** manifest.json at the root of every backup: what is in it and how it was written. */
export interface Manifest {
  version: 1;
  backupPath: string;
  /** DP_BACKUP_ID of the backup's writers (the Backup's uid), when they had one. */
  backupId?: string;
  /** With a repo key: the random salt (hex) of the key `mac` is made with (manifest-auth.ts). */
  macSalt?: string;
  /** With a repo key: 8 bytes (hex) that tell a wrong key from an edited manifest, like an object's key check. */
  macKeyCheck?: string;
  /** With a repo key: HMAC-SHA256 (hex) over the canonical JSON of everything else. */
  mac?: string;
  tool?: string;
  /**
   * What the backup's writer recorded about it for whoever restores it (`dp-agent context set`,
   * Agent.setUserContext): string keys and values (checkUserContext's limits), covered by the mac.
   */
  userContext?: Record<string, string>;
  startTime: string;
  stopTime: string;
  totalSize: number;
  storedSize: number;
  files: ManifestFile[];
}

/** manifest.json as stored, unchecked (for listing); undefined when there is none. */
export async function loadManifest(backend: RepoBackend, backupPath: string): Promise<Manifest | undefined> {
  let body;
  try {
    body = await backend.get(`${backupPath}/${MANIFEST_NAME}`);
  } catch (err) {
    if (isRepoError(err, "NotFound")) return undefined;
    throw err;
  }
  const parts: Buffer[] = [];
  for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
  let m: unknown;
  try {
    m = JSON.parse(Buffer.concat(parts).toString("utf8"));
  } catch {
    throw new AgentError(`${backupPath}/${MANIFEST_NAME} is not valid JSON`);
  }
  if (!m || typeof m !== "object" || Array.isArray(m) || !Array.isArray((m as Manifest).files)) throw new AgentError(`${backupPath}/${MANIFEST_NAME} is not a dp-agent manifest`);
  return m as Manifest;
}

/**
 * manifest.json, refused (AgentError) unless the repo key authenticates it and it belongs to
 * DP_BACKUP_ID (manifest-auth.ts); undefined when there is none.
 */
export async function readManifest(backend: RepoBackend, backupPath: string, trust: ManifestTrust, use: ManifestUse = "read"): Promise<Manifest | undefined> {
  const m = await loadManifest(backend, backupPath);
  if (m) await checkManifest(m, backupPath, trust, use);
  return m;
}

/** Record (or replace) one file and refresh the totals; written atomically by the backend. */
export async function recordFile(backend: RepoBackend, backupPath: string, tool: string | undefined, file: ManifestFile, trust: ManifestTrust): Promise<Manifest> {
  const existing = await readManifest(backend, backupPath, trust, "update");
  const m = existing ?? emptyManifest(backupPath, file.startTime);
  m.files = m.files.filter((f) => f.name !== file.name).concat(file);
  if (tool) m.tool = tool;
  if (file.startTime < m.startTime) m.startTime = file.startTime;
  // A file's stopTime may be when its data ended (push --stop-time), before the last push's.
  if (!existing || file.stopTime > m.stopTime) m.stopTime = file.stopTime;
  return writeManifest(backend, backupPath, m, trust);
}

export async function removeFile(backend: RepoBackend, backupPath: string, name: string, trust: ManifestTrust): Promise<Manifest | undefined> {
  const m = await readManifest(backend, backupPath, trust, "update");
  if (!m) return undefined;
  m.files = m.files.filter((f) => f.name !== name);
  return writeManifest(backend, backupPath, m, trust);
}

/** Limits of a manifest's `userContext` (checkUserContext). */
export const USER_CONTEXT_KEY_RE = /^[A-Za-z0-9._/-]{1,63}$/;
export const USER_CONTEXT_MAX_VALUE = 2048;
export const USER_CONTEXT_MAX_KEYS = 8;
export const USER_CONTEXT_MAX_BYTES = 3000;

/**
 * Refuses (AgentError) a userContext beyond its limits: keys of 1-63 characters of
 * [A-Za-z0-9._/-], string values of at most 2048 characters, at most 8 keys, at most 3000 bytes of
 * JSON (so the termination report still has room for the rest).
 */
export function checkUserContext(ctx: Record<string, unknown>): asserts ctx is Record<string, string> {
  const keys = Object.keys(ctx);
  for (const k of keys) {
    if (!USER_CONTEXT_KEY_RE.test(k)) throw new AgentError(`user context key ${JSON.stringify(k)} is not 1-63 characters of letters, digits, ".", "_", "/" and "-"`);
    const v = ctx[k];
    if (typeof v !== "string") throw new AgentError(`user context value of ${JSON.stringify(k)} is not a string`);
    if (v.length > USER_CONTEXT_MAX_VALUE) throw new AgentError(`user context value of ${JSON.stringify(k)} has ${v.length} characters: at most ${USER_CONTEXT_MAX_VALUE} are kept`);
  }
  if (keys.length > USER_CONTEXT_MAX_KEYS) throw new AgentError(`the user context would have ${keys.length} keys (${keys.join(", ")}): at most ${USER_CONTEXT_MAX_KEYS} are kept`);
  const bytes = Buffer.byteLength(JSON.stringify(ctx));
  if (bytes > USER_CONTEXT_MAX_BYTES) throw new AgentError(`the user context would take ${bytes} bytes of JSON: at most ${USER_CONTEXT_MAX_BYTES} fit in the termination report`);
}

/**
 * Merges `entries` into the manifest's userContext (read-modify-write as recordFile: authenticated,
 * bound to the backup id, sealed again). Refused (AgentError) when the backup has no manifest yet
 * or the merged context is beyond checkUserContext's limits.
 */
export async function recordUserContext(backend: RepoBackend, backupPath: string, entries: Record<string, string>, trust: ManifestTrust): Promise<Manifest> {
  if (!entries || typeof entries !== "object" || Array.isArray(entries)) throw new AgentError("the user context to set is not a map of strings");
  if (Object.keys(entries).length === 0) throw new AgentError("no user context entries to set (KEY=VALUE)");
  checkUserContext(entries);
  const m = await readManifest(backend, backupPath, trust, "update");
  if (!m) {
    throw new AgentError(`backup ${backupPath} has no ${MANIFEST_NAME} in repo ${backend.location}: nothing was pushed yet; push the backup's objects first, then set its user context`);
  }
  if (m.userContext !== undefined && !isStringMap(m.userContext)) throw new AgentError(`${backupPath}/${MANIFEST_NAME} records a user context that is not a map of strings: refusing to add to it`);
  const merged: Record<string, string> = { ...m.userContext, ...entries };
  checkUserContext(merged);
  m.userContext = merged;
  return writeManifest(backend, backupPath, m, trust);
}

/** A plain object whose values are all strings. */
export function isStringMap(v: unknown): v is Record<string, string> {
  return !!v && typeof v === "object" && !Array.isArray(v) && Object.values(v).every((x) => typeof x === "string");
}

// Written where it was read (not to the path it records, which a planted manifest chooses).
async function writeManifest(backend: RepoBackend, backupPath: string, m: Manifest, trust: ManifestTrust): Promise<Manifest> {
  m.files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  m.totalSize = m.files.reduce((s, f) => s + f.size, 0);
  m.storedSize = m.files.reduce((s, f) => s + f.storedSize, 0);
  await sealManifest(m, trust);
  await backend.put(`${backupPath}/${MANIFEST_NAME}`, Buffer.from(JSON.stringify(m, null, 2) + "\n"));
  return m;
}

function emptyManifest(backupPath: string, now: string): Manifest {
  return { version: 1, backupPath, startTime: now, stopTime: now, totalSize: 0, storedSize: 0, files: [] };
}

/**
 * The backup's checksum for status: the file's sha256 when there is one file, else
 * sha256 over "sha256  name\n" lines (sha256sum format) sorted by name.
 */
export function backupChecksum(m: Manifest): string {
  if (m.files.length === 1) return `sha256:${m.files[0].sha256}`;
  const h = createHash("sha256");
  for (const f of m.files) h.update(`${f.sha256}  ${f.name}\n`);
  return `sha256:${h.digest("hex")}`;
}
