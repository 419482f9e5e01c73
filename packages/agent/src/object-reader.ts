import { createHash } from "node:crypto";
import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { RepoBackend } from "@dataprotection/storage";
import { ChunkError, type ChunkSpec, maxFrame } from "./chunks/codec.ts";
import { churned } from "./chunks/gc.ts";
import { ChunkPool, type Slot } from "./chunks/pool.ts";
import { AgentError } from "./errors.ts";
import { FLAGS, FLAG_FINAL, FRAME_HEAD, TRAILER_LEN, decodeTrailer } from "./format/frames.ts";
import { HEADER_LEN, type ObjectHeader, decodeHeader } from "./format/header.ts";
import { type KeySource, keyCheck, objectKey } from "./format/keys.ts";

export interface ReadResult {
  size: number;
  sha256: string;
  storedSize: number;
  header: ObjectHeader;
}

/** Takes the verified plaintext; each buffer is valid only until the next one is asked for. */
export type ChunkConsumer = (chunks: AsyncIterable<Buffer>) => Promise<unknown>;

export interface ReadOptions {
  key?: KeySource;
  expectSha256?: string;
  /** Worker threads that verify, decrypt and decompress chunks; 0 does it on the main thread. */
  threads?: number;
}

/**
 * Stream object `name` from `repoKey` into `sink`, releasing only bytes of chunks
 * that verified, in order: worker threads open chunks ahead while the main thread
 * hashes and hands them on. Rejects with an AgentError naming the object on a wrong
 * key, corruption, truncation, or a plaintext size/sha256 that differs from the
 * trailer (or from `expectSha256`, e.g. from the manifest).
 */
export async function readObject(
  backend: RepoBackend,
  repoKey: string,
  name: string,
  sink: Writable | ChunkConsumer,
  opts: ReadOptions,
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
  const spec: ChunkSpec = { header: rawHeader, name, key, compression: header.compression, chunkSize: header.chunkSize };
  const threads = opts.threads ?? 0;
  const pool = new ChunkPool(spec, threads, 2 * threads + 2, maxFrame(header.chunkSize) - FRAME_HEAD, header.chunkSize);
  const st: ReadState = { size: 0, storedSize: HEADER_LEN, sha256: "", verified: false };
  const chunks = openedChunks(body, name, pool, st);
  try {
    if (typeof sink === "function") await sink(chunks);
    else await writeTo(sink, chunks);
  } finally {
    await chunks.return(undefined);
    body.destroy();
  }
  if (!st.verified) throw new Error(`internal: object "${name}" was not read to its end`);
  if (opts.expectSha256 && opts.expectSha256 !== st.sha256) {
    throw new AgentError(`object "${name}" does not match manifest.json: sha256 ${st.sha256}, manifest says ${opts.expectSha256}`);
  }
  return { size: st.size, sha256: st.sha256, storedSize: st.storedSize, header };
}

interface ReadState {
  size: number;
  storedSize: number;
  sha256: string;
  verified: boolean;
}

// Verified plaintext chunks in order. Each is a slot's output, reused once the consumer asks for the next.
async function* openedChunks(body: Readable, name: string, pool: ChunkPool, st: ReadState): AsyncGenerator<Buffer> {
  const it = body[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const frames = new FrameBuffer();
  const { tagLen } = pool.codec.frames;
  const chunkSize = pool.codec.spec.chunkSize;
  const hash = createHash("sha256");
  const inflight: { slot: Slot; index: number; done: Promise<number> }[] = [];
  const corrupt = (index: number, why: string): AgentError => new AgentError(`object "${name}" is corrupt at chunk ${index} (${why})`);
  let index = 0;
  let ended = false;
  let trailer: { size: number; sha256: string } | undefined;
  try {
    for (;;) {
      // Parse and dispatch frames while a slot is free; read the body only when a frame is incomplete.
      while (!trailer && pool.hasFree()) {
        const h = frames.head();
        if (h) {
          if (h.flags & ~FLAGS) throw corrupt(index, "bad frame flags");
          const final = (h.flags & FLAG_FINAL) !== 0;
          if (final ? h.len !== TRAILER_LEN : h.len === 0 || h.len > chunkSize) throw corrupt(index, `bad frame length ${h.len}`);
          const total = FRAME_HEAD + h.len + tagLen;
          if (frames.have >= total) {
            frames.skip(FRAME_HEAD);
            if (final) {
              const t = frames.take(h.len + tagLen);
              const plain = pool.codec.frames.open(index, h.flags, t.subarray(0, h.len), t.subarray(h.len));
              if (!plain) throw corrupt(index, tagLen === 16 ? "authentication failed" : "checksum mismatch");
              trailer = decodeTrailer(plain);
              index++;
              break;
            }
            const slot = pool.take()!;
            frames.copyTo(slot.input, h.len + tagLen);
            const done = pool.run(slot, { op: "open", index, flags: h.flags, len: h.len });
            done.catch(() => undefined); // awaited in order below
            inflight.push({ slot, index: index++, done });
            continue;
          }
        }
        if (ended) break;
        const next = await it.next();
        if (next.done) ended = true;
        else {
          st.storedSize += next.value.length;
          churned(next.value.length);
          frames.push(next.value);
        }
      }
      const head = inflight.shift();
      if (!head) break;
      let len: number;
      try {
        len = await head.done;
      } catch (err) {
        if (!(err instanceof ChunkError) || err.why === "internal") throw err;
        if (err.why === "auth") throw corrupt(head.index, err.message);
        throw new AgentError(`object "${name}" does not decompress at chunk ${head.index}: ${err.message}`);
      }
      const plain = head.slot.output.subarray(0, len);
      hash.update(plain);
      st.size += len;
      yield plain;
      pool.give(head.slot);
    }
    if (!trailer) throw new AgentError(`object "${name}" is truncated at chunk ${index} (the final chunk is missing)`);
    if (frames.have > 0) throw corrupt(index, "data after the final chunk");
    for (let next = await it.next(); !next.done; next = await it.next()) {
      st.storedSize += next.value.length;
      if (next.value.length > 0) throw corrupt(index, "data after the final chunk");
    }
    st.sha256 = hash.digest("hex");
    if (st.size !== trailer.size || st.sha256 !== trailer.sha256) {
      throw new AgentError(`object "${name}" failed its checksum: ${st.size} bytes sha256 ${st.sha256}, expected ${trailer.size} bytes sha256 ${trailer.sha256}`);
    }
    st.verified = true;
  } finally {
    await pool.close();
  }
}

/** Frames arrive in arbitrary pieces of the body: collects them and copies whole frames out. */
class FrameBuffer {
  private parts: Buffer[] = [];
  have = 0;

  push(b: Buffer): void {
    if (b.length === 0) return;
    this.parts.push(b);
    this.have += b.length;
  }

  head(): { flags: number; len: number } | undefined {
    if (this.have < FRAME_HEAD) return undefined;
    const first = this.parts[0];
    const h = first.length >= FRAME_HEAD ? first : Buffer.concat(this.parts).subarray(0, FRAME_HEAD);
    return { flags: h.readUInt8(0), len: h.readUInt32BE(1) };
  }

  skip(n: number): void {
    this.copyTo(undefined, n);
  }

  take(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    this.copyTo(b, n);
    return b;
  }

  /** Move the next n bytes into `dst` (or drop them). */
  copyTo(dst: Buffer | undefined, n: number): void {
    let off = 0;
    while (off < n) {
      const p = this.parts[0];
      const k = Math.min(p.length, n - off);
      if (dst) p.copy(dst, off, 0, k);
      off += k;
      if (k === p.length) this.parts.shift();
      else this.parts[0] = p.subarray(k);
    }
    this.have -= n;
  }
}

// A plain Writable gets copies: it may hold on to what it is given.
async function writeTo(sink: Writable, chunks: AsyncIterable<Buffer>): Promise<void> {
  let failed: Error | undefined;
  // Stays attached: a write already queued may still fail after we stop.
  sink.on("error", (err: Error) => void (failed ??= err));
  for await (const c of chunks) {
    if (failed) throw failed;
    if (!sink.write(Buffer.from(c))) {
      await new Promise<void>((resolve) => {
        const go = (): void => {
          sink.off("drain", go);
          sink.off("error", go);
          resolve();
        };
        sink.on("drain", go);
        sink.on("error", go);
      });
    }
  }
  if (failed) throw failed;
  sink.end();
  await finished(sink);
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
