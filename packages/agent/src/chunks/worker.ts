// A chunk worker thread: seals or opens the chunk in the slot it is told about (see pool.ts).
import { parentPort, workerData } from "node:worker_threads";
import { type ChunkSpec, ChunkCodec, ChunkError } from "./codec.ts";
import { churned } from "./gc.ts";
import type { Job } from "./pool.ts";

const data = workerData as { spec: ChunkSpec; memory: SharedArrayBuffer; inSize: number; outSize: number };
// Buffers arrive as plain Uint8Arrays.
const spec: ChunkSpec = { ...data.spec, header: Buffer.from(data.spec.header), key: data.spec.key && Buffer.from(data.spec.key) };
const codec = new ChunkCodec(spec);
const tagLen = codec.frames.tagLen;

parentPort!.on("message", (m: Job & { id: number; slot: number }) => {
  const base = m.slot * (data.inSize + data.outSize);
  const input = Buffer.from(data.memory, base, data.inSize);
  const output = Buffer.from(data.memory, base + data.inSize, data.outSize);
  try {
    const len =
      m.op === "seal"
        ? codec.seal(m.index, input.subarray(0, m.len), output)
        : codec.open(m.index, m.flags, input.subarray(0, m.len), input.subarray(m.len, m.len + tagLen), output);
    parentPort!.postMessage({ id: m.id, len });
    churned(m.len);
  } catch (err) {
    const why = err instanceof ChunkError ? err.why : "internal";
    parentPort!.postMessage({ id: m.id, why, message: err instanceof Error ? err.message : String(err) });
  }
});
