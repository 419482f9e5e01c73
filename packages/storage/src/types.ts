import type { Readable } from "node:stream";

/** What put() stores: a stream, one buffer, or buffers lent one at a time (see put). */
export type PutBody = Readable | Buffer | AsyncIterable<Buffer>;

/** An object opened for positioned reads (see RepoBackend.openRead). */
export interface ObjectFile {
  /** Size in bytes when opened. */
  readonly size: number;
  /** Read up to `length` bytes at `position` into `buf` at `offset`; resolves with the count (0 at the end). */
  read(buf: Uint8Array, offset: number, length: number, position: number): Promise<number>;
  close(): Promise<void>;
}

/** What a backend knows about one stored object. */
export interface ObjectInfo {
  key: string;
  size: number;
  modified?: Date;
}

/**
 * Where a repo lives, typed per backend. Built from a backend's parameters and secrets by the
 * registry (registry.ts: the operator's pre-check, dp-agent's DP_REPO_CONFIG), or directly.
 */
export type RepoConfig = FilesystemRepoConfig | S3RepoConfig | AzureRepoConfig;

export interface FilesystemRepoConfig {
  kind: "filesystem";
  /** Root directory of the repo, e.g. the mounted PVC at /backupdata. */
  root: string;
}

export interface S3RepoConfig {
  kind: "s3";
  bucket: string;
  /** e.g. http://minio.svc:9000; omitted for AWS. */
  endpoint?: string;
  region?: string;
  /** true: http://host/bucket/key; false: http://bucket.host/key (virtual-host). */
  forcePathStyle?: boolean;
  /** Prefix inside the bucket under which every key lives (no leading or trailing "/"). */
  prefix?: string;
  accessKeyId?: string;
  secretAccessKey?: string;
  sessionToken?: string;
  /** Attempts per request including the first (SDK standard retry: exponential backoff with jitter). */
  maxAttempts?: number;
  /** Multipart part size in bytes (>= 5 MiB); objects smaller than one part go up in a single PUT. */
  partSize?: number;
  /** Parts uploaded concurrently; memory use is about partSize * (queueSize + 1). */
  queueSize?: number;
  /** Connection timeout in ms, so an unreachable endpoint fails fast. */
  connectTimeoutMs?: number;
  /** How long a connection may stay silent mid-request before it is dropped and the request retried (ms, default 60 s). */
  idleTimeoutMs?: number;
}

export interface AzureRepoConfig {
  kind: "azure";
  /** Blob container (created beforehand: a repo never creates it). */
  container: string;
  /** Storage account; with the key, authenticates every request (Shared Key). */
  accountName: string;
  accountKey: string;
  /** Blob service URL, e.g. http://127.0.0.1:10000/devstoreaccount1 (Azurite); default https://<account>.blob.core.windows.net. */
  endpoint?: string;
  /** Prefix inside the container under which every key lives (no leading or trailing "/"). */
  prefix?: string;
  /** Attempts per request including the first (exponential backoff). */
  maxAttempts?: number;
  /** Block size in bytes; an object up to one block goes up in a single Put Blob. */
  blockSize?: number;
  /** Blocks staged concurrently; memory use is about blockSize * (queueSize + 1). */
  queueSize?: number;
  /** Connection timeout in ms, so an unreachable endpoint fails fast. */
  connectTimeoutMs?: number;
}

/**
 * The contract every repo backend keeps. Keys are "/"-separated relative paths
 * ("ns/backup/dump.sql"); the backend maps them to files, S3 keys or blob names.
 */
export interface RepoBackend {
  readonly kind: RepoConfig["kind"];
  /** Human-readable location for messages, e.g. "s3://bucket/prefix" or "/backupdata". */
  readonly location: string;
  /**
   * Store `body` under `key`. Atomic: readers never see a partial object; on any
   * failure (including an error from `body`) nothing is left under `key` or a temp name.
   * Resolves with the number of bytes stored. A buffer yielded by an iterable body
   * is the producer's again once the backend asks for the next one (so producers can
   * reuse a few buffers instead of allocating one per chunk).
   */
  put(key: string, body: PutBody): Promise<number>;
  /** Stream an object. Rejects with RepoError("NotFound") when absent. */
  get(key: string): Promise<Readable>;
  /**
   * Optional (filesystem repos): open an object for positioned reads into the caller's
   * buffers, so a reader can place bytes where it needs them without a copy or a buffer
   * allocated per read. Rejects with RepoError("NotFound") when absent.
   */
  openRead?(key: string): Promise<ObjectFile>;
  /**
   * Optional (object stores: S3, Azure Blob): exactly `length` bytes of an object from `offset`,
   * in one ranged request, so a reader needs no whole object for a part of it. Rejects with
   * RepoError("NotFound") when absent, and with an error naming the key when the object ends
   * before `offset + length`.
   */
  getRange?(key: string, offset: number, length: number): Promise<Buffer>;
  /** Size and mtime of an object, or undefined when absent. */
  stat(key: string): Promise<ObjectInfo | undefined>;
  /** Every object whose key starts with `prefix` (a "directory" prefix should end in "/"). */
  list(prefix: string): AsyncIterable<ObjectInfo>;
  /** Delete one object; deleting an absent object is not an error. */
  delete(key: string): Promise<void>;
  /** Delete every object under `prefix`; resolves with how many were deleted. */
  deletePrefix(prefix: string): Promise<number>;
  /**
   * Check that the repo is reachable and writable: write, read back and delete a
   * small object. Rejects with a RepoError whose message says what to fix.
   */
  probe(): Promise<void>;
}
