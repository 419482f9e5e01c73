import type { ChecksumAlgorithm } from "../chunks/checksum.ts";
import { AgentError } from "../errors.ts";

/**
 * Object header, written once at the start of every stored object. 36 bytes in every version:
 *   0  "DPAG"  magic
 *   4  u8      format version: 2: trailer checksum sha256 of the plaintext; 3: "sha256-chunked";
 *              4: "sha256-tags"; 5: bound to a backup (below). The frames are the same in all.
 *              Written: 5 when a backup id is given (DP_BACKUP_ID), else 4 (3 on request);
 *              read: 2 to 5.
 *   5  u8      compression (0 none, 1 zstd, 2 gzip)
 *   6  u8      encryption (0 none, 1 AES-256-GCM)
 *   7  u8      key derivation (0 none, 1 raw 32-byte key, 2 scrypt passphrase)
 *   8  u32 BE  chunk size: the most plaintext bytes one chunk (frame) carries
 *  12  16 B    random per-object salt (HKDF/scrypt salt)
 *  28  8 B     key check: first 8 bytes of HMAC(objectKey, "key check"), zero when unencrypted
 * Version 5 goes on (the extension):
 *  36  u8      trailer checksum (0 "sha256-tags", 1 "sha256-chunked"): v5 carries either
 *  37  u8      n, the backup id's length (1..253)
 *  38  n B     the backup id (ASCII [A-Za-z0-9._:/-]): the uid of the Backup the object belongs to
 * The whole header, extension included, is part of every chunk's AAD / digest (format/frames.ts),
 * so editing any byte of it, the id too, breaks chunk 0: whoever cannot seal chunks (no key) cannot
 * move an object to another backup by relabelling it. The id is a header extension rather than
 * part of the object key so that a wrong key and a wrong backup stay distinct errors, and the
 * reader can refuse another backup's object before it opens a single chunk.
 */
export const MAGIC = Buffer.from("DPAG");
/** The newest format version (written when the object is bound to a backup). */
export const FORMAT_VERSION = 5;
/** Versions this reader still reads. */
export const READ_VERSIONS = [2, 3, 4, 5];
/** Length of the fixed part of the header, the whole header before v5. */
export const HEADER_LEN = 36;
/** The version that records a backup id. */
export const BOUND_VERSION = 5;
/** A backup id as DP_BACKUP_ID gives it (a Kubernetes uid fits): what v5 headers can record. */
export const BACKUP_ID_RE = /^[A-Za-z0-9._:/-]{1,253}$/;

export const COMPRESSIONS = ["none", "zstd", "gzip"] as const;
export type Compression = (typeof COMPRESSIONS)[number];
export const ENCRYPTIONS = ["none", "aes-256-gcm"] as const;
export type Encryption = (typeof ENCRYPTIONS)[number];
export const KDFS = ["none", "raw", "scrypt"] as const;
export type Kdf = (typeof KDFS)[number];
/** The trailer checksums of a v5 header, by their byte. */
const V5_CHECKSUMS: readonly ChecksumAlgorithm[] = ["sha256-tags", "sha256-chunked"];
/** What an object's trailer (and manifest entry) checksums: "sha256" only in v2 objects. */
export type ObjectChecksum = ChecksumAlgorithm | "sha256";

export interface ObjectHeader {
  /** Set when decoding; encodeHeader derives it (versionOf) when absent. */
  version?: number;
  checksum: ObjectChecksum;
  /** The backup the object belongs to (v5); absent in objects written before backup binding. */
  backupId?: string;
  compression: Compression;
  encryption: Encryption;
  kdf: Kdf;
  chunkSize: number;
  salt: Buffer;
  keyCheck: Buffer;
}

/** The version an object with this checksum (and backup id, if any) is written in. */
export function versionOf(checksum: ObjectChecksum, backupId: string | undefined): number {
  if (backupId !== undefined) return BOUND_VERSION;
  return checksum === "sha256-tags" ? 4 : checksum === "sha256-chunked" ? 3 : 2;
}

/**
 * The whole header's length as far as `prefix` (its first bytes, read so far) tells: HEADER_LEN
 * until the version byte says v5; then HEADER_LEN + 2 until the id's length is there; then the
 * whole length. Read until it stops growing.
 */
export function headerLength(prefix: Buffer): number {
  if (prefix.length < HEADER_LEN || prefix.readUInt8(4) !== BOUND_VERSION) return HEADER_LEN;
  return prefix.length < HEADER_LEN + 2 ? HEADER_LEN + 2 : HEADER_LEN + 2 + prefix.readUInt8(HEADER_LEN + 1);
}

export function encodeHeader(h: ObjectHeader): Buffer {
  const version = h.version ?? versionOf(h.checksum, h.backupId);
  if ((version === BOUND_VERSION) !== (h.backupId !== undefined)) throw new Error(`internal: format v${version} with${h.backupId === undefined ? "out" : ""} a backup id`);
  const id = h.backupId === undefined ? undefined : Buffer.from(h.backupId, "latin1");
  if (h.backupId !== undefined && !BACKUP_ID_RE.test(h.backupId)) throw new AgentError(`backup id ${JSON.stringify(h.backupId)} is not 1 to 253 characters of [A-Za-z0-9._:/-]`);
  const b = Buffer.alloc(HEADER_LEN + (id ? 2 + id.length : 0));
  MAGIC.copy(b, 0);
  b.writeUInt8(version, 4);
  b.writeUInt8(COMPRESSIONS.indexOf(h.compression), 5);
  b.writeUInt8(ENCRYPTIONS.indexOf(h.encryption), 6);
  b.writeUInt8(KDFS.indexOf(h.kdf), 7);
  b.writeUInt32BE(h.chunkSize, 8);
  h.salt.copy(b, 12, 0, 16);
  h.keyCheck.copy(b, 28, 0, 8);
  if (id) {
    const sum = V5_CHECKSUMS.indexOf(h.checksum as ChecksumAlgorithm);
    if (sum < 0) throw new Error(`internal: format v5 has no ${h.checksum} checksum`);
    b.writeUInt8(sum, HEADER_LEN);
    b.writeUInt8(id.length, HEADER_LEN + 1);
    id.copy(b, HEADER_LEN + 2);
  }
  return b;
}

/** Decode a whole header (headerLength bytes; more is an error). */
export function decodeHeader(b: Buffer, name: string): ObjectHeader {
  const bad = (why: string): AgentError => new AgentError(`object "${name}" is not a dp-agent object or its header is corrupt (${why})`);
  if (b.length < HEADER_LEN) throw bad("too short");
  if (!b.subarray(0, 4).equals(MAGIC)) throw bad("bad magic");
  const version = b.readUInt8(4);
  if (!READ_VERSIONS.includes(version)) throw bad(`unsupported version ${version}`);
  const compression = COMPRESSIONS[b.readUInt8(5)];
  const encryption = ENCRYPTIONS[b.readUInt8(6)];
  const kdf = KDFS[b.readUInt8(7)];
  const chunkSize = b.readUInt32BE(8);
  if (!compression || !encryption || !kdf) throw bad("unknown compression/encryption");
  if ((encryption === "none") !== (kdf === "none")) throw bad("inconsistent encryption fields");
  if (chunkSize < 1 || chunkSize > 64 * 1024 * 1024) throw bad(`chunk size ${chunkSize}`);
  let checksum: ObjectChecksum = version === 2 ? "sha256" : version === 3 ? "sha256-chunked" : "sha256-tags";
  let backupId: string | undefined;
  if (version === BOUND_VERSION) {
    if (b.length < HEADER_LEN + 2 || b.length !== headerLength(b)) throw bad("truncated backup id");
    const sum = V5_CHECKSUMS[b.readUInt8(HEADER_LEN)];
    if (!sum) throw bad("unknown checksum");
    checksum = sum;
    backupId = b.subarray(HEADER_LEN + 2).toString("latin1");
    if (!BACKUP_ID_RE.test(backupId)) throw bad("bad backup id");
  } else if (b.length !== HEADER_LEN) throw bad("too long");
  return {
    version,
    checksum,
    ...(backupId !== undefined ? { backupId } : {}),
    compression,
    encryption,
    kdf,
    chunkSize,
    salt: Buffer.from(b.subarray(12, 28)),
    keyCheck: Buffer.from(b.subarray(28, 36)),
  };
}
