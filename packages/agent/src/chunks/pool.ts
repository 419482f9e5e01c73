import { type Hash, createHash } from "node:crypto";
import type { Worker } from "node:worker_threads";
import { type ChunkResult, type ChunkSpec, ChunkCodec, ChunkError, runJob } from "./codec.ts";
import { churned } from "./gc.ts";
import { Replies, startPoolWorker } from "../workers.ts";

/** A job's memory: `input` (plaintext or a frame's payload|tag) and `output` (frame or plaintext). */
export interface Slot {
  readonly id: number;
  readonly input: Buffer;
  readonly output: Buffer;
}

export type Job = { op: "seal"; index: number; len: number } | { op: "open"; index: number; flags: number; len: number };
/** For the hash thread: add a slot's input or output (or loose bytes) to the running sha256, or finish it. */
export type HashJob = { op: "hash"; slot: number; out: boolean; len: number } | { op: "bytes"; data: Uint8Array } | { op: "digest" };
/** For every worker: the next jobs belong to another object (see ChunkPool.retarget). */
export type SpecJob = { op: "spec"; spec: ChunkSpec };
type Reply = { id: number; len: number; digest?: string; chunk?: Uint8Array } | { id: number; why: ChunkError["why"]; message: string };

// In the bundle (dist/dp-agent.js) the worker is dist/chunk-worker.js.
const WORKER_SOURCE = new URL("./worker.ts", import.meta.url);
const WORKER_BUNDLED = new URL("./chunk-worker.js", import.meta.url);

/**
 * Seals or opens chunks on `threads` worker threads, over a fixed set of slots in
 * shared memory: no buffer is allocated or copied per chunk between threads, and
 * the slots bound the memory in flight. With 0 threads, or for the first job (small
 * objects should not pay for starting threads), the work runs inline.
 *
 * The object's plaintext sha256 is sequential: the first worker also keeps it, taking the
 * chunks in order (a worker handles its messages in order) between its seal/open jobs,
 * so the main thread only moves bytes, and no thread (~12 MiB each) is added for it.
 * The first chunk is copied aside and sent only when a second one follows, so a
 * one-chunk object starts no thread at all.
 */
export class ChunkPool {
  readonly slots: Slot[] = [];
  private readonly free: Slot[];
  private inline: ChunkCodec;
  private workers?: Worker[];
  private readonly replies: Replies<{ len: number; digest?: string; chunk?: Uint8Array }>;
  private failure?: Error;

  constructor(
    private spec: ChunkSpec,
    readonly threads: number,
    readonly count: number,
    readonly inSize: number,
    readonly outSize: number,
  ) {
    const memory = threads > 0 ? new SharedArrayBuffer(count * (inSize + outSize)) : new ArrayBuffer(count * (inSize + outSize));
    for (let i = 0; i < count; i++) {
      const base = i * (inSize + outSize);
      this.slots.push({ id: i, input: Buffer.from(memory, base, inSize), output: Buffer.from(memory, base + inSize, outSize) });
    }
    this.free = [...this.slots].reverse();
    this.inline = new ChunkCodec(spec);
    this.memory = memory;
    this.replies = new Replies(threads);
  }

  private readonly memory: ArrayBufferLike;
  private waiters: (() => void)[] = [];
  private inlineHash?: Hash;
  private hashing = false;
  private firstChunk?: Buffer;
  private hashedChunks = 0;

  take(): Slot | undefined {
    return this.free.pop();
  }

  hasFree(): boolean {
    return this.free.length > 0;
  }

  give(slot: Slot): void {
    this.free.push(slot);
    this.waiters.shift()?.();
  }

  /** Resolves once a slot is free (at once if one is), or when the pool closes. */
  whenFree(): Promise<void> {
    if (this.free.length > 0 || this.failure) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /**
   * Add `len` bytes of the slot's input (or output) to the object's sha256, strictly in
   * call order. The slot must stay untouched until the promise resolves.
   */
  hash(slot: Slot, where: "input" | "output", len: number): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const bytes = slot[where].subarray(0, len);
    if (this.threads === 0) {
      (this.inlineHash ??= createHash("sha256")).update(bytes);
      return Promise.resolve();
    }
    if (this.hashedChunks++ === 0) {
      this.firstChunk = Buffer.from(bytes);
      return Promise.resolve();
    }
    if (!this.hashing) {
      this.workers ??= this.start();
      this.hashing = true;
      const first = this.firstChunk ?? Buffer.alloc(0);
      this.firstChunk = undefined;
      this.toHasher({ op: "bytes", data: first }).catch(() => undefined); // a failure rejects the next call too
    }
    return this.toHasher({ op: "hash", slot: slot.id, out: where === "output", len }).then(() => undefined);
  }

  /** The sha256 (hex) of everything hashed, once the hash thread has caught up. */
  async digest(): Promise<string> {
    if (this.failure) throw this.failure;
    if (!this.hashing) {
      const h = this.inlineHash ?? createHash("sha256");
      if (this.firstChunk) h.update(this.firstChunk);
      return h.digest("hex");
    }
    const r = await this.toHasher({ op: "digest" });
    return r.digest ?? "";
  }

  private toHasher(job: HashJob): Promise<{ len: number; digest?: string }> {
    const workers = this.workers;
    if (!workers || workers.length === 0) return Promise.reject(this.failure ?? new Error("internal: no hash thread"));
    const { id, reply } = this.replies.add(0);
    workers[0].postMessage({ id, ...job });
    return reply;
  }

  get codec(): ChunkCodec {
    return this.inline;
  }

  /** Resolves with the output length (and digest); rejects with a ChunkError when a chunk does not open. */
  run(slot: Slot, job: Job): Promise<ChunkResult> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.threads === 0 || (job.index === 0 && !this.workers)) {
      try {
        return Promise.resolve(this.runInline(slot, job));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const workers = (this.workers ??= this.start());
    const { id, worker, reply } = this.replies.add();
    workers[worker].postMessage({ id, slot: slot.id, ...job });
    return reply.then((r) => ({ len: r.len, digest: r.chunk }));
  }

  private runInline(slot: Slot, job: Job): ChunkResult {
    churned(job.len);
    return runJob(this.inline, slot.input, slot.output, job);
  }

  private start(): Worker[] {
    const workers: Worker[] = [];
    for (let i = 0; i < this.threads; i++) workers.push(this.spawn(i));
    return workers;
  }

  private spawn(i: number): Worker {
    const data = { spec: this.spec, memory: this.memory, inSize: this.inSize, outSize: this.outSize };
    return startPoolWorker<Reply>(WORKER_SOURCE, WORKER_BUNDLED, `dp-chunk-${i}`, data, (r) => this.replies.settle(r.id, "why" in r ? new ChunkError(r.why, r.message) : r), (err) => this.fail(err));
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.replies.failAll(err);
    for (const w of this.waiters.splice(0)) w();
  }

  /**
   * Whether the pool can take another object: nothing in flight, every slot back, no failure.
   * A pool left otherwise (an object abandoned mid-read) is closed, never reused.
   */
  get idle(): boolean {
    return !this.failure && this.replies.size === 0 && this.free.length === this.slots.length;
  }

  /**
   * Use the pool (and its running threads) for another object with the same slot sizes: the
   * threads take the new spec before any later job, as each handles its messages in order.
   * Starting two threads costs ~50 ms of CPU each: paid once, not per object, by commands that
   * read many small objects (pull-log's WAL segments, verify).
   */
  retarget(spec: ChunkSpec): void {
    if (!this.idle) throw new Error("internal: a chunk pool is retargeted while in use");
    this.spec = spec;
    this.inline = new ChunkCodec(spec);
    // The threads drop any hash state with the new spec.
    this.inlineHash = undefined;
    this.hashing = false;
    this.firstChunk = undefined;
    this.hashedChunks = 0;
    for (const w of this.workers ?? []) w.postMessage({ id: -1, op: "spec", spec } satisfies SpecJob & { id: number });
  }

  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = [];
    this.fail(new Error("dp-agent chunk pool closed"));
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

