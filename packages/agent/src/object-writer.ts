import { randomBytes } from "node:crypto";
import { EventEmitter } from "node:events";
import type { RepoBackend } from "@dataprotection/storage";
import { type ChecksumAlgorithm, ChunkedSha256, TagSha256 } from "./chunks/checksum.ts";
import { type ChunkResult, type ChunkSpec, maxFrame } from "./chunks/codec.ts";
import { ChunkPool, type Slot } from "./chunks/pool.ts";
import { FLAG_FINAL, encodeTrailer } from "./format/frames.ts";
import type { Compression } from "./format/header.ts";
import { encodeHeader } from "./format/header.ts";
import { type KeySource, kdfOf, keyCheck, objectKey } from "./format/keys.ts";
import { copyInto } from "./chunks/copy.ts";
import { churned } from "./chunks/gc.ts";

export interface CompressionOptions {
  algorithm: Compression;
  /** zstd 1..19 (default 3), gzip 1..9 (default 6). */
  level?: number;
  /** Worker threads that compress and encrypt chunks; 0 does it on the main thread. */
  threads?: number;
}

export interface WriteOptions {
  compression: CompressionOptions;
  key?: KeySource;
  chunkSize: number;
  /** The object checksum (chunks/checksum.ts); default "sha256-tags". */
  checksum?: ChecksumAlgorithm;
  /** DP_BACKUP_ID: bind the object to this backup (format v5); without it, v4 (v3) as before. */
  backupId?: string;
}

export interface WrittenObject {
  size: number;
  storedSize: number;
  sha256: string;
  chunks: number;
}

/**
 * Stream `source` into the repo under `repoKey` as a sealed object named `name`
 * (the name, and the backup id when given, are bound into every chunk). Chunks are compressed and sealed on worker
 * threads while the main thread reads, folds the chunks into the checksum and writes; a fixed set of slots
 * bounds the memory. A buffer the source yields must stay valid only until the
 * next one is asked for. On any failure nothing is left in the repo.
 */
export async function writeObject(
  backend: RepoBackend,
  repoKey: string,
  name: string,
  source: AsyncIterable<Buffer>,
  opts: WriteOptions,
): Promise<WrittenObject> {
  // A source stream that fails before the first read (during key derivation or the backend's
  // open) must not be an uncaught 'error' event: reading a failed stream rethrows its error.
  if (source instanceof EventEmitter) source.on("error", () => undefined);
  const salt = randomBytes(16);
  const key = opts.key ? await objectKey(opts.key, salt) : undefined;
  const checksum = opts.checksum ?? "sha256-tags";
  const header = encodeHeader({
    checksum,
    ...(opts.backupId !== undefined ? { backupId: opts.backupId } : {}),
    compression: opts.compression.algorithm,
    encryption: key ? "aes-256-gcm" : "none",
    kdf: kdfOf(opts.key),
    chunkSize: opts.chunkSize,
    salt,
    keyCheck: key ? keyCheck(key) : Buffer.alloc(8),
  });
  const spec: ChunkSpec = { header, name, key, compression: opts.compression.algorithm, level: opts.compression.level, chunkSize: opts.chunkSize, digests: checksum === "sha256-chunked" };
  const stats: Stats = { size: 0, chunks: 0, sha256: "" };
  let storedSize: number;
  try {
    storedSize = await backend.put(repoKey, sealedFrames(source, spec, opts.compression.threads ?? 0, stats));
  } catch (err) {
    // An error from the input (e.g. stdin) says more than the backend's view of it.
    throw stats.error ?? err;
  }
  return { size: stats.size, storedSize, sha256: stats.sha256, chunks: stats.chunks };
}

interface Stats {
  size: number;
  chunks: number;
  sha256: string;
  error?: unknown;
}

// Header, then frames in order. Each yielded buffer is a slot's output, reused once the backend asks for the next.
// Reading runs as its own loop, so it goes on while the backend writes: reading, sealing and
// hashing (chunk threads) and writing overlap, and only the free slots hold it back.
async function* sealedFrames(
  source: AsyncIterable<Buffer>,
  spec: ChunkSpec,
  threads: number,
  stats: Stats,
): AsyncGenerator<Buffer> {
  yield spec.header;
  // Three jobs per thread: every thread stays busy while the reader runs ahead of the writer.
  const pool = new ChunkPool(spec, threads, 3 * threads + 3, spec.chunkSize, maxFrame(spec.chunkSize));
  const input = new Filler(source, source instanceof EventEmitter);
  const ready: { slot: Slot; done: Promise<ChunkResult> }[] = [];
  const sum = spec.digests ? new ChunkedSha256() : new TagSha256();
  const { tagLen } = pool.codec.frames;
  let wake: (() => void) | undefined;
  let reading = true;
  let readError: { err: unknown } | undefined;
  let stop = false;
  let index = 0;
  const reader = (async () => {
    try {
      for (;;) {
        await pool.whenFree();
        const slot = stop ? undefined : pool.take();
        if (!slot) return;
        const n = await input.fill(slot.input);
        if (n === 0 || stop) {
          pool.give(slot);
          return;
        }
        stats.size += n;
        // With sha256-chunked the worker that seals the chunk also hashes its plaintext.
        const done = pool.run(slot, { op: "seal", index: index++, len: n });
        done.catch(() => undefined); // awaited in order below
        ready.push({ slot, done });
        wake?.();
      }
    } catch (err) {
      readError = { err };
    } finally {
      reading = false;
      wake?.();
    }
  })();
  try {
    for (;;) {
      while (ready.length === 0 && reading) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      const head = ready.shift();
      if (!head) break;
      const r = await head.done;
      // sha256-tags: the frame's tag is its last bytes.
      sum.add(r.digest ?? head.slot.output.subarray(r.len - tagLen, r.len));
      yield head.slot.output.subarray(0, r.len);
      pool.give(head.slot);
    }
    if (readError) throw readError.err;
    stats.sha256 = sum.digest();
    const trailer = Buffer.allocUnsafe(maxFrame(64));
    yield trailer.subarray(0, pool.codec.frames.sealInto(index++, FLAG_FINAL, encodeTrailer(stats.size, Buffer.from(stats.sha256, "hex")), trailer));
    stats.chunks = index;
  } catch (err) {
    stats.error = readError?.err ?? err;
    throw err;
  } finally {
    stop = true;
    await pool.close();
    await reader;
    await input.close();
  }
}

/** Copies a stream of buffers into fixed-size chunks. */
class Filler {
  private readonly it: AsyncIterator<Buffer>;
  private rest?: Buffer;
  ended = false;

  constructor(
    source: AsyncIterable<Buffer>,
    private readonly freshBuffers: boolean,
  ) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Let the source clean up (close files) when we stop early. */
  async close(): Promise<void> {
    if (!this.ended) await this.it.return?.(undefined).catch(() => undefined);
  }

  /** Fill `buf` completely, or less at the end of the stream; returns the byte count. */
  async fill(buf: Buffer): Promise<number> {
    let off = 0;
    while (off < buf.length && !this.ended) {
      if (!this.rest || this.rest.length === 0) {
        const next = await this.it.next();
        if (next.done) {
          this.ended = true;
          break;
        }
        this.rest = typeof next.value === "string" ? Buffer.from(next.value) : next.value;
        // A stream (stdin) hands out a fresh buffer per read: collect them as they go. (A lending
        // source such as push-dir's reuses its buffers: collecting there only costs time.)
        if (this.freshBuffers) churned(this.rest.length);
        continue;
      }
      const n = copyInto(this.rest, buf, off);
      this.rest = this.rest.subarray(n);
      off += n;
    }
    return off;
  }
}
