import { constants, type Dirent, type Stats } from "node:fs";
import { type FileHandle, lstat, open, opendir, readlink } from "node:fs/promises";
import { AgentError, errnoOf } from "../errors.ts";
import { ARCHIVE_MAGIC, MAX_SEGMENT, S_DATA, S_END, S_HOLE, T_DIR, T_FILE, T_SYMLINK, encodeEntry, segmentHead } from "./format.ts";

const BLOCK = 1 << 20;
// Files up to this size are read whole, several at a time, ahead of the writer.
const SMALL = 256 * 1024;
const READ_AHEAD = 64;
const ZERO = Buffer.alloc(BLOCK);

interface Item {
  rel: string;
  st: Stats;
  link?: string;
  content?: Buffer;
  /** A large file, opened (O_NOFOLLOW inside its pinned directory) and read by streamFile. */
  fh?: FileHandle;
}

/** Test hook: called before each directory or file below the root is opened (the race window). */
export type BeforeOpen = (rel: string) => Promise<void>;

/**
 * Yield the archive stream of `root`, pre-order, names sorted; warns on stderr about
 * skipped special files. A yielded buffer is valid until the next one is asked for.
 *
 * The walk cannot be led out of `root`: every directory is opened O_DIRECTORY|O_NOFOLLOW and
 * kept open while its entries are read, and each entry is reached through that handle
 * (/proc/self/fd/N/name), never by a path that a symlink swapped in during the walk could
 * redirect; files are opened O_NOFOLLOW the same way.
 */
export async function* packDir(root: string, warn: (msg: string) => void = () => undefined, beforeOpen?: BeforeOpen): AsyncGenerator<Buffer> {
  const st = await lstat(root).catch((err: unknown) => {
    throw new AgentError(`cannot read directory ${root}: ${errnoOf(err) ?? String(err)}`);
  });
  if (!st.isDirectory()) throw new AgentError(`${root} is not a directory`);
  const top = await openDir(root, ".");
  if (!top) throw new AgentError(`${root} is not a directory`);
  yield ARCHIVE_MAGIC;
  for await (const item of readAhead(walk(top, ".", beforeOpen), READ_AHEAD, beforeOpen)) {
    const { st: s, rel } = item;
    const base = { p: rel, m: s.mode & 0o7777, u: s.uid, g: s.gid, t: s.mtimeMs };
    if (s.isDirectory()) yield encodeEntry(T_DIR, base);
    else if (s.isSymbolicLink()) yield encodeEntry(T_SYMLINK, { ...base, l: item.link });
    else if (s.isFile()) {
      yield encodeEntry(T_FILE, { ...base, s: s.size });
      if (item.content) yield* fileSegments(item.content);
      else if (item.fh) yield* streamFile(item.fh);
      yield segmentHead(S_END, 0);
    } else warn(`skipping ${rel}: not a regular file, directory or symlink`);
  }
  yield Buffer.from([0]);
}

/** An open directory, closed once the walk and every entry read through it are done with it. */
class PinnedDir {
  private refs = 1;
  constructor(
    readonly fh: FileHandle,
    readonly st: Stats,
  ) {}

  /** The path of `name` inside this very directory, whatever its path has become. */
  entry(name: string): string {
    return `/proc/self/fd/${this.fh.fd}/${name}`;
  }

  hold(): this {
    this.refs++;
    return this;
  }

  async release(): Promise<void> {
    if (--this.refs === 0) await this.fh.close();
  }
}

/** Opens a directory without following a symlink; undefined when it is not a directory (any more). */
async function openDir(path: string, rel: string): Promise<PinnedDir | undefined> {
  let fh: FileHandle;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  } catch (err) {
    const code = errnoOf(err);
    if (code === "ELOOP" || code === "ENOTDIR") return undefined;
    throw new AgentError(`cannot read ${rel}: ${code ?? String(err)}`);
  }
  return new PinnedDir(fh, await fh.stat());
}

type Walked = { rel: string; dir: PinnedDir; name?: undefined } | { rel: string; parent: PinnedDir; name: string };

// Pre-order walk; the Dirent type spares an lstat to decide whether to descend.
async function* walk(dir: PinnedDir, rel: string, beforeOpen?: BeforeOpen): AsyncGenerator<Walked> {
  try {
    yield { rel, dir };
    const ents: Dirent[] = [];
    try {
      for await (const d of await opendir(dir.entry("."), { bufferSize: 256 })) ents.push(d);
    } catch (err) {
      throw new AgentError(`cannot list ${rel}: ${errnoOf(err) ?? String(err)}`);
    }
    ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const d of ents) {
      const r = rel === "." ? d.name : `${rel}/${d.name}`;
      if (d.isDirectory()) {
        await beforeOpen?.(r);
        const sub = await openDir(dir.entry(d.name), r);
        // Replaced by something else since it was listed: take it as what it is now.
        if (!sub) yield { rel: r, parent: dir.hold(), name: d.name };
        else yield* walk(sub, r, beforeOpen);
      } else yield { rel: r, parent: dir.hold(), name: d.name };
    }
  } finally {
    await dir.release();
  }
}

// Keep up to `n` lstat+read operations in flight while preserving order.
async function* readAhead(src: AsyncGenerator<Walked>, n: number, beforeOpen?: BeforeOpen): AsyncGenerator<Item> {
  const queue: Promise<Item>[] = [];
  let exhausted = false;
  for (;;) {
    while (!exhausted && queue.length < n) {
      const next = await src.next();
      if (next.done) exhausted = true;
      else {
        const w = next.value;
        const p = w.name === undefined ? Promise.resolve({ rel: w.rel, st: w.dir.st }) : load(w.rel, w.parent, w.name, beforeOpen).finally(() => w.parent.release());
        p.catch(() => undefined); // awaited below in order
        queue.push(p);
      }
    }
    const head = queue.shift();
    if (!head) return;
    yield await head;
  }
}

async function load(rel: string, parent: PinnedDir, name: string, beforeOpen?: BeforeOpen): Promise<Item> {
  const path = parent.entry(name);
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return { rel, st, link: await readlink(path) };
    if (!st.isFile()) return { rel, st };
    await beforeOpen?.(rel);
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      // Swapped for a symlink after the lstat: store the link, never what it points to.
      if (errnoOf(err) === "ELOOP") return { rel, st: await lstat(path), link: await readlink(path) };
      throw err;
    }
    const fst = await fh.stat();
    if (!fst.isFile()) {
      await fh.close();
      return { rel, st: fst };
    }
    if (fst.size > SMALL) return { rel, st: fst, fh };
    try {
      const buf = Buffer.allocUnsafe(fst.size);
      let off = 0;
      while (off < fst.size) {
        const { bytesRead } = await fh.read(buf, off, fst.size - off, off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return { rel, st: fst, content: buf.subarray(0, off) };
    } finally {
      await fh.close();
    }
  } catch (err) {
    throw new AgentError(`cannot read ${rel}: ${errnoOf(err) ?? String(err)}`);
  }
}

function* fileSegments(content: Buffer): Generator<Buffer> {
  if (content.length === 0) return;
  if (content.length >= 4096 && content.equals(ZERO.subarray(0, content.length))) {
    yield segmentHead(S_HOLE, content.length);
    return;
  }
  yield segmentHead(S_DATA, content.length);
  yield content;
}

// Large files: 1 MiB blocks; all-zero blocks become holes (merged) so sparse files stay small.
async function* streamFile(fh: FileHandle): AsyncGenerator<Buffer> {
  try {
    let hole = 0;
    // One buffer per file: the consumer is done with a block when it asks for the next.
    const buf = Buffer.allocUnsafe(BLOCK);
    for (;;) {
      const { bytesRead } = await fh.read(buf, 0, BLOCK, null);
      if (bytesRead === 0) break;
      const block = buf.subarray(0, bytesRead);
      if (block.equals(ZERO.subarray(0, bytesRead))) {
        hole += bytesRead;
        if (hole >= MAX_SEGMENT) {
          yield segmentHead(S_HOLE, hole);
          hole = 0;
        }
        continue;
      }
      if (hole > 0) yield segmentHead(S_HOLE, hole);
      hole = 0;
      yield segmentHead(S_DATA, bytesRead);
      yield block;
    }
    if (hole > 0) yield segmentHead(S_HOLE, hole);
  } finally {
    await fh.close();
  }
}
