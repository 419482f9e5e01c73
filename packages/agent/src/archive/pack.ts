import type { Dirent, Stats } from "node:fs";
import { lstat, open, opendir, readlink } from "node:fs/promises";
import { join } from "node:path";
import { AgentError, errnoOf } from "../errors.ts";
import { ARCHIVE_MAGIC, MAX_SEGMENT, S_DATA, S_END, S_HOLE, T_DIR, T_FILE, T_SYMLINK, encodeEntry, segmentHead } from "./format.ts";

const BLOCK = 1 << 20;
// Files up to this size are read whole, several at a time, ahead of the writer.
const SMALL = 256 * 1024;
const READ_AHEAD = 64;
const ZERO = Buffer.alloc(BLOCK);

interface Item {
  rel: string;
  path: string;
  st: Stats;
  link?: string;
  content?: Buffer;
}

/**
 * Yield the archive stream of `root`, pre-order, names sorted; warns on stderr about
 * skipped special files. A yielded buffer is valid until the next one is asked for.
 */
export async function* packDir(root: string, warn: (msg: string) => void = () => undefined): AsyncGenerator<Buffer> {
  const st = await lstat(root).catch((err: unknown) => {
    throw new AgentError(`cannot read directory ${root}: ${errnoOf(err) ?? String(err)}`);
  });
  if (!st.isDirectory()) throw new AgentError(`${root} is not a directory`);
  yield ARCHIVE_MAGIC;
  for await (const item of readAhead(walk(root, "."), READ_AHEAD)) {
    const { st: s, rel } = item;
    const base = { p: rel, m: s.mode & 0o7777, u: s.uid, g: s.gid, t: s.mtimeMs };
    if (s.isDirectory()) yield encodeEntry(T_DIR, base);
    else if (s.isSymbolicLink()) yield encodeEntry(T_SYMLINK, { ...base, l: item.link });
    else if (s.isFile()) {
      yield encodeEntry(T_FILE, { ...base, s: s.size });
      if (item.content) yield* fileSegments(item.content);
      else yield* streamFile(item.path, rel);
      yield segmentHead(S_END, 0);
    } else warn(`skipping ${rel}: not a regular file, directory or symlink`);
  }
  yield Buffer.from([0]);
}

// Pre-order walk; the Dirent type spares an lstat to decide whether to descend.
async function* walk(root: string, rel: string): AsyncGenerator<{ rel: string; path: string; dir: boolean }> {
  const path = rel === "." ? root : join(root, rel);
  yield { rel, path, dir: true };
  const ents: Dirent[] = [];
  try {
    for await (const d of await opendir(path, { bufferSize: 256 })) ents.push(d);
  } catch (err) {
    throw new AgentError(`cannot list ${path}: ${errnoOf(err) ?? String(err)}`);
  }
  ents.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const d of ents) {
    const r = rel === "." ? d.name : `${rel}/${d.name}`;
    if (d.isDirectory()) yield* walk(root, r);
    else yield { rel: r, path: join(root, r), dir: false };
  }
}

// Keep up to `n` lstat+read operations in flight while preserving order.
async function* readAhead(src: AsyncGenerator<{ rel: string; path: string }>, n: number): AsyncGenerator<Item> {
  const queue: Promise<Item>[] = [];
  let exhausted = false;
  for (;;) {
    while (!exhausted && queue.length < n) {
      const next = await src.next();
      if (next.done) exhausted = true;
      else {
        const p = load(next.value.rel, next.value.path);
        p.catch(() => undefined); // awaited below in order
        queue.push(p);
      }
    }
    const head = queue.shift();
    if (!head) return;
    yield await head;
  }
}

async function load(rel: string, path: string): Promise<Item> {
  try {
    const st = await lstat(path);
    if (st.isSymbolicLink()) return { rel, path, st, link: await readlink(path) };
    if (st.isFile() && st.size <= SMALL) {
      const fh = await open(path, "r");
      try {
        const buf = Buffer.allocUnsafe(st.size);
        let off = 0;
        while (off < st.size) {
          const { bytesRead } = await fh.read(buf, off, st.size - off, off);
          if (bytesRead === 0) break;
          off += bytesRead;
        }
        return { rel, path, st, content: buf.subarray(0, off) };
      } finally {
        await fh.close();
      }
    }
    return { rel, path, st };
  } catch (err) {
    throw new AgentError(`cannot read ${path}: ${errnoOf(err) ?? String(err)}`);
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
async function* streamFile(path: string, rel: string): AsyncGenerator<Buffer> {
  const fh = await open(path, "r").catch((err: unknown) => {
    throw new AgentError(`cannot read ${rel}: ${errnoOf(err) ?? String(err)}`);
  });
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
