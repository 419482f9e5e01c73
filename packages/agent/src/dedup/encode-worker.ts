// A dedup encoder thread (encoders.ts): encodes the blob in the region it is told about, in place.
import { parentPort, workerData } from "node:worker_threads";
import { BlobCodec } from "./blob.ts";
import type { EncodeJob, EncodeReply } from "./encoders.ts";
import { Sealer } from "./seal.ts";
import { churned } from "../chunks/gc.ts";

const data = workerData as { key?: Uint8Array; level: number; memory: SharedArrayBuffer; overhead: number };
// Buffers arrive as plain Uint8Arrays.
const codec = new BlobCodec(new Sealer(data.key ? Buffer.from(data.key) : undefined), data.level);

parentPort!.on("message", (job: EncodeJob) => {
  let reply: EncodeReply;
  try {
    const region = Buffer.from(data.memory, job.offset, job.len + data.overhead);
    reply = { id: job.id, ...codec.encodeInto(job.type, Buffer.from(job.chunk), region.subarray(0, job.len), region) };
    churned(job.len);
  } catch (err) {
    reply = { id: job.id, message: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
