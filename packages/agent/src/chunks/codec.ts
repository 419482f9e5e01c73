import { constants as zlib, gunzipSync, gzipSync } from "node:zlib";
import { createRequire } from "node:module";
import type { CCtx, DCtx } from "zstd-napi/binding.js";
import { FLAG_RAW, FRAME_HEAD, FrameCodec } from "../format/frames.ts";
import type { Compression } from "../format/header.ts";
import { chunkDigest } from "./checksum.ts";
import type { Job } from "./pool.ts";
import { copyInto } from "./copy.ts";

// The low-level binding: one-shot (de)compression into our own buffers, no stream machinery.
const zstd = createRequire(import.meta.url)("zstd-napi/binding.js") as typeof import("zstd-napi/binding.js");

/** What sealing or opening a chunk needs; plain data, so it can be sent to a worker thread. */
export interface ChunkSpec {
  header: Buffer;
  name: string;
  /** The per-object AES key, or undefined for unencrypted objects. */
  key?: Buffer;
  compression: Compression;
  level?: number;
  chunkSize: number;
  /** Also return each chunk's plaintext sha256 (format v3's chunked checksum). */
  digests?: boolean;
}

/** Why a chunk did not open; the caller turns it into a message naming the object and chunk. */
export class ChunkError extends Error {
  constructor(readonly why: "auth" | "decompress" | "internal", message: string) {
    super(message);
  }
}

/** The largest frame a chunk becomes: compressed chunks are never larger than raw ones. */
export function maxFrame(chunkSize: number): number {
  return FRAME_HEAD + chunkSize + 32;
}

/** Compresses, seals, opens and decompresses single chunks; one per thread (it keeps zstd contexts). */
export class ChunkCodec {
  readonly frames: FrameCodec;
  private cctx?: CCtx;
  private dctx?: DCtx;
  private scratch?: Buffer;
  private openScratch?: Buffer;

  constructor(readonly spec: ChunkSpec) {
    this.frames = new FrameCodec(spec.header, spec.name, spec.key);
  }

  /** Seal plaintext chunk `index` as a whole frame into `out` (maxFrame bytes); returns the frame length. */
  seal(index: number, plain: Buffer, out: Buffer): number {
    const packed = this.compress(plain);
    return packed && packed.length < plain.length ? this.frames.sealInto(index, 0, packed, out) : this.frames.sealInto(index, this.spec.compression === "none" ? 0 : FLAG_RAW, plain, out);
  }

  /** Verify frame `index` and write its plaintext into `out` (chunkSize bytes); returns its length. */
  open(index: number, flags: number, payload: Buffer, tag: Buffer, out: Buffer): number {
    const raw = (flags & FLAG_RAW) !== 0 || this.spec.compression === "none";
    if (payload.length > out.length) throw new ChunkError("decompress", `chunk of ${payload.length} bytes is larger than the chunk size`);
    const authFailed = (): ChunkError => new ChunkError("auth", this.frames.tagLen === 16 ? "authentication failed" : "checksum mismatch");
    let plain: Buffer;
    if (this.spec.key) {
      // Decrypted straight into place (a raw chunk into `out`), released only once the tag verified.
      const dst = raw ? out : (this.openScratch ??= Buffer.allocUnsafe(this.spec.chunkSize));
      const n = this.frames.openInto(index, flags, payload, tag, dst);
      if (n === undefined) throw authFailed();
      if (raw) return n;
      plain = dst.subarray(0, n);
    } else {
      const p = this.frames.open(index, flags, payload, tag);
      if (!p) throw authFailed();
      if (raw) return copyInto(p, out);
      plain = p;
    }
    try {
      if (this.spec.compression === "zstd") return (this.dctx ??= new zstd.DCtx()).decompress(out, plain);
      const b = gunzipSync(plain, { maxOutputLength: out.length });
      return copyInto(b, out);
    } catch (err) {
      throw new ChunkError("decompress", err instanceof Error ? err.message : String(err));
    }
  }

  // The compressed chunk (in a scratch buffer), or undefined when not compressing.
  private compress(plain: Buffer): Buffer | undefined {
    switch (this.spec.compression) {
      case "none":
        return undefined;
      case "zstd": {
        this.cctx ??= new zstd.CCtx();
        this.scratch ??= Buffer.allocUnsafe(zstd.compressBound(this.spec.chunkSize));
        return this.scratch.subarray(0, this.cctx.compress(this.scratch, plain, this.spec.level ?? 3));
      }
      case "gzip":
        return gzipSync(plain, { level: this.spec.level ?? 6, strategy: zlib.Z_DEFAULT_STRATEGY });
    }
  }
}

/** A sealed or opened chunk: the output length and, with spec.digests, the plaintext's sha256. */
export interface ChunkResult {
  len: number;
  digest?: Uint8Array;
}

/** Seal or open one chunk (on whichever thread); with spec.digests, hash the plaintext too. */
export function runJob(codec: ChunkCodec, input: Buffer, output: Buffer, job: Job): ChunkResult {
  if (job.op === "seal") {
    const len = codec.seal(job.index, input.subarray(0, job.len), output);
    return { len, digest: codec.spec.digests ? chunkDigest(input.subarray(0, job.len)) : undefined };
  }
  const tag = codec.frames.tagLen;
  const len = codec.open(job.index, job.flags, input.subarray(0, job.len), input.subarray(job.len, job.len + tag), output);
  return { len, digest: codec.spec.digests ? chunkDigest(output.subarray(0, len)) : undefined };
}
