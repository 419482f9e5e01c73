import type { ChunkSpec } from "./codec.ts";
import { ChunkPool } from "./pool.ts";

/**
 * Lends chunk pools to the objects of one command, one object at a time, so their threads start
 * once per command instead of once per object. A pool comes back only if it is idle (every slot
 * returned, nothing in flight, no failure) and is handed out again only for the same shape
 * (threads, slot count and sizes); anything else gets a fresh pool. `close` ends them all.
 */
export class PoolLender {
  private spare?: ChunkPool;

  lend(spec: ChunkSpec, threads: number, count: number, inSize: number, outSize: number): ChunkPool {
    const p = this.spare;
    this.spare = undefined;
    if (p && p.idle && p.threads === threads && p.count === count && p.inSize === inSize && p.outSize === outSize) {
      p.retarget(spec);
      return p;
    }
    if (p) void p.close();
    return new ChunkPool(spec, threads, count, inSize, outSize);
  }

  /** Take a pool back after its object; one that is not idle is closed. */
  async giveBack(pool: ChunkPool): Promise<void> {
    if (!pool.idle) return pool.close();
    const old = this.spare;
    this.spare = pool;
    if (old && old !== pool) await old.close();
  }

  async close(): Promise<void> {
    const p = this.spare;
    this.spare = undefined;
    await p?.close();
  }
}
