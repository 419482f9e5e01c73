import { Worker } from "node:worker_threads";
import { type ChunkSpec, ChunkCodec, ChunkError } from "./codec.ts";
import { churned } from "./gc.ts";

/** A job's memory: `input` (plaintext or a frame's payload|tag) and `output` (frame or plaintext). */
export interface Slot {
  readonly id: number;
  readonly input: Buffer;
  readonly output: Buffer;
}

export type Job = { op: "seal"; index: number; len: number } | { op: "open"; index: number; flags: number; len: number };
type Reply = { id: number; len: number } | { id: number; why: ChunkError["why"]; message: string };
interface Pending {
  resolve: (len: number) => void;
  reject: (err: Error) => void;
  worker: number;
}

// In the bundle (dist/dp-agent.js) the worker is dist/chunk-worker.js. From source (under tsx),
// the worker registers tsx itself: loader hooks are not inherited by worker threads.
const FROM_SOURCE = import.meta.url.endsWith(".ts");
const WORKER_URL = FROM_SOURCE ? new URL("./worker.ts", import.meta.url) : new URL("./chunk-worker.js", import.meta.url);
const SOURCE_BOOT = FROM_SOURCE
  ? `import(${JSON.stringify(import.meta.resolve("tsx/esm/api"))}).then((m) => { m.register(); return import(${JSON.stringify(WORKER_URL.href)}); })`
  : "";

/**
 * Seals or opens chunks on `threads` worker threads, over a fixed set of slots in
 * shared memory: no buffer is allocated or copied per chunk between threads, and
 * the slots bound the memory in flight. With 0 threads, or for the first job (small
 * objects should not pay for starting threads), the work runs inline.
 */
export class ChunkPool {
  readonly slots: Slot[] = [];
  private readonly free: Slot[];
  private readonly inline: ChunkCodec;
  private workers?: Worker[];
  private readonly load: number[] = [];
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private failure?: Error;

  constructor(
    private readonly spec: ChunkSpec,
    private readonly threads: number,
    count: number,
    private readonly inSize: number,
    private readonly outSize: number,
  ) {
    const memory = threads > 0 ? new SharedArrayBuffer(count * (inSize + outSize)) : new ArrayBuffer(count * (inSize + outSize));
    for (let i = 0; i < count; i++) {
      const base = i * (inSize + outSize);
      this.slots.push({ id: i, input: Buffer.from(memory, base, inSize), output: Buffer.from(memory, base + inSize, outSize) });
    }
    this.free = [...this.slots].reverse();
    this.inline = new ChunkCodec(spec);
    this.memory = memory;
  }

  private readonly memory: ArrayBufferLike;

  take(): Slot | undefined {
    return this.free.pop();
  }

  hasFree(): boolean {
    return this.free.length > 0;
  }

  give(slot: Slot): void {
    this.free.push(slot);
  }

  get codec(): ChunkCodec {
    return this.inline;
  }

  /** Resolves with the output length; rejects with a ChunkError when a chunk does not open. */
  run(slot: Slot, job: Job): Promise<number> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.threads === 0 || (job.index === 0 && !this.workers)) {
      try {
        return Promise.resolve(this.runInline(slot, job));
      } catch (err) {
        return Promise.reject(err as Error);
      }
    }
    const workers = (this.workers ??= this.start());
    let w = 0;
    for (let i = 1; i < workers.length; i++) if (this.load[i] < this.load[w]) w = i;
    const id = this.nextId++;
    this.load[w]++;
    workers[w].postMessage({ id, slot: slot.id, ...job });
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject, worker: w }));
  }

  private runInline(slot: Slot, job: Job): number {
    churned(job.len);
    if (job.op === "seal") return this.inline.seal(job.index, slot.input.subarray(0, job.len), slot.output);
    const tag = this.inline.frames.tagLen;
    return this.inline.open(job.index, job.flags, slot.input.subarray(0, job.len), slot.input.subarray(job.len, job.len + tag), slot.output);
  }

  private start(): Worker[] {
    const workers: Worker[] = [];
    for (let i = 0; i < this.threads; i++) {
      const w = new Worker(FROM_SOURCE ? SOURCE_BOOT : WORKER_URL, {
        eval: FROM_SOURCE,
        workerData: { spec: this.spec, memory: this.memory, inSize: this.inSize, outSize: this.outSize },
        stdout: false,
        stderr: false,
      });
      w.on("message", (r: Reply) => this.settle(r));
      w.on("error", (err) => this.fail(err));
      w.on("exit", (code) => code !== 0 && this.fail(new Error(`dp-agent chunk worker exited with code ${code}`)));
      workers.push(w);
      this.load.push(0);
    }
    return workers;
  }

  private settle(r: Reply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    this.load[p.worker]--;
    if ("why" in r) p.reject(new ChunkError(r.why, r.message));
    else p.resolve(r.len);
  }

  private fail(err: Error): void {
    this.failure ??= err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  async close(): Promise<void> {
    const workers = this.workers ?? [];
    this.workers = [];
    this.failure ??= new Error("dp-agent chunk pool closed");
    for (const p of this.pending.values()) p.reject(this.failure);
    this.pending.clear();
    await Promise.all(workers.map((w) => w.terminate()));
  }
}
