import { createHash, type Hash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { PlainStats } from "./format/seal.ts";

/** Passes bytes through while counting them and hashing them with sha256. */
export class HashTap extends Transform {
  private readonly hash: Hash = createHash("sha256");
  readonly stats: PlainStats = { size: 0 };

  constructor() {
    super({ highWaterMark: 1 << 20 });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.stats.size += chunk.length;
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    this.stats.sha256 = this.hash.digest();
    done();
  }
}
