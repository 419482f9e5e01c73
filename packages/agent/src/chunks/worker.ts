// A chunk worker thread: seals or opens the chunk in the slot it is told about, or, as the
// pool's hash thread, adds slots to the object's sha256 in the order it is told (see pool.ts).
import { createHash } from "node:crypto";
import { parentPort, workerData } from "node:worker_threads";
import { type ChunkSpec, ChunkCodec, ChunkError, runJob } from "./codec.ts";
import { churned } from "./gc.ts";
import type { HashJob, Job, SpecJob } from "./pool.ts";

const data = workerData as { spec: ChunkSpec; memory: SharedArrayBuffer; inSize: number; outSize: number };
// Buffers arrive as plain Uint8Arrays.
const specOf = (s: ChunkSpec): ChunkSpec => ({ ...s, header: Buffer.from(s.header), key: s.key && Buffer.from(s.key) });
let spec = specOf(data.spec);
let codec: ChunkCodec | undefined;
let hash = createHash("sha256");

parentPort!.on("message", (m: (Job & { slot: number }) | HashJob | SpecJob | { id: number }) => {
  const { id } = m as { id: number };
  const job = m as (Job & { slot: number }) | HashJob | SpecJob;
  if (job.op === "spec") {
    // The pool moved on to another object (no reply: later messages are handled after this one).
    spec = specOf(job.spec);
    codec = undefined;
    hash = createHash("sha256");
    return;
  }
  try {
    if (job.op === "bytes") {
      hash.update(job.data);
      parentPort!.postMessage({ id, len: job.data.length });
      return;
    }
    if (job.op === "digest") {
      parentPort!.postMessage({ id, len: 0, digest: hash.digest("hex") });
      hash = createHash("sha256");
      return;
    }
    const base = job.slot * (data.inSize + data.outSize);
    if (job.op === "hash") {
      hash.update(new Uint8Array(data.memory, job.out ? base + data.inSize : base, job.len));
      parentPort!.postMessage({ id, len: job.len });
      return;
    }
    codec ??= new ChunkCodec(spec);
    const input = Buffer.from(data.memory, base, data.inSize);
    const output = Buffer.from(data.memory, base + data.inSize, data.outSize);
    const r = runJob(codec, input, output, job);
    parentPort!.postMessage({ id, len: r.len, chunk: r.digest });
    churned(job.len);
  } catch (err) {
    const why = err instanceof ChunkError ? err.why : "internal";
    parentPort!.postMessage({ id, why, message: err instanceof Error ? err.message : String(err) });
  }
});
