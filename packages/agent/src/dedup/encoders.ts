// Encodes new blobs (compresses, then seals: blob.ts) on worker threads while the main thread
// reads, cuts and names chunks. On one thread, zstd alone was ~45% of a first backup's CPU (log
// text compresses at ~260 MB/s at level 3; random data passes at ~7 GB/s) and the whole backup
// ran at half the speed of `tar | zstd -T0`. A blob's plaintext is copied into a region of a
// ring of shared memory (ring.ts) as large as the blob sealed, and a thread seals it there in
// place: the ring bounds the memory in flight, and the caller holds the region until it has taken
// the sealed bytes.
// The first blob is encoded inline, so a backup of one chunk (and every tree-only backup) starts
// no thread.
import type { Worker } from "node:worker_threads";
import type { BlobCodec } from "./blob.ts";
import type { BlobType } from "./format.ts";
import { type Region, Ring } from "./ring.ts";
import { churned } from "../chunks/gc.ts";
import { Replies, startPoolWorker } from "../workers.ts";

/** What a worker is asked: encode the `len` bytes at `offset`, in place (`len` + the seal's overhead are the caller's). */
export interface EncodeJob {
  id: number;
  offset: number;
  type: BlobType;
  chunk: Uint8Array;
  len: number;
}
export type EncodeReply = { id: number; length: number; flags: number } | { id: number; message: string };

/** One blob being encoded. `release` gives its memory back: call it once `sealed` is no longer needed. */
export interface Encoding {
  done: Promise<{ sealed: Buffer; flags: number }>;
  release(): void;
}

// In the bundle (dist/dp-agent.js) the worker is dist/dedup-worker.js.
const WORKER_SOURCE = new URL("./encode-worker.ts", import.meta.url);
const WORKER_BUNDLED = new URL("./dedup-worker.js", import.meta.url);

export class BlobEncoders {
  private readonly memory: SharedArrayBuffer;
  private readonly ring: Ring;
  private readonly overhead: number;
  private readonly waiters: (() => void)[] = [];
  private workers?: Worker[];
  private readonly replies: Replies<{ length: number; flags: number }>;
  private submitted = 0;
  private failure?: Error;

  /**
   * `codec`: the repo's (its level; what is encoded inline); `key`: its data key (none:
   * unencrypted); `inSize`: the largest plaintext sent to a thread (larger blobs are encoded
   * inline); `bytes`: the shared memory, by default room for two of the largest (~8 average chunks).
   */
  constructor(
    private readonly codec: BlobCodec,
    private readonly key: Buffer | undefined,
    readonly threads: number,
    readonly inSize: number,
    bytes?: number,
  ) {
    this.overhead = codec.sealer.overhead;
    this.memory = new SharedArrayBuffer(threads > 0 ? (bytes ?? 2 * (inSize + this.overhead)) : 0);
    this.ring = new Ring(Math.max(1, this.memory.byteLength));
    this.replies = new Replies(threads);
  }

  /**
   * Start encoding blob `id` of `type` from `plain`. Resolves once `plain` has been copied (the
   * caller may reuse it then): at once when there is room, else when enough is released.
   */
  async submit(type: BlobType, id: Buffer, plain: Uint8Array): Promise<Encoding> {
    if (this.failure) throw this.failure;
    const n = plain.length + this.overhead;
    if (this.threads === 0 || this.submitted++ === 0 || plain.length > this.inSize || n > this.ring.size) {
      const e = this.codec.encode(type, id, plain);
      churned(plain.length);
      return { done: Promise.resolve(e), release: () => undefined };
    }
    let region: Region | undefined;
    while (!(region = this.ring.take(n)) && !this.failure) await new Promise<void>((r) => this.waiters.push(r));
    if (this.failure || !region) throw this.failure;
    const bytes = Buffer.from(this.memory, region.start, n);
    bytes.set(plain);
    const workers = (this.workers ??= this.start());
    const job = this.replies.add();
    workers[job.worker]!.postMessage({ id: job.id, offset: region.start, type, chunk: new Uint8Array(id), len: plain.length } satisfies EncodeJob);
    let released = false;
    const encoded = job.reply.then((r) => ({ sealed: bytes.subarray(0, r.length), flags: r.flags }));
    encoded.catch(() => undefined); // the caller awaits it later, maybe after it failed
    return {
      done: encoded,
      release: () => {
        if (released) return;
        released = true;
        this.ring.give(region);
        // Each waiter tries again (sizes differ: the first may still not fit where a later would not either).
        for (const w of this.waiters.splice(0)) w();
      },
    };
  }

  private start(): Worker[] {
    const workers: Worker[] = [];
    for (let i = 0; i < this.threads; i++) {
      const data = { ...(this.key ? { key: this.key } : {}), level: this.codec.level, memory: this.memory, overhead: this.overhead };
      workers.push(startPoolWorker<EncodeReply>(WORKER_SOURCE, WORKER_BUNDLED, `dp-dedup-${i}`, data, (r) => this.replies.settle(r.id, "message" in r ? new Error(`dp-agent dedup worker: ${r.message}`) : r), (err) => this.fail(err)));
    }
    return workers;
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.replies.failAll(err);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Stop the threads (what is in flight fails). */
  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = [];
    this.fail(new Error("dp-agent dedup encoders closed"));
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
