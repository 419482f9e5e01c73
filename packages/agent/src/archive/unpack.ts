import { constants } from "node:fs";
import { type FileHandle, lchown, lutimes, mkdir, open, rm, symlink } from "node:fs/promises";
import { join } from "node:path";
import { AgentError, errnoOf } from "../errors.ts";
import { ByteReader } from "./byte-reader.ts";
import { ARCHIVE_MAGIC, type EntryMeta, S_DATA, S_END, S_HOLE, T_DIR, T_END, T_FILE, T_SYMLINK } from "./format.ts";
import { TargetTree, parseMeta, setDirMeta } from "./target-tree.ts";
import { copyInto } from "../chunks/copy.ts";
import { ByteBudget } from "./byte-budget.ts";

// Small files are written concurrently, up to this many at once.
const IN_FLIGHT = 32;
// Large files are written in the background, one write in flight per file (concurrent writes
// to one file contend for its inode lock), and a file is finished and closed in the background
// while the next one fills. When the source lets us hold its chunks (pull-dir: `hold`), a
// file's pieces are written straight from the chunks, ~1 MiB gathered at a time (in writes of
// WRITE_MAX), and each chunk is released once its writes are done: no copy on the main thread. Otherwise
// pieces are copied into buffers of this size from a pool shared by all files (whole aligned
// 1 MiB writes) and the chunk is released as soon as it is copied.
const WRITE_BUF = 1 << 20;
// Held pieces go out in writes of at most this size: on the 2-core benchmark VM (Linux 6.18,
// ext4), pull-dir of 2 GiB spent ~2-5 s of system time copying into the page cache with ~1 MiB
// writes and about half of that with 256 KiB ones (dd showed the same trend); 64 KiB writes cost
// more again (a round trip through the thread pool per write). The cause is not pinned down
// (ext4 allocates page-cache folios as large as the write, and large ones seem to come cold).
const WRITE_MAX = 256 << 10;
const WRITE_BUFS = 4;
// The most bytes of file content kept waiting for their writes at once: copies of small files
// and of files' first pieces, and pieces held from the source (they count until written, or, in
// pool mode, until copied into a pool buffer). Reading waits for writes while it is spent. The
// source's own limit is not enough: a dedup restore's source gives every chunk in a buffer of its
// own, for as long as the unpacker likes, and with only IN_FLIGHT bounding them whole files
// queued behind a disk slower than the repository (440-490 MiB peak RSS restoring 1-2 GiB of
// 16 MiB files). The target is a restore under 200 MiB RSS whatever the file sizes, and about
// 110 MiB of it is not the queue (the bundle's ~50 MiB, the heap, chunks read ahead, released
// ones until the next GC): restoring 512 MiB of 16 MiB files through writes slowed to 100-300
// MB/s peaked at ~400-540 MiB unbounded, 210-216 MiB with 64 MiB here, 175-196 MiB with 32 MiB,
// 156-160 MiB with 16 MiB, all in the same time (the disk's), and unthrottled too. 32 MiB is
// still dozens of ~1 MiB writes in flight, plenty to keep a disk busy. pull-dir from objects
// seldom reaches it: the reader's slots bound what it holds first (a few MiB at the default chunk
// size).
export const QUEUE_BUDGET = 32 << 20;
const CREATE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

export interface UnpackResult {
  entries: number;
  /** The restored files' sizes, summed (holes included). */
  bytes: number;
}

/**
 * Recreate the archive under `target`: contents, modes, mtimes, symlinks, holes,
 * and owners when running as root. Directory modes and times are applied last,
 * deepest first, so read-only directories can still be filled.
 *
 * Nothing outside `target` is written or changed, whatever the archive or the target holds:
 * paths are relative without "." or ".."; every directory an entry goes through is one this
 * unpack created, or one it found by lstat to be a real directory (a symlink there, from the
 * archive or already in the target, is refused); files are created O_EXCL|O_NOFOLLOW after
 * removing whatever is in the way; symlinks get lchown/lutimes; directories get their metadata
 * through an O_DIRECTORY|O_NOFOLLOW handle. (The target is assumed to have no other writer
 * while it is restored, as a scaled-down workload's volume has not.)
 *
 * `hold` (see ChunkConsumer): the source lends its buffers until released; pieces of large files
 * are then written straight from them. Bytes waiting for their writes are bounded by `budget`
 * (QUEUE_BUDGET unless given), whatever the source lets the unpacker hold.
 */
export async function unpackDir(
  source: AsyncIterable<Buffer>,
  target: string,
  hold?: () => () => void,
  budget: ByteBudget = new ByteBudget(QUEUE_BUDGET),
): Promise<UnpackResult> {
  const r = new ByteReader(source, "directory stream");
  if (!(await r.read(ARCHIVE_MAGIC.length)).equals(ARCHIVE_MAGIC)) throw new AgentError("object is not a directory stream (pushed with push, not push-dir?)");
  const asRoot = process.getuid?.() === 0;
  const dirs: EntryMeta[] = [];
  const tree = new TargetTree(target);
  const pending = new Set<Promise<void>>();
  let failure: unknown;
  let entries = 0;
  let bytes = 0;
  const fail = (err: unknown): never => {
    throw err instanceof AgentError ? err : new AgentError(`cannot write ${target}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  };
  // Files being written in the background, by relative path: an entry that replaces one of
  // them, or a directory above them, waits for their writes first (duplicate entries).
  const writing = new Map<string, number>();
  const track = (p: Promise<void>, rel: string): void => {
    writing.set(rel, (writing.get(rel) ?? 0) + 1);
    const q = p.catch((err: unknown) => void (failure ??= err)).finally(() => {
      pending.delete(q);
      const n = (writing.get(rel) ?? 1) - 1;
      if (n > 0) writing.set(rel, n);
      else writing.delete(rel);
    });
    pending.add(q);
  };
  const settleUnder = async (rel: string): Promise<void> => {
    for (const w of writing.keys()) {
      if (w === rel || w.startsWith(`${rel}/`)) return void (await Promise.all(pending));
    }
  };
  const bufs = hold ? undefined : new BufferPool(WRITE_BUF, WRITE_BUFS);
  await mkdir(target, { recursive: true }).catch(fail);
  await tree.checkRoot().catch(fail);
  try {
    for (;;) {
      if (failure) fail(failure);
      const type = (await r.read(1))[0];
      if (type === T_END) break;
      const len = (await r.read(4)).readUInt32BE(0);
      if (len > 1 << 20) throw new AgentError(`directory stream is corrupt (entry header of ${len} bytes)`);
      const meta = parseMeta(await r.read(len));
      if (meta.p === "." && type !== T_DIR) throw new AgentError("directory stream is corrupt (its root is not a directory)");
      // Every directory on the way is a real one: never write through a symlink (a/ -> /etc, then a/passwd).
      await tree.checkParents(meta.p);
      const path = meta.p === "." ? target : join(target, meta.p);
      entries++;
      if (type === T_DIR) {
        if (meta.p !== ".") {
          await settleUnder(meta.p);
          await tree.makeDir(meta.p).catch(fail);
        }
        dirs.push(meta);
      } else if (type === T_SYMLINK) {
        await settleUnder(meta.p);
        await tree.replace(meta.p).catch(fail);
        await symlink(meta.l ?? "", path).catch(fail);
        tree.linked(meta.p);
        if (asRoot) await lchown(path, meta.u, meta.g).catch(fail);
        await lutimes(path, meta.t / 1000, meta.t / 1000).catch(fail);
      } else if (type === T_FILE) {
        // A file replaces what is at its path only after the writes there are done.
        await settleUnder(meta.p);
        tree.forget(meta.p);
        const first = await readSegmentHead(r);
        if (first.kind === S_DATA) {
          // Every write under way here belongs to a file in the background: they free the room.
          await budget.room(Math.min(first.len, budget.limit));
          // A copy: the reader's buffers are lent only until its next read.
          const data = Buffer.from(await r.read(first.len));
          const release = budget.take(data.length);
          let next: { kind: number; len: number };
          try {
            next = await readSegmentHead(r);
            if (next.kind === S_END) {
              // Whole small file in hand: write it in the background.
              while (pending.size >= IN_FLIGHT) await Promise.race(pending);
              track(writeSmall(path, meta, data, asRoot).finally(release), meta.p);
              bytes += data.length;
              continue;
            }
            while (pending.size >= IN_FLIGHT) await Promise.race(pending);
          } catch (err) {
            release();
            throw err;
          }
          // Its size counts the first piece too.
          bytes += await writeLarge(r, bufs, hold, budget, track, path, meta, asRoot, { data, release }, next);
        } else {
          while (pending.size >= IN_FLIGHT) await Promise.race(pending);
          bytes += await writeLarge(r, bufs, hold, budget, track, path, meta, asRoot, undefined, first);
        }
      } else {
        throw new AgentError(`directory stream is corrupt (entry type ${type})`);
      }
    }
    await Promise.all(pending);
    if (failure) fail(failure);
    if (!(await r.atEnd())) throw new AgentError("directory stream has data after its end marker");
    for (const d of dirs.reverse()) {
      // A later entry may have replaced it (duplicate entries): only directories still there get metadata.
      if (d.p !== "." && !tree.isDir(d.p)) continue;
      await setDirMeta(d.p === "." ? target : join(target, d.p), d, asRoot).catch(fail);
    }
  } finally {
    await Promise.allSettled(pending);
  }
  return { entries, bytes };
}

async function readSegmentHead(r: ByteReader): Promise<{ kind: number; len: number }> {
  const h = await r.read(5);
  const kind = h[0];
  if (kind !== S_DATA && kind !== S_HOLE && kind !== S_END) throw new AgentError(`directory stream is corrupt (segment kind ${kind})`);
  return { kind, len: h.readUInt32BE(1) };
}

async function create(path: string, mode: number): Promise<FileHandle> {
  try {
    return await open(path, CREATE, mode);
  } catch (err) {
    if (errnoOf(err) !== "EEXIST") throw err;
    // Replace, never follow, whatever is in the way.
    await rm(path, { force: true, recursive: true });
    return await open(path, CREATE, mode);
  }
}

async function finish(fh: FileHandle, meta: EntryMeta, asRoot: boolean): Promise<void> {
  if (asRoot) await fh.chown(meta.u, meta.g);
  // open() honours the umask and chown() clears set-id bits: set the mode last.
  await fh.chmod(meta.m);
  await fh.utimes(meta.t / 1000, meta.t / 1000);
}

async function writeSmall(path: string, meta: EntryMeta, data: Buffer, asRoot: boolean): Promise<void> {
  const fh = await create(path, meta.m & 0o777);
  try {
    let off = 0;
    while (off < data.length) off += (await fh.write(data, off, data.length - off, off)).bytesWritten;
    await finish(fh, meta, asRoot);
  } catch (err) {
    throw new AgentError(`cannot write ${path}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  } finally {
    await fh.close();
  }
}

/** A fixed set of equal buffers; take() waits for one to be given back. */
class BufferPool {
  private readonly free: Buffer[] = [];
  private readonly waiters: ((b: Buffer) => void)[] = [];

  constructor(
    readonly size: number,
    private count: number,
  ) {}

  take(): Promise<Buffer> {
    const b = this.free.pop();
    if (b) return Promise.resolve(b);
    if (this.count > 0) {
      this.count--;
      return Promise.resolve(Buffer.allocUnsafe(this.size));
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  give(b: Buffer): void {
    const w = this.waiters.shift();
    if (w) w(b);
    else this.free.push(b);
  }
}

const NO_RELEASE = (): void => undefined;

/**
 * Writes one file in the background, one write at a time per file (concurrent writes to one
 * file only contend for its inode lock, burning system time); other files' writes run
 * alongside. With `bufs`, appended bytes are copied into pooled buffers, each written whole;
 * without, appended pieces are written where they are (~1 MiB gathered at a time) and
 * released once written.
 */
class BufferedFile {
  private buf?: Buffer;
  private fill = 0;
  private start = 0;
  private pieces: Buffer[] = [];
  private releases: (() => void)[] = [];
  private tail: Promise<void> = Promise.resolve();
  private failure?: unknown;
  pos = 0;

  constructor(
    private readonly fh: FileHandle,
    private readonly bufs: BufferPool | undefined,
  ) {}

  /**
   * Add `b` at the end; `release` is called once `b` is no longer needed: held mode, once it is
   * written or dropped; pool mode, once it is copied (or on failure).
   */
  async append(b: Buffer, release: () => void = NO_RELEASE): Promise<void> {
    if (!this.bufs) {
      if (this.failure) {
        release();
        throw this.failure;
      }
      if (this.fill === 0) this.start = this.pos;
      this.pieces.push(b);
      this.releases.push(release);
      this.fill += b.length;
      this.pos += b.length;
      if (this.fill >= WRITE_BUF) this.flush();
      return;
    }
    try {
      for (let off = 0; off < b.length; ) {
        if (this.failure) throw this.failure;
        if (!this.buf) {
          this.buf = await this.bufs.take();
          this.fill = 0;
          this.start = this.pos;
        }
        const n = copyInto(off === 0 ? b : b.subarray(off), this.buf, this.fill);
        this.fill += n;
        this.pos += n;
        off += n;
        if (this.fill === this.buf.length) this.flush();
      }
    } finally {
      release();
    }
  }

  skip(n: number): void {
    this.flush();
    this.pos += n;
  }

  /** Start writing what is gathered (the writes follow the ones before, in the background). */
  flush(): void {
    if (!this.bufs) {
      if (this.pieces.length === 0) return;
      const pieces = this.pieces;
      const releases = this.releases;
      const at = this.start;
      this.pieces = [];
      this.releases = [];
      this.fill = 0;
      this.tail = this.tail.then(async () => {
        try {
          if (!this.failure) await writeAll(this.fh, pieces, at);
        } catch (err) {
          this.failure ??= err;
        } finally {
          for (const r of releases) r();
        }
      });
      return;
    }
    const buf = this.buf;
    if (!buf) return;
    this.buf = undefined;
    const len = this.fill;
    const at = this.start;
    const bufs = this.bufs;
    this.tail = this.tail.then(async () => {
      try {
        if (!this.failure) for (let off = 0; off < len; ) off += (await this.fh.write(buf, off, len - off, at + off)).bytesWritten;
      } catch (err) {
        this.failure ??= err;
      } finally {
        bufs.give(buf);
      }
    });
  }

  /** Flush and wait for every write; throws the first write error. */
  async done(): Promise<void> {
    this.flush();
    await this.tail;
    if (this.failure) throw this.failure;
  }
}

// Write all of `pieces`, one after the other, at file position `at`, at most WRITE_MAX bytes
// per write.
async function writeAll(fh: FileHandle, pieces: Buffer[], at: number): Promise<void> {
  for (const p of pieces) {
    for (let off = 0; off < p.length; ) off += (await fh.write(p, off, Math.min(WRITE_MAX, p.length - off), at + off)).bytesWritten;
    at += p.length;
  }
}

// Stream a file's segments into buffered background writes; the file is finished (trailing
// hole, owner, mode, times, close) in the background via `track`. `head`: its first piece,
// already read (and counted in `budget` until `release`). Returns its size, head included.
async function writeLarge(
  r: ByteReader,
  bufs: BufferPool | undefined,
  hold: (() => () => void) | undefined,
  budget: ByteBudget,
  track: (p: Promise<void>, rel: string) => void,
  path: string,
  meta: EntryMeta,
  asRoot: boolean,
  head: { data: Buffer; release: () => void } | undefined,
  seg: { kind: number; len: number },
): Promise<number> {
  const fh = await create(path, meta.m & 0o777).catch((err: unknown) => {
    head?.release();
    throw new AgentError(`cannot write ${path}: ${errnoOf(err) ?? String(err)}`, { cause: err });
  });
  const out = new BufferedFile(fh, bufs);
  const wrap = (err: unknown): AgentError => (err instanceof AgentError ? err : new AgentError(`cannot write ${path}: ${errnoOf(err) ?? String(err)}`, { cause: err }));
  try {
    if (head) await out.append(head.data, head.release);
    while (seg.kind !== S_END) {
      if (seg.kind === S_HOLE) out.skip(seg.len);
      else for (let left = seg.len; left > 0; ) {
        const want = Math.min(left, budget.limit);
        if (!budget.fits(want)) {
          // What this file has gathered must go out too, or it could be all that holds the room.
          out.flush();
          await budget.room(want);
        }
        const b = await r.readSome(left);
        // Held mode: keep the chunk `b` lies in until its write is done.
        const held = hold?.();
        const counted = budget.take(b.length);
        await out.append(b, held ? () => {
          held();
          counted();
        } : counted);
        left -= b.length;
      }
      seg = await readSegmentHead(r);
    }
  } catch (err) {
    // Let the writes already under way finish (they hold verified bytes) before the file closes.
    await out.done().catch(() => undefined);
    await fh.close().catch(() => undefined);
    throw wrap(err);
  }
  const size = out.pos;
  track(
    (async () => {
      try {
        await out.done();
        // Trailing holes: extend without writing, so the file stays sparse.
        await fh.truncate(size);
        await finish(fh, meta, asRoot);
      } catch (err) {
        throw wrap(err);
      } finally {
        await fh.close();
      }
    })(),
    meta.p,
  );
  return size;
}
