import { AgentError } from "../errors.ts";

/**
 * Object header, 36 bytes, written once at the start of every stored object:
 *   0  "DPAG"  magic
 *   4  u8      format version, which also names the trailer checksum (chunks/checksum.ts); the
 *              frames are the same in all three: 2: sha256 of the plaintext; 3: "sha256-chunked";
 *              4: "sha256-tags". Written: 4 (3 on request); read: 2, 3 and 4.
 *   5  u8      compression (0 none, 1 zstd, 2 gzip)
 *   6  u8      encryption (0 none, 1 AES-256-GCM)
 *   7  u8      key derivation (0 none, 1 raw 32-byte key, 2 scrypt passphrase)
 *   8  u32 BE  chunk size: the most plaintext bytes one chunk (frame) carries
 *  12  16 B    random per-object salt (HKDF/scrypt salt)
 *  28  8 B     key check: first 8 bytes of HMAC(objectKey, "key check"), zero when unencrypted
 * The whole header is part of every chunk's AAD / digest, so editing it breaks chunk 0.
 */
export const MAGIC = Buffer.from("DPAG");
export const FORMAT_VERSION = 4;
/** Versions this reader still reads. */
export const READ_VERSIONS = [2, 3, 4];
export const HEADER_LEN = 36;

export const COMPRESSIONS = ["none", "zstd", "gzip"] as const;
export type Compression = (typeof COMPRESSIONS)[number];
export const ENCRYPTIONS = ["none", "aes-256-gcm"] as const;
export type Encryption = (typeof ENCRYPTIONS)[number];
export const KDFS = ["none", "raw", "scrypt"] as const;
export type Kdf = (typeof KDFS)[number];

export interface ObjectHeader {
  /** Set when decoding; encodeHeader writes it, or FORMAT_VERSION when absent. */
  version?: number;
  compression: Compression;
  encryption: Encryption;
  kdf: Kdf;
  chunkSize: number;
  salt: Buffer;
  keyCheck: Buffer;
}

export function encodeHeader(h: ObjectHeader): Buffer {
  const b = Buffer.alloc(HEADER_LEN);
  MAGIC.copy(b, 0);
  b.writeUInt8(h.version ?? FORMAT_VERSION, 4);
  b.writeUInt8(COMPRESSIONS.indexOf(h.compression), 5);
  b.writeUInt8(ENCRYPTIONS.indexOf(h.encryption), 6);
  b.writeUInt8(KDFS.indexOf(h.kdf), 7);
  b.writeUInt32BE(h.chunkSize, 8);
  h.salt.copy(b, 12, 0, 16);
  h.keyCheck.copy(b, 28, 0, 8);
  return b;
}

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
  return {
    version,
    compression,
    encryption,
    kdf,
    chunkSize,
    salt: Buffer.from(b.subarray(12, 28)),
    keyCheck: Buffer.from(b.subarray(28, 36)),
  };
}
