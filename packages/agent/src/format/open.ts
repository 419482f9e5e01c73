import { Transform, type TransformCallback } from "node:stream";
import { AgentError } from "../errors.ts";
import { FLAG_FINAL, FRAME_HEAD, type FrameCodec, TRAILER_LEN, decodeTrailer } from "./frames.ts";

/**
 * Reads frames (after the header), verifies each one completely before pushing its
 * payload on, and records the trailer. Fails naming the object and the chunk on a
 * bad tag, a truncated object, or bytes after the trailer.
 */
export class Opener extends Transform {
  private parts: Buffer[] = [];
  private have = 0;
  private index = 0;
  private done = false;
  trailer?: { size: number; sha256: string };

  constructor(
    private readonly name: string,
    private readonly codec: FrameCodec,
    private readonly chunkSize: number,
  ) {
    super({ readableHighWaterMark: 2 * chunkSize });
  }

  private takeBytes(n: number): Buffer {
    // Fast path: the bytes sit in the first buffered piece.
    const first = this.parts[0];
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.parts.shift();
      else this.parts[0] = first.subarray(n);
      this.have -= n;
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let off = 0;
    while (off < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - off);
      p.copy(out, off, 0, k);
      off += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.have -= n;
    return out;
  }

  private peekHead(): { flags: number; len: number } {
    const h = this.parts[0].length >= FRAME_HEAD ? this.parts[0] : Buffer.concat(this.parts).subarray(0, FRAME_HEAD);
    return { flags: h.readUInt8(0), len: h.readUInt32BE(1) };
  }

  private corrupt(why: string): AgentError {
    return new AgentError(`object "${this.name}" is corrupt at chunk ${this.index} (${why})`);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.done) {
      if (chunk.length > 0) return cb(this.corrupt("data after the final chunk"));
      return cb();
    }
    this.parts.push(chunk);
    this.have += chunk.length;
    try {
      while (!this.done && this.have >= FRAME_HEAD) {
        const { flags, len } = this.peekHead();
        if (flags & ~FLAG_FINAL) throw this.corrupt("bad frame flags");
        const final = (flags & FLAG_FINAL) !== 0;
        if (final ? len !== TRAILER_LEN : len === 0 || len > this.chunkSize) throw this.corrupt(`bad frame length ${len}`);
        const total = FRAME_HEAD + len + this.codec.tagLen;
        if (this.have < total) break;
        this.takeBytes(FRAME_HEAD);
        const payload = this.takeBytes(len);
        const tag = this.takeBytes(this.codec.tagLen);
        const plain = this.codec.open(this.index, flags, payload, tag);
        if (!plain) throw this.corrupt(this.codec.tagLen === 16 ? "authentication failed" : "checksum mismatch");
        this.index++;
        if (final) {
          this.trailer = decodeTrailer(plain);
          this.done = true;
          if (this.have > 0) throw this.corrupt("data after the final chunk");
        } else {
          this.push(plain);
        }
      }
    } catch (err) {
      return cb(err as Error);
    }
    cb();
  }

  override _flush(cb: TransformCallback): void {
    if (!this.done) return cb(new AgentError(`object "${this.name}" is truncated at chunk ${this.index} (the final chunk is missing)`));
    cb();
  }
}
