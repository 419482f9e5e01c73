import { createHash } from "node:crypto";

/**
 * The object checksum of format v3, "sha256-chunked": sha256 over the concatenated 32-byte
 * sha256 digests of the plaintext chunks in order (chunk size from the object header), so
 * every chunk is hashed on the thread that seals or opens it, in parallel, instead of one
 * thread hashing the whole stream. An object of at most one chunk has the plain sha256 of
 * its plaintext (a one-leaf list's root is the leaf), so small objects still match sha256sum.
 */
export class ChunkedSha256 {
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
