import { createHash } from "node:crypto";
import { type Readable, Transform, type TransformCallback, type Writable, pipeline } from "node:stream";
import type { RepoBackend } from "@dataprotection/storage";
import { decompressor } from "./compression.ts";
import { AgentError } from "./errors.ts";
import { FrameCodec } from "./format/frames.ts";
import { HEADER_LEN, type ObjectHeader, decodeHeader } from "./format/header.ts";
import { type KeySource, keyCheck, objectKey } from "./format/keys.ts";
import { Opener } from "./format/open.ts";

export interface ReadResult {
  size: number;
  sha256: string;
  storedSize: number;
  header: ObjectHeader;
}

/**
 * Stream object `name` from `repoKey` into `sink`, releasing only bytes of chunks
 * that verified. Rejects with an AgentError naming the object on a wrong key,
 * corruption, truncation, or a plaintext size/sha256 that differs from the trailer
 * (or from `expectSha256`, e.g. from the manifest).
 */
export async function readObject(
  backend: RepoBackend,
  repoKey: string,
  name: string,
  sink: Writable,
  opts: { key?: KeySource; expectSha256?: string },
): Promise<ReadResult> {
  const body = await backend.get(repoKey);
  let parsed;
  try {
    parsed = await readHeader(body, name);
  } catch (err) {
    body.destroy();
    throw err;
  }
  const { header, rawHeader } = parsed;
  let key: Buffer | undefined;
  if (header.encryption !== "none") {
    if (!opts.key) {
      body.destroy();
      throw new AgentError(`object "${name}" is encrypted: set DP_ENCRYPTION_KEY or DP_ENCRYPTION_KEY_FILE`);
    }
    key = await objectKey(opts.key, header.salt);
    if (!keyCheck(key).equals(header.keyCheck)) {
      body.destroy();
      throw new AgentError(`object "${name}" cannot be decrypted: the encryption key is not the one it was written with`);
    }
  }
  let storedSize = HEADER_LEN;
  const opener = new Opener(name, new FrameCodec(rawHeader, name, key), header.chunkSize);
  const hash = createHash("sha256");
  let size = 0;
  const tap = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      hash.update(chunk);
      size += chunk.length;
      cb(null, chunk);
    },
  });
  const count = new Transform({
    transform(chunk: Buffer, _e, cb: TransformCallback) {
      storedSize += chunk.length;
      cb(null, chunk);
    },
  });
  const stages: (Readable | Writable)[] = [body, count, opener];
  const dec = decompressor(header.compression);
  if (dec) stages.push(dec);
  stages.push(tap, sink);
  const err = await new Promise<Error | undefined>((resolve) =>
    pipeline(stages as unknown as [Readable, Writable], (e) => resolve(e ?? undefined)),
  );
  if (err) throw describeReadError(err, name);
  const trailer = opener.trailer!;
  const sha256 = hash.digest("hex");
  if (size !== trailer.size || sha256 !== trailer.sha256) {
    throw new AgentError(`object "${name}" failed its checksum: ${size} bytes sha256 ${sha256}, expected ${trailer.size} bytes sha256 ${trailer.sha256}`);
  }
  if (opts.expectSha256 && opts.expectSha256 !== sha256) {
    throw new AgentError(`object "${name}" does not match manifest.json: sha256 ${sha256}, manifest says ${opts.expectSha256}`);
  }
  return { size, sha256, storedSize, header };
}

// Read exactly the fixed-size header off the front of the body; the rest stays queued in it.
function readHeader(body: Readable, name: string): Promise<{ header: ObjectHeader; rawHeader: Buffer }> {
  return new Promise((resolve, reject) => {
    const done = (): void => {
      body.off("readable", onReadable);
      body.off("end", onEnd);
      body.off("error", onError);
    };
    const onEnd = (): void => {
      done();
      reject(new AgentError(`object "${name}" is empty (truncated)`));
    };
    const onError = (err: Error): void => {
      done();
      reject(err);
    };
    const onReadable = (): void => {
      const b = body.read(HEADER_LEN) as Buffer | null;
      if (b === null) return;
      done();
      if (b.length < HEADER_LEN) return reject(new AgentError(`object "${name}" is truncated inside its header`));
      try {
        resolve({ header: decodeHeader(b, name), rawHeader: b });
      } catch (err) {
        reject(err);
      }
    };
    body.on("readable", onReadable);
    body.on("end", onEnd);
    body.on("error", onError);
  });
}

function describeReadError(err: Error, name: string): Error {
  if (err instanceof AgentError || err.name === "RepoError") return err;
  const code = (err as { code?: string }).code;
  if (code === "ZSTD_error_corruption_detected" || /zstd|incorrect header|invalid|unexpected end/i.test(err.message)) {
    return new AgentError(`object "${name}" does not decompress: ${err.message}`);
  }
  return err;
}
