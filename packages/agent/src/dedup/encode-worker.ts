// A dedup encoder thread (encoders.ts): encodes the blob in the region it is told about, in place.
import { parentPort, workerData } from "node:worker_threads";
import { BlobCodec } from "./blob.ts";
import type { EncodeJob, EncodeReply } from "./encoders.ts";
import { chunkId } from "./ids.ts";
import { Sealer } from "./seal.ts";
import { churned } from "../chunks/gc.ts";

const data = workerData as { key?: Uint8Array; idKey: Uint8Array; level: number; memory: SharedArrayBuffer; overhead: number };
const idKey = Buffer.from(data.idKey);
// Buffers arrive as plain Uint8Arrays.
const codec = new BlobCodec(new Sealer(data.key ? Buffer.from(data.key) : undefined), data.level);

parentPort!.on("message", (job: EncodeJob) => {
  let reply: EncodeReply;
  try {
    const region = Buffer.from(data.memory, job.offset, job.len + data.overhead);
    const { prefix } = codec.sealer;
    const plain = region.subarray(prefix, prefix + job.len);
    // Unnamed: named here (the caller decides afterwards whether the repo had it).
    const chunk = job.chunk ? Buffer.from(job.chunk) : chunkId(idKey, plain);
    reply = { id: job.id, ...codec.encodeInto(job.type, chunk, plain, region), ...(job.chunk ? {} : { chunk: new Uint8Array(chunk) }) };
    churned(job.len);
  } catch (err) {
    reply = { id: job.id, message: err instanceof Error ? err.message : String(err) };
  }
  parentPort!.postMessage(reply);
});
