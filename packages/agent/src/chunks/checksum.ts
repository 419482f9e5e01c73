import { createHash } from "node:crypto";

/**
 * The object checksums dp-agent writes (trailer, manifest `sha256`, termination `checksum`):
 * - "sha256-tags" (format v4, the default): sha256 over the concatenated tags of the data
 *   frames, in order: the 16-byte AES-GCM tags of an encrypted object, the 32-byte
 *   sha256(AAD | payload) digests of an unencrypted one. Each tag already authenticates its
 *   chunk (bytes, index, object header and name), so this commits to the whole stored object
 *   at the cost of hashing 16-32 bytes per chunk instead of every plaintext byte again: the
 *   plaintext sha256 was ~1.6-2 s of CPU per 2 GiB pushed, a third of push's user time. It is
 *   not a function of the plaintext alone (the per-object salt and key enter every tag), so two
 *   backups of the same data have different checksums.
 * - "sha256-chunked" (format v3, DP_CHECKSUM=sha256-chunked): sha256 over the concatenated
 *   32-byte sha256 digests of the plaintext chunks in order; an object of at most one chunk has
 *   the plain sha256 of its plaintext (a one-leaf list's root is the leaf). Equal data, equal
 *   checksum; each chunk is hashed on the thread that seals or opens it.
 * - "sha256" (format v2, read only): sha256 of the plaintext, kept by one thread in order.
 * Format v5 (an object bound to a backup) carries either of the first two: its header says which
 * (format/header.ts).
 */
export const CHECKSUMS = ["sha256-tags", "sha256-chunked"] as const;
export type ChecksumAlgorithm = (typeof CHECKSUMS)[number];

/** A running object checksum fed chunk by chunk, in order. */
export interface ChunkChecksum {
  /** Add the next data frame: its plaintext sha256 (chunked) or its tag (tags). */
  add(bytes: Uint8Array): void;
  digest(): string;
}

/** sha256-tags: sha256 over the data frames' tags. */
export class TagSha256 implements ChunkChecksum {
  private readonly hash = createHash("sha256");

  add(tag: Uint8Array): void {
    this.hash.update(tag);
  }

  digest(): string {
    return this.hash.digest("hex");
  }
}

/** sha256-chunked: sha256 over the chunks' plaintext sha256 digests (one chunk: its digest). */
export class ChunkedSha256 implements ChunkChecksum {
  private readonly list = createHash("sha256");
  private first?: Buffer;
  private count = 0;

  /** Add the next chunk's digest (in chunk order). */
  add(digest: Uint8Array): void {
    if (this.count++ === 0) this.first = Buffer.from(digest);
    this.list.update(digest);
  }

  digest(): string {
    if (this.count === 0) return createHash("sha256").digest("hex");
    if (this.count === 1) return this.first!.toString("hex");
    return this.list.digest("hex");
  }
}

/** sha256 of one chunk's bytes. */
export function chunkDigest(bytes: Uint8Array): Buffer {
  return createHash("sha256").update(bytes).digest();
}
