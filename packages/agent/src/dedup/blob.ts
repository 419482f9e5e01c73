// A blob is one chunk as stored: compressed (zstd, only when that shrinks it), then sealed
// (seal.ts) with its type, flags and id as AAD. Whoever reads it needs those and its plaintext
// length (from the index), and gets the plaintext or an error, never unverified bytes.
import { createRequire } from "node:module";
import type { CCtx, DCtx } from "zstd-napi/binding.js";
import { type BlobType, FLAG_ZSTD, blobAad } from "./format.ts";
import type { PatchRef } from "./packfile.ts";
import type { Sealer } from "./seal.ts";

// The one-shot binding, as chunks/codec.ts uses it: our buffers, no stream machinery.
const zstd = createRequire(import.meta.url)("zstd-napi/binding.js") as typeof import("zstd-napi/binding.js");

/** Why a blob did not open; callers name the chunk and pack. */
export class BlobError extends Error {
  constructor(readonly why: "auth" | "decompress" | "length", message: string) {
    super(message);
  }
}

export interface BlobRef {
  type: BlobType;
  flags: number;
  id: Buffer;
  rawLength: number;
  /** A patch blob's base and chunk length (packfile.ts). */
  patch?: PatchRef;
}

export interface EncodedBlob {
  sealed: Buffer;
  flags: number;
}

export class BlobCodec {
  private cctx?: CCtx;
  private dctx?: DCtx;
  private scratch?: Buffer;

  /** `level`: zstd level, or 0 for no compression. */
  constructor(
    readonly sealer: Sealer,
    readonly level: number,
  ) {}

  encode(type: BlobType, id: Buffer, plain: Uint8Array): EncodedBlob {
    const { payload, flags } = this.compressed(plain);
    return { sealed: this.sealer.seal(blobAad(type, flags, id), payload), flags };
  }

  /**
   * encode() into `out` (at least plain + sealer overhead bytes), which may hold `plain` where
   * the sealed payload goes (from `sealer.prefix` on: encoders.ts, one region holds a blob before
   * and after): a chunk that does not compress is then sealed in place, not copied first.
   * Returns the sealed length and flags.
   */
  encodeInto(type: BlobType, id: Buffer, plain: Uint8Array, out: Buffer): { length: number; flags: number } {
    const { payload, flags } = this.compressed(plain);
    return { length: this.sealer.sealInto(blobAad(type, flags, id), payload, out), flags };
  }

  // The zstd frame when it is smaller than `plain` (a view of scratch, valid until the next call), else `plain`.
  private compressed(plain: Uint8Array): { payload: Uint8Array; flags: number } {
    if (this.level > 0 && plain.length > 0) {
      const bound = zstd.compressBound(plain.length);
      if (!this.scratch || this.scratch.length < bound) this.scratch = Buffer.allocUnsafe(bound);
      const n = (this.cctx ??= new zstd.CCtx()).compress(this.scratch, plain, this.level);
      if (n < plain.length) return { payload: this.scratch.subarray(0, n), flags: FLAG_ZSTD };
    }
    return { payload: plain, flags: 0 };
  }

  decode(ref: BlobRef, sealed: Uint8Array): Buffer {
    const payload = this.sealer.open(blobAad(ref.type, ref.flags, ref.id), sealed);
    if (!payload) throw new BlobError("auth", this.sealer.encrypted ? "authentication failed" : "checksum mismatch");
    if (!(ref.flags & FLAG_ZSTD)) {
      if (payload.length !== ref.rawLength) throw new BlobError("length", `${payload.length} bytes where the index says ${ref.rawLength}`);
      return payload;
    }
    const out = Buffer.allocUnsafe(ref.rawLength);
    let n: number;
    try {
      n = (this.dctx ??= new zstd.DCtx()).decompress(out, payload);
    } catch (err) {
      throw new BlobError("decompress", err instanceof Error ? err.message : String(err));
    }
    if (n !== ref.rawLength) throw new BlobError("length", `${n} bytes where the index says ${ref.rawLength}`);
    return out;
  }
}
