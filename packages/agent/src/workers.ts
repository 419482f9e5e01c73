// Starting the agent's worker threads, from the bundle or from source.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

const FROM_SOURCE = import.meta.url.endsWith(".ts");

/**
 * A worker thread running `bundled` (a file scripts/build.mjs writes beside the bundle) or, when
 * the agent runs from source under tsx, `source`. Loader hooks are not inherited by worker
 * threads, so from source the thread registers tsx itself before it imports `source`.
 */
export function startWorker(source: URL, bundled: URL, opts: WorkerOptions): Worker {
  if (!FROM_SOURCE) return new Worker(bundled, opts);
  const boot = `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(source.href)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}

/**
 * A thread of one of the agent's pools (chunks/pool.ts, dedup/encoders.ts): its replies go to
 * `onReply`; an error, or an exit the pool did not ask for, to `fail`.
 */
export function startPoolWorker<R>(source: URL, bundled: URL, name: string, workerData: unknown, onReply: (r: R) => void, fail: (err: Error) => void): Worker {
  const w = startWorker(source, bundled, {
    workerData,
    stdout: false,
    stderr: false,
    // Pool work allocates little on the JS heap: small heaps keep each thread's RSS down.
    resourceLimits: { maxYoungGenerationSizeMb: 4 },
    name,
  });
  w.on("message", onReply);
  w.on("error", fail);
  w.on("exit", (code) => code !== 0 && fail(new Error(`dp-agent worker ${name} exited with code ${code}`)));
  return w;
}

// tsx's ESM API. Not import.meta.resolve: the unit tests' loader gives none; and require.resolve
// would find the CommonJS entry.
function tsxApi(): string {
  const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
  return pathToFileURL(join(dirname(pkg), "dist/esm/api/index.mjs")).href;
}

/**
 * The replies a pool awaits, by job id, and each thread's jobs in flight (its load): a job goes
 * to the least loaded thread unless the pool names one.
 */
export class Replies<R> {
  private readonly pending = new Map<number, { resolve: (r: R) => void; reject: (e: Error) => void; worker: number }>();
  private readonly load: number[];
  private nextId = 0;

  constructor(threads: number) {
    this.load = new Array<number>(threads).fill(0);
  }

  /** A new job: its id, the thread it goes to, and its reply once `settle` has it. */
  add(worker?: number): { id: number; worker: number; reply: Promise<R> } {
    let w = worker ?? 0;
    if (worker === undefined) for (let i = 1; i < this.load.length; i++) if (this.load[i]! < this.load[w]!) w = i;
    const id = this.nextId++;
    this.load[w]!++;
    return { id, worker: w, reply: new Promise<R>((resolve, reject) => this.pending.set(id, { resolve, reject, worker: w })) };
  }

  /** Job `id`'s reply, or an Error to reject it with (a job no longer awaited is ignored). */
  settle(id: number, r: R | Error): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    this.load[p.worker]!--;
    if (r instanceof Error) p.reject(r);
    else p.resolve(r);
  }

  /** Reject every job in flight. */
  failAll(err: Error): void {
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
  }

  get size(): number {
    return this.pending.size;
  }
}
