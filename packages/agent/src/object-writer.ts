import { randomBytes } from "node:crypto";
import { type Readable, type Transform, pipeline } from "node:stream";
import { type RepoBackend, isRepoError } from "@dataprotection/storage";
import { errnoOf } from "./errors.ts";
import { type CompressionOptions, compressor } from "./compression.ts";
import { FrameCodec } from "./format/frames.ts";
import { encodeHeader } from "./format/header.ts";
import { type KeySource, kdfOf, keyCheck, objectKey } from "./format/keys.ts";
import { Sealer } from "./format/seal.ts";
import { HashTap } from "./hash-tap.ts";

export interface WriteOptions {
  compression: CompressionOptions;
  key?: KeySource;
  chunkSize: number;
}

export interface WrittenObject {
  size: number;
  storedSize: number;
  sha256: string;
  chunks: number;
}

/**
 * Stream `source` into the repo under `repoKey` as a sealed object named `name`
 * (the name is bound into every chunk). Constant memory: every stage has a bounded
 * buffer and the backend pulls. On any failure nothing is left in the repo.
 */
export async function writeObject(
  backend: RepoBackend,
  repoKey: string,
  name: string,
  source: Readable,
  opts: WriteOptions,
): Promise<WrittenObject> {
  const salt = randomBytes(16);
  const key = opts.key ? await objectKey(opts.key, salt) : undefined;
  const header = encodeHeader({
    compression: opts.compression.algorithm,
    encryption: key ? "aes-256-gcm" : "none",
    kdf: kdfOf(opts.key),
    chunkSize: opts.chunkSize,
    salt,
    keyCheck: key ? keyCheck(key) : Buffer.alloc(8),
  });
  const tap = new HashTap();
  const sealer = new Sealer(header, new FrameCodec(header, name, key), opts.chunkSize, tap.stats);
  const stages: (Readable | Transform)[] = [source, tap];
  const comp = compressor(opts.compression);
  if (comp) stages.push(comp);
  stages.push(sealer);
  // pipeline destroys every stage (and so the backend's body) on the first error.
  const piped = new Promise<Error | undefined>((resolve) => pipeline(stages as unknown as [Readable, Transform], (err) => resolve(err ?? undefined)));
  let storedSize: number;
  try {
    storedSize = await backend.put(repoKey, sealer);
  } catch (err) {
    sealer.destroy();
    const streamError = await piped;
    // An error from the input (e.g. stdin) says more than the backend's view of it.
    if (streamError && errnoOf(streamError) !== "ERR_STREAM_PREMATURE_CLOSE" && !isRepoError(err)) throw streamError;
    throw err;
  }
  const streamError = await piped;
  if (streamError) throw streamError;
  return {
    size: tap.stats.size,
    storedSize,
    sha256: tap.stats.sha256!.toString("hex"),
    chunks: sealer.chunks,
  };
}
