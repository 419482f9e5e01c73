import type { ChunkSpec } from "./codec.ts";
import { ChunkPool } from "./pool.ts";

/**
 * Lends chunk pools to the objects of one command, one object at a time, so their threads start
 * once per command instead of once per object. A pool comes back only if it is idle (every slot
 * returned, nothing in flight, no failure) and is handed out again only for the same shape
 * (threads, slot count and sizes); anything else gets a fresh pool. `close` ends them all.
 */
export class PoolLender {
  private readonly spares: ChunkPool[] = [];

  /** Spares kept: one per object read at once (pull-log reads two). */
  constructor(private readonly keep = 2) {}

  lend(spec: ChunkSpec, threads: number, count: number, inSize: number, outSize: number): ChunkPool {
    const i = this.spares.findIndex((p) => p.idle && p.threads === threads && p.count === count && p.inSize === inSize && p.outSize === outSize);
    if (i >= 0) {
      const [p] = this.spares.splice(i, 1);
      p!.retarget(spec);
      return p!;
    }
    return new ChunkPool(spec, threads, count, inSize, outSize);
  }

  /** Take a pool back after its object; one that is not idle is closed, and so is the oldest spare beyond `keep`. */
  async giveBack(pool: ChunkPool): Promise<void> {
    if (!pool.idle) return pool.close();
    this.spares.push(pool);
    while (this.spares.length > this.keep) await this.spares.shift()!.close();
  }

  async close(): Promise<void> {
    await Promise.all(this.spares.splice(0).map((p) => p.close()));
  }
}
