import { WriteStream } from "node:fs";
import { Socket } from "node:net";
import type { Writable } from "node:stream";
import { finished } from "node:stream/promises";
import type { RepoBackend } from "@dataprotection/storage";
import { type ChunkChecksum, ChunkedSha256, TagSha256 } from "./chunks/checksum.ts";
import { ChunkError, type ChunkResult, type ChunkSpec, maxFrame } from "./chunks/codec.ts";
import { ChunkPool, type Slot } from "./chunks/pool.ts";
import type { PoolLender } from "./chunks/lender.ts";
import { churned } from "./chunks/gc.ts";
import { AgentError } from "./errors.ts";
import { FLAGS, FLAG_FINAL, FRAME_HEAD, TRAILER_LEN, decodeTrailer } from "./format/frames.ts";
import { BOUND_VERSION, type ObjectChecksum, type ObjectHeader, decodeHeader } from "./format/header.ts";
import { type KeySource, keyCheck, objectKey } from "./format/keys.ts";
import { FileFrames, StreamFrames, type FrameSource } from "./frame-source.ts";

export interface ReadResult {
  size: number;
  sha256: string;
  storedSize: number;
  header: ObjectHeader;
}

/**
 * Takes the verified plaintext; each buffer is valid only until the next one is asked for,
 * unless the consumer holds it: `hold()` keeps the memory of the chunk last yielded (and so
 * every buffer cut from it) valid until the returned release function is called, e.g. until
 * a write from it has finished. Held chunks count against the reader's slots, so a consumer
 * that holds too many makes the reader wait for a release.
 */
export type ChunkConsumer = (chunks: AsyncIterable<Buffer>, hold: () => () => void) => Promise<unknown>;

/** Slots that may be held by the consumer on top of the reader's own (see ChunkConsumer). */
const HELD_SLOTS = 4;

export interface ReadOptions {
  key?: KeySource;
  expectSha256?: string;
  /** Where expectSha256 comes from, for the error message (default manifest.json). */
  expectFrom?: string;
  /**
   * DP_BACKUP_ID: the backup being read. A v5 object bound to another backup is refused; an
   * object from before backup binding (v2-v4) only when expectSha256 is `recorded`.
   */
  backupId?: string;
  /** expectSha256 is the checksum the operator recorded (DP_EXPECT_CHECKSUMS), not manifest.json's. */
  recorded?: boolean;
  /** Worker threads that verify, decrypt and decompress chunks; 0 does it on the main thread. */
  threads?: number;
  /** Reuse the threads of earlier objects of the same command (many small objects: WAL segments). */
  pools?: PoolLender;
}

/**
 * Stream object `name` from `repoKey` into `sink`, releasing only bytes of chunks
 * that verified, in order: worker threads open chunks ahead while the main thread
 * hands them on and keeps the checksum. Rejects with an AgentError naming the object on a wrong
 * key, corruption, truncation, or a plaintext size or checksum that differs from the
 * trailer (or from `expectSha256`, e.g. from the manifest).
 */
export async function readObject(
  backend: RepoBackend,
  repoKey: string,
  name: string,
  sink: Writable | ChunkConsumer,
  opts: ReadOptions,
): Promise<ReadResult> {
  // Filesystem repos: positioned reads straight into the chunk slots; otherwise the stream.
  const src: FrameSource = backend.openRead ? new FileFrames(await backend.openRead(repoKey)) : new StreamFrames(await backend.get(repoKey));
  let header: ObjectHeader;
  let rawHeader: Buffer;
  let key: Buffer | undefined;
  try {
    rawHeader = await src.header(name);
    header = decodeHeader(rawHeader, name);
    if (header.encryption === "none" && opts.key) {
      // Anyone who can write the repo can write an unencrypted object: with a key, only objects sealed with it are read.
      throw new AgentError(`object "${name}" is not encrypted, but this repo has an encryption key: refusing an object written without the key`);
    }
    if (header.encryption !== "none") {
      if (!opts.key) throw new AgentError(`object "${name}" is encrypted: set DP_ENCRYPTION_KEY or DP_ENCRYPTION_KEY_FILE`);
      key = await objectKey(opts.key, header.salt);
      if (!keyCheck(key).equals(header.keyCheck)) throw new AgentError(`object "${name}" cannot be decrypted: the encryption key is not the one it was written with`);
    }
    checkBinding(name, header, opts);
  } catch (err) {
    await src.close();
    throw err;
  }
  // sha256-tags (v4, v5): the main thread hashes the frames' tags; sha256-chunked (v3, v5): each
  // worker hashes the chunks it opens; sha256 (v2): one thread hashes the stream.
  const checksum = header.checksum;
  const spec: ChunkSpec = { header: rawHeader, name, key, compression: header.compression, chunkSize: header.chunkSize, digests: checksum === "sha256-chunked" };
  const threads = opts.threads ?? 0;
  // Slot inputs hold a frame's payload|tag and, read along with it, the next frame's head.
  // A consumer may hold chunks while it writes them: a few more slots keep the workers busy meanwhile.
  const lends = typeof sink === "function" || writesThrough(sink);
  const count = 2 * threads + 2 + (lends ? HELD_SLOTS : 0);
  const pool = opts.pools ? opts.pools.lend(spec, threads, count, maxFrame(header.chunkSize), header.chunkSize) : new ChunkPool(spec, threads, count, maxFrame(header.chunkSize), header.chunkSize);
  const st: ReadState = { size: 0, storedSize: rawHeader.length, sha256: "", verified: false };
  const refs = new SlotRefs(pool);
  const chunks = openedChunks(src, name, pool, st, refs, checksum);
  try {
    if (typeof sink === "function") await sink(chunks, () => refs.hold());
    else if (lends) await writeHeld(sink, chunks, () => refs.hold());
    else await writeTo(sink, chunks);
  } finally {
    await chunks.return(undefined);
    await src.close();
    // Closed here, not only when the chunks end: a sink may fail before it reads the first one.
    await (opts.pools ? opts.pools.giveBack(pool) : pool.close());
  }
  if (!st.verified) throw new Error(`internal: object "${name}" was not read to its end`);
  if (opts.expectSha256 && opts.expectSha256 !== st.sha256) {
    throw new AgentError(`object "${name}" does not match ${opts.expectFrom ?? "manifest.json"}: sha256 ${st.sha256}, expected ${opts.expectSha256}`);
  }
  return { size: st.size, sha256: st.sha256, storedSize: st.storedSize, header };
}

/**
 * With DP_BACKUP_ID, before a byte is released: a v5 object must name this backup (its id is
 * authenticated with chunk 0, so a relabelled one fails there); an older object proves nothing
 * about its backup, so it is read only against the checksum the operator recorded.
 */
function checkBinding(name: string, header: ObjectHeader, opts: ReadOptions): void {
  if (opts.backupId === undefined) return;
  if (header.version === BOUND_VERSION) {
    if (header.backupId !== opts.backupId) {
      throw new AgentError(`object "${name}" belongs to another backup: it was written for backup ${header.backupId}, this is backup ${opts.backupId} (DP_BACKUP_ID): refusing it`);
    }
    return;
  }
  if (!opts.recorded || !opts.expectSha256) {
    throw new AgentError(
      `object "${name}" predates backup binding (format v${header.version}, no backup id) and no recorded checksum was given for it (DP_EXPECT_CHECKSUMS): refusing it, as it could be another backup's`,
    );
  }
}

/**
 * Who still uses a slot: the reader until the consumer asks for the next chunk, the v2 hash
 * thread until it has hashed it, and the consumer for each hold. The last one gives it back.
 */
class SlotRefs {
  private readonly refs = new Map<Slot, number>();
  /** The slot whose chunk was yielded last and is still the consumer's current one. */
  current?: Slot;

  constructor(private readonly pool: ChunkPool) {}

  ref(slot: Slot): void {
    this.refs.set(slot, (this.refs.get(slot) ?? 0) + 1);
  }

  unref(slot: Slot): void {
    const n = (this.refs.get(slot) ?? 1) - 1;
    if (n > 0) this.refs.set(slot, n);
    else {
      this.refs.delete(slot);
      this.pool.give(slot);
    }
  }

  hold(): () => void {
    const slot = this.current;
    if (!slot) return () => undefined;
    this.ref(slot);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.unref(slot);
    };
  }
}

interface ReadState {
  size: number;
  storedSize: number;
  sha256: string;
  verified: boolean;
}

// Verified plaintext chunks in order. Each is a slot's output, reused once the consumer asks for the next.
async function* openedChunks(
  src: FrameSource,
  name: string,
  pool: ChunkPool,
  st: ReadState,
  refs: SlotRefs,
  checksum: ObjectChecksum,
): AsyncGenerator<Buffer> {
  const { tagLen } = pool.codec.frames;
  const chunkSize = pool.codec.spec.chunkSize;
  const inflight: { slot: Slot; index: number; payload: number; done: Promise<ChunkResult> }[] = [];
  // v4: the tags of the opened frames, in order. v3: chunk digests come with the opened chunks.
  // v2: the first worker hashes each chunk next to the consumer, in order; its slot frees when
  // both are done.
  const sum: ChunkChecksum | undefined = checksum === "sha256-tags" ? new TagSha256() : checksum === "sha256-chunked" ? new ChunkedSha256() : undefined;
  const hashing = new Set<Promise<void>>();
  const corrupt = (index: number, why: string): AgentError => new AgentError(`object "${name}" is corrupt at chunk ${index} (${why})`);
  let index = 0;
  let ended = false;
  let trailer: { size: number; sha256: string } | undefined;
  for (;;) {
    // Every slot waits for the hash thread: wait for one rather than for nothing.
    if (inflight.length === 0 && !trailer && !ended && !pool.hasFree()) await pool.whenFree();
    // Read and dispatch frames while a slot is free.
    while (!trailer && !ended && pool.hasFree()) {
      const h = await src.head();
      if (!h) {
        ended = true;
        break;
      }
      if (h.flags & ~FLAGS) throw corrupt(index, "bad frame flags");
      const final = (h.flags & FLAG_FINAL) !== 0;
      if (final ? h.len !== TRAILER_LEN : h.len === 0 || h.len > chunkSize) throw corrupt(index, `bad frame length ${h.len}`);
      if (final) {
        const t = Buffer.allocUnsafe(h.len + tagLen + FRAME_HEAD);
        if (!(await src.body(t, h.len + tagLen))) {
          ended = true;
          break;
        }
        const plain = pool.codec.frames.open(index, h.flags, t.subarray(0, h.len), t.subarray(h.len, h.len + tagLen));
        if (!plain) throw corrupt(index, tagLen === 16 ? "authentication failed" : "checksum mismatch");
        trailer = decodeTrailer(plain);
        index++;
        break;
      }
      const slot = pool.take()!;
      if (!(await src.body(slot.input, h.len + tagLen))) {
        pool.give(slot);
        ended = true;
        break;
      }
      const done = pool.run(slot, { op: "open", index, flags: h.flags, len: h.len });
      done.catch(() => undefined); // awaited in order below
      inflight.push({ slot, index: index++, payload: h.len, done });
    }
    const head = inflight.shift();
    if (!head) break;
    let len: number;
    try {
      const r = await head.done;
      len = r.len;
      sum?.add(r.digest ?? head.slot.input.subarray(head.payload, head.payload + tagLen));
    } catch (err) {
      if (!(err instanceof ChunkError) || err.why === "internal") throw err;
      if (err.why === "auth") throw corrupt(head.index, err.message);
      throw new AgentError(`object "${name}" does not decompress at chunk ${head.index}: ${err.message}`);
    }
    // Authenticated (tag or digest) by the worker: the bytes may go out (v2: while the hash thread reads them too).
    const plain = head.slot.output.subarray(0, len);
    const slot = head.slot;
    refs.ref(slot);
    if (!sum) {
      // v2: the slot also waits for the hash thread.
      refs.ref(slot);
      const hashed = pool.hash(slot, "output", len);
      const h: Promise<void> = hashed.then(
        () => {
          hashing.delete(h);
          refs.unref(slot);
        },
        () => void hashing.delete(h), // a failed hash thread fails digest() below
      );
      hashing.add(h);
    }
    st.size += len;
    refs.current = slot;
    try {
      yield plain;
    } finally {
      refs.current = undefined;
    }
    refs.unref(slot);
  }
  await Promise.all(hashing);
  if (!trailer) throw new AgentError(`object "${name}" is truncated at chunk ${index} (the final chunk is missing)`);
  if (await src.more()) throw corrupt(index, "data after the final chunk");
  st.storedSize = src.stored;
  st.sha256 = sum ? sum.digest() : await pool.digest();
  if (st.size !== trailer.size || st.sha256 !== trailer.sha256) {
    throw new AgentError(`object "${name}" failed its checksum: ${st.size} bytes sha256 ${st.sha256}, expected ${trailer.size} bytes sha256 ${trailer.sha256}`);
  }
  st.verified = true;
}

/**
 * Streams that hand each buffer to the OS and then call the write's callback (a pipe, socket or
 * file: dp-agent's stdout) get the chunks themselves, each slot held until its write is done: no
 * copy (~1/3 of the main thread's time in `pull | tar` before). Any other Writable may keep what
 * it is given after the callback, so it gets copies (writeTo).
 */
function writesThrough(sink: Writable): boolean {
  return sink instanceof Socket || sink instanceof WriteStream;
}

async function writeHeld(sink: Writable, chunks: AsyncIterable<Buffer>, hold: () => () => void): Promise<void> {
  let failed: Error | undefined;
  // Stays attached: a write already queued may still fail after we stop.
  sink.on("error", (err: Error) => void (failed ??= err));
  for await (const c of chunks) {
    if (failed) throw failed;
    const release = hold();
    if (!sink.write(c, release)) await drained(sink);
  }
  if (failed) throw failed;
  sink.end();
  await finished(sink);
}

function drained(sink: Writable): Promise<void> {
  return new Promise<void>((resolve) => {
    const go = (): void => {
      sink.off("drain", go);
      sink.off("error", go);
      resolve();
    };
    sink.on("drain", go);
    sink.on("error", go);
  });
}

// A plain Writable gets copies: it may hold on to what it is given.
async function writeTo(sink: Writable, chunks: AsyncIterable<Buffer>): Promise<void> {
  let failed: Error | undefined;
  // Stays attached: a write already queued may still fail after we stop.
  sink.on("error", (err: Error) => void (failed ??= err));
  for await (const c of chunks) {
    if (failed) throw failed;
    // A copy per chunk, garbage once written: collected as they go (gc.ts).
    churned(c.length);
    if (!sink.write(Buffer.from(c))) await drained(sink);
  }
  if (failed) throw failed;
  sink.end();
  await finished(sink);
}
