import { createCipheriv, createDecipheriv, createHash } from "node:crypto";
import { copyInto } from "../chunks/copy.ts";

/**
 * After the header the object is a sequence of frames:
 *   u8 flags | u32 BE payload length | payload | tag
 * A data frame carries one chunk: up to chunkSize plaintext bytes, compressed on
 * their own (so chunks can be sealed and opened in parallel), or stored as they are
 * (flag RAW) when compression would not shrink them. The last frame (flag FINAL)
 * carries the trailer: u64 plaintext size + the object checksum (chunks/checksum.ts). The tag is the
 * AES-GCM tag (16 B) or, unencrypted, sha256(AAD | payload) (32 B). AAD = header (all of
 * it: with v5, the backup id too) | name | chunk index | flags, so a frame moved, dropped,
 * copied from another object or relabelled (final, raw) fails verification.
 */
export const FRAME_HEAD = 5;
export const FLAG_FINAL = 1;
export const FLAG_RAW = 2;
export const FLAGS = FLAG_FINAL | FLAG_RAW;
export const TRAILER_LEN = 40;
export const GCM_TAG = 16;
export const DIGEST_TAG = 32;
const PIECE = 64 << 10;

export class FrameCodec {
  private readonly aadPrefix: Buffer;
  readonly tagLen: number;

  /** `header`: the object's whole header (format/header.ts headerLength bytes). */
  constructor(
    header: Buffer,
    name: string,
    private readonly key: Buffer | undefined,
  ) {
    const nameBytes = Buffer.from(name, "utf8");
    const len = Buffer.alloc(4);
    len.writeUInt32BE(nameBytes.length);
    this.aadPrefix = Buffer.concat([header, len, nameBytes]);
    this.tagLen = key ? GCM_TAG : DIGEST_TAG;
  }

  private aad(index: number, flags: number): Buffer {
    const tail = Buffer.alloc(9);
    tail.writeBigUInt64BE(BigInt(index));
    tail.writeUInt8(flags, 8);
    return Buffer.concat([this.aadPrefix, tail]);
  }

  private nonce(index: number): Buffer {
    // Unique per (object key, index): the key is per object (random salt), the index counts up.
    const n = Buffer.alloc(12);
    n.writeBigUInt64BE(BigInt(index), 4);
    return n;
  }

  /** Write the whole frame (head, sealed payload, tag) into `out`; returns its length. */
  sealInto(index: number, flags: number, payload: Buffer, out: Buffer): number {
    out.writeUInt8(flags, 0);
    out.writeUInt32BE(payload.length, 1);
    const aad = this.aad(index, flags);
    const end = FRAME_HEAD + payload.length;
    if (!this.key) {
      if (payload.buffer !== out.buffer || payload.byteOffset !== out.byteOffset + FRAME_HEAD) copyInto(payload, out, FRAME_HEAD);
      createHash("sha256").update(aad).update(payload).digest().copy(out, end);
      return end + DIGEST_TAG;
    }
    const c = createCipheriv("aes-256-gcm", this.key, this.nonce(index));
    c.setAAD(aad);
    // In pieces: each output is small enough for malloc to reuse (a fresh 1 MiB buffer per chunk is
    // an mmap, page faults and an munmap, on every thread).
    for (let off = 0; off < payload.length; off += PIECE) copyInto(c.update(payload.subarray(off, off + PIECE)), out, FRAME_HEAD + off);
    c.final();
    c.getAuthTag().copy(out, end);
    return end + GCM_TAG;
  }

  /**
   * Decrypt and verify an encrypted frame's payload into `out` (at least payload-sized); returns
   * its length, or undefined when the frame fails verification (`out` then holds garbage that
   * must not be used).
   */
  openInto(index: number, flags: number, payload: Buffer, tag: Buffer, out: Buffer): number | undefined {
    if (!this.key) throw new Error("internal: openInto needs an encrypted object");
    const d = createDecipheriv("aes-256-gcm", this.key, this.nonce(index));
    d.setAAD(this.aad(index, flags));
    d.setAuthTag(tag);
    for (let off = 0; off < payload.length; off += PIECE) copyInto(d.update(payload.subarray(off, off + PIECE)), out, off);
    try {
      d.final();
    } catch {
      return undefined;
    }
    return payload.length;
  }

  /** The verified plaintext payload, or undefined when the frame fails verification. */
  open(index: number, flags: number, payload: Buffer, tag: Buffer): Buffer | undefined {
    const aad = this.aad(index, flags);
    if (!this.key) {
      const d = createHash("sha256").update(aad).update(payload).digest();
      return d.equals(tag) ? payload : undefined;
    }
    const d = createDecipheriv("aes-256-gcm", this.key, this.nonce(index));
    d.setAAD(aad);
    d.setAuthTag(tag);
    const out = d.update(payload);
    try {
      d.final();
    } catch {
      return undefined;
    }
    return out;
  }
}

export function encodeTrailer(size: number, sha256: Buffer): Buffer {
  const t = Buffer.alloc(TRAILER_LEN);
  t.writeBigUInt64BE(BigInt(size));
  sha256.copy(t, 8);
  return t;
}

export function decodeTrailer(t: Buffer): { size: number; sha256: string } {
  return { size: Number(t.readBigUInt64BE(0)), sha256: t.subarray(8, 40).toString("hex") };
}
