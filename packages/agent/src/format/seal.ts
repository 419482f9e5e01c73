import { Transform, type TransformCallback } from "node:stream";
import { FLAG_FINAL, type FrameCodec, encodeTrailer } from "./frames.ts";

/** Plaintext size and sha256, filled in by the hash tap before the sealer's flush runs. */
export interface PlainStats {
  size: number;
  sha256?: Buffer;
}

/**
 * Cuts the compressed stream into frames of chunkSize bytes, seals each, and ends
 * with the authenticated trailer. Emits the header first.
 */
export class Sealer extends Transform {
  private buf: Buffer;
  private fill = 0;
  private index = 0;
  stored = 0;

  /** Frames written so far, the trailer included. */
  get chunks(): number {
    return this.index;
  }

  constructor(
    private readonly header: Buffer,
    private readonly codec: FrameCodec,
    private readonly chunkSize: number,
    private readonly stats: PlainStats,
  ) {
    super({ readableHighWaterMark: 2 * chunkSize });
    this.buf = Buffer.allocUnsafe(chunkSize);
    this.out(header);
  }

  private out(b: Buffer): void {
    this.stored += b.length;
    this.push(b);
  }

  private emit1(flags: number, payload: Buffer): void {
    const [sealed, tag] = this.codec.seal(this.index++, flags, payload);
    this.out(this.codec.frameHead(flags, sealed.length));
    this.out(sealed);
    this.out(tag);
  }

  private emitData(): void {
    if (this.fill === 0) return;
    const payload = this.buf.subarray(0, this.fill);
    // A fresh buffer per frame: the sealed payload may alias it when unencrypted.
    this.buf = Buffer.allocUnsafe(this.chunkSize);
    this.fill = 0;
    this.emit1(0, payload);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, this.chunkSize - this.fill);
      chunk.copy(this.buf, this.fill, off, off + n);
      this.fill += n;
      off += n;
      if (this.fill === this.chunkSize) this.emitData();
    }
    done();
  }

  override _flush(done: TransformCallback): void {
    this.emitData();
    if (!this.stats.sha256) return done(new Error("internal: plaintext digest missing at end of stream"));
    this.emit1(FLAG_FINAL, encodeTrailer(this.stats.size, this.stats.sha256));
    done();
  }
}
