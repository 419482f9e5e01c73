// Sealing: everything a dedup repo stores except its config goes through here.
//   encrypted:   nonce (12 random bytes) | AES-256-GCM ciphertext | tag (16)
//   unencrypted: payload | sha256(AAD | payload) (32): integrity against accidents, not writers
// One key (keys.ts "data") seals everything; the AAD names what a sealed thing is and which one
// (format.ts), so nothing can be passed off as something else. Random nonces, not counters:
// blobs are written by any number of backups over the repo's life and move between packs
// unchanged (a later prune copies them without re-encrypting). NIST's bound for random 96-bit
// nonces, 2^32 seals per key, is ~4 billion chunks: some PiB at 512 KiB chunks.
import { createCipheriv, createDecipheriv, createHash, randomFillSync } from "node:crypto";

export const NONCE_LEN = 12;
export const TAG_LEN = 16;
export const DIGEST_LEN = 32;
// Cipher output in pieces small enough for malloc to reuse (as format/frames.ts does).
const PIECE = 64 << 10;

export class Sealer {
  readonly overhead: number;
  /** Where the payload starts in what is sealed (after the nonce): a payload placed there is sealed in place. */
  readonly prefix: number;

  constructor(private readonly key: Buffer | undefined) {
    this.overhead = key ? NONCE_LEN + TAG_LEN : DIGEST_LEN;
    this.prefix = key ? NONCE_LEN : 0;
  }

  get encrypted(): boolean {
    return this.key !== undefined;
  }

  seal(aad: Buffer, payload: Uint8Array): Buffer {
    const out = Buffer.allocUnsafe(payload.length + this.overhead);
    this.sealInto(aad, payload, out);
    return out;
  }

  /**
   * Seal into `out` (at least payload + overhead bytes); returns the sealed length. `payload`
   * either does not overlap `out` or is where the sealed payload goes (`out` from `prefix` on):
   * each piece is then encrypted over itself, after it was read.
   */
  sealInto(aad: Buffer, payload: Uint8Array, out: Buffer): number {
    const n = payload.length + this.overhead;
    if (out.length < n) throw new RangeError(`internal: ${out.length} bytes to seal ${payload.length} into`);
    const inPlace = payload.buffer === out.buffer && payload.byteOffset === out.byteOffset + this.prefix;
    if (!inPlace && payload.buffer === out.buffer && payload.byteOffset < out.byteOffset + n && out.byteOffset < payload.byteOffset + payload.length) {
      throw new RangeError("internal: a payload that overlaps where it is sealed, not in place");
    }
    if (!this.key) {
      if (!inPlace) out.set(payload, 0);
      createHash("sha256").update(aad).update(payload).digest().copy(out, payload.length);
      return n;
    }
    const nonce = randomFillSync(out, 0, NONCE_LEN).subarray(0, NONCE_LEN);
    const c = createCipheriv("aes-256-gcm", this.key, nonce);
    c.setAAD(aad);
    for (let off = 0; off < payload.length; off += PIECE) c.update(payload.subarray(off, off + PIECE)).copy(out, NONCE_LEN + off);
    c.final();
    c.getAuthTag().copy(out, NONCE_LEN + payload.length);
    return n;
  }

  /**
   * The verified payload, or undefined when `sealed` does not verify under `aad`. Unencrypted,
   * the payload is a view of `sealed`.
   */
  open(aad: Buffer, sealed: Uint8Array): Buffer | undefined {
    if (sealed.length < this.overhead) return undefined;
    const n = sealed.length - this.overhead;
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length);
    if (!this.key) {
      const payload = b.subarray(0, n);
      return createHash("sha256").update(aad).update(payload).digest().equals(b.subarray(n)) ? payload : undefined;
    }
    const d = createDecipheriv("aes-256-gcm", this.key, b.subarray(0, NONCE_LEN));
    d.setAAD(aad);
    d.setAuthTag(b.subarray(NONCE_LEN + n));
    const out = Buffer.allocUnsafe(n);
    for (let off = 0; off < n; off += PIECE) d.update(b.subarray(NONCE_LEN + off, NONCE_LEN + Math.min(n, off + PIECE))).copy(out, off);
    try {
      d.final();
    } catch {
      return undefined;
    }
    return out;
  }
}
