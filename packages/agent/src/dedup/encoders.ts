// Encodes new blobs (compresses, then seals: blob.ts) on worker threads while the main thread
// reads, cuts and names chunks. On one thread, zstd alone was ~45% of a first backup's CPU (log
// text compresses at ~260 MB/s at level 3; random data passes at ~7 GB/s) and the whole backup
// ran at half the speed of `tar | zstd -T0`. A blob's plaintext is copied into a region of a
// ring of shared memory (ring.ts) as large as the blob sealed, and a thread seals it there in
// place: the ring bounds the memory in flight, and the caller holds the region until it has taken
// the sealed bytes.
// The first blob is encoded inline, so a backup of one chunk (and every tree-only backup) starts
// no thread. While the ring is full the caller's thread encodes a few blobs itself rather than
// wait (log text: the threads are the bottleneck), and a blob may be sent unnamed, to be named
// on the thread as well (random data: the caller's cutting and naming are; content.ts).
// Hand-run, the standard dataset at 2 GiB, 2 cores, one thread: the first backup took 6.4-6.8 s
// with both where it took 7.8-9.9 s without (the agent README).
import type { Worker } from "node:worker_threads";
import type { BlobCodec } from "./blob.ts";
import type { BlobType } from "./format.ts";
import { chunkId } from "./ids.ts";
import { type Region, Ring } from "./ring.ts";
import { churned } from "../chunks/gc.ts";
import { Replies, startPoolWorker } from "../workers.ts";

/** Blobs encoded on the caller's thread while the ring is full (encodeHere), at most, until released. */
const MAX_HERE = 2;

/** What a worker is asked: encode the `len` bytes at `offset` + the seal's prefix, in place (`len` + the seal's overhead from `offset` are the caller's). */
export interface EncodeJob {
  id: number;
  offset: number;
  type: BlobType;
  /** The chunk's id; absent: the thread names it and replies with it. */
  chunk?: Uint8Array;
  len: number;
}
export type EncodeReply = { id: number; length: number; flags: number; chunk?: Uint8Array } | { id: number; message: string };

/** One blob being encoded. `release` gives its memory back: call it once `sealed` is no longer needed. */
export interface Encoding {
  done: Promise<{ sealed: Buffer; flags: number; id: Buffer }>;
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
  private readonly replies: Replies<{ length: number; flags: number; chunk?: Uint8Array }>;
  private submitted = 0;
  /** Blobs encoded on the caller's thread because the ring was full, not yet released. */
  private hereNow = 0;
  private readonly here: number;
  private readonly spare: Buffer[] = [];
  private failure?: Error;

  /**
   * `codec`: the repo's (its level; what is encoded inline); `key`: its data key (none:
   * unencrypted); `idKey`: its id key (keys.ts); `inSize`: the largest plaintext sent to a thread
   * (larger blobs are encoded inline); `bytes`: the shared memory, by default room for two of the
   * largest (~8 average chunks); `here`: blobs encoded on the caller's thread while the shared
   * memory is full, at most, until released (encodeHere; default MAX_HERE).
   */
  constructor(
    private readonly codec: BlobCodec,
    private readonly key: Buffer | undefined,
    private readonly idKey: Buffer,
    readonly threads: number,
    readonly inSize: number,
    opts: { bytes?: number; here?: number } = {},
  ) {
    this.overhead = codec.sealer.overhead;
    this.here = opts.here ?? MAX_HERE;
    this.memory = new SharedArrayBuffer(threads > 0 ? (opts.bytes ?? 2 * (inSize + this.overhead)) : 0);
    this.ring = new Ring(Math.max(1, this.memory.byteLength));
    this.replies = new Replies(threads);
  }

  /**
   * Start encoding a blob of `type` from `plain`; `id` undefined: the thread names it too
   * (chunkId under the id key), so this thread only cuts. Resolves once `plain` has been copied
   * (the caller may reuse it then): at once when there is room, else when enough is released.
   */
  async submit(type: BlobType, id: Buffer | undefined, plain: Uint8Array): Promise<Encoding> {
    if (this.failure) throw this.failure;
    const n = plain.length + this.overhead;
    if (this.threads === 0 || this.submitted++ === 0 || plain.length > this.inSize || n > this.ring.size) {
      const named = id ?? chunkId(this.idKey, plain);
      const e = this.codec.encode(type, named, plain);
      churned(plain.length);
      return { done: Promise.resolve({ ...e, id: named }), release: () => undefined };
    }
    let region: Region | undefined;
    while (!(region = this.ring.take(n))) {
      if (this.hereNow < this.here) return this.encodeHere(type, id, plain);
      await new Promise<void>((r) => this.waiters.push(r));
      if (this.failure) throw this.failure;
    }
    const bytes = Buffer.from(this.memory, region.start, n);
    bytes.set(plain, this.codec.sealer.prefix); // where it is sealed in place, if it does not compress
    const workers = (this.workers ??= this.start());
    const job = this.replies.add();
    workers[job.worker]!.postMessage({ id: job.id, offset: region.start, type, ...(id ? { chunk: new Uint8Array(id) } : {}), len: plain.length } satisfies EncodeJob);
    let released = false;
    const encoded = job.reply.then((r) => ({ sealed: bytes.subarray(0, r.length), flags: r.flags, id: id ?? Buffer.from(r.chunk!) }));
    encoded.catch(() => undefined); // the caller awaits it later, maybe after it failed
    return {
      done: encoded,
      release: () => {
        if (released) return;
        released = true;
        this.ring.give(region);
        this.wake();
      },
    };
  }

  // The threads are behind (log text compresses at a quarter of the speed this thread cuts and
  // names it): encode on this thread rather than wait for room, into a buffer kept for the next
  // (a Buffer per blob cost ~25 MiB of peak RSS).
  private encodeHere(type: BlobType, id: Buffer | undefined, plain: Uint8Array): Encoding {
    this.hereNow++;
    const out = this.spare.pop() ?? Buffer.allocUnsafe(this.inSize + this.overhead);
    const named = id ?? chunkId(this.idKey, plain);
    const { length, flags } = this.codec.encodeInto(type, named, plain, out);
    churned(plain.length);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.hereNow--;
      this.spare.push(out);
      this.wake();
    };
    return { done: Promise.resolve({ sealed: out.subarray(0, length), flags, id: named }), release };
  }

  // Each waiter tries again (sizes differ: the first may still not fit where a later would).
  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private start(): Worker[] {
    const workers: Worker[] = [];
    for (let i = 0; i < this.threads; i++) {
      const data = { ...(this.key ? { key: this.key } : {}), idKey: this.idKey, level: this.codec.level, memory: this.memory, overhead: this.overhead };
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
