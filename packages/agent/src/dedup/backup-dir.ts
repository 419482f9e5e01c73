// A directory tree as snapshot tree entries (tree.ts), storing the content of every file that
// may have changed. A file whose size, mtime, ctime and inode are those the parent snapshot
// recorded (and whose chunks the repo still has) is taken from the parent without being opened,
// as restic does; anything else is read. Except a "racy" one (as git calls it): a file whose
// ctime is less than RACY_MS before the parent backup started may have been rewritten after the
// parent read it within the same timestamp tick (the kernel stamps files from a coarse clock,
// ~4 ms, and some filesystems keep whole seconds), same size, same stamps: it is read again.
// Up to READ_AHEAD items are prepared ahead of the one being stored (parent lookup, open, and
// small files read whole), as push-dir reads ahead: small files cost filesystem round trips,
// not bytes, and one at a time they would dominate.
import type { BigIntStats } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import type { ContentStore } from "./content.ts";
import type { PackWriter } from "./pack-writer.ts";
import { ahead } from "./prefetch.ts";
import type { Content, ParentCursor, TreeEntry } from "./tree.ts";
import { type WalkItem, fileBytes, walkDir } from "./walk.ts";

const READ_AHEAD = 64;
/** Files changed this close to (or after) the parent backup's start are read again (see above); 2 s covers FAT's stamps. */
const RACY_MS = 2000n;
// Files up to this size are read whole while being prepared (at most READ_AHEAD * SMALL in memory).
const SMALL = 256 << 10;

export interface DirStats {
  files: number;
  dirs: number;
  bytes: number;
  unchanged: number;
}

type Prepared =
  | { kind: "entry"; e: TreeEntry; unchanged?: boolean }
  | { kind: "skip"; warning?: string }
  | { kind: "small"; rel: string; st: BigIntStats; data: Buffer; was?: Content }
  | { kind: "large"; rel: string; st: BigIntStats; fh: FileHandle; was?: Content };

function meta(rel: string, st: BigIntStats): Pick<TreeEntry, "p" | "m" | "u" | "g" | "t"> {
  return { p: rel, m: Number(st.mode & 0o7777n), u: Number(st.uid), g: Number(st.gid), t: Number(st.mtimeNs) / 1e6 };
}

function fileEntry(rel: string, st: BigIntStats, size: number, c: TreeEntry["c"]): TreeEntry {
  return { ...meta(rel, st), k: "f", s: size, i: String(st.ino), mn: String(st.mtimeNs), cn: String(st.ctimeNs), c };
}

/** The parent snapshot to take unchanged files from, and when it started (ns since the epoch). */
export interface Parent {
  cursor: ParentCursor;
  startedNs: bigint;
}

/** Whether the parent's entry stands for the file as it is now (exported for its test). */
export function unchanged(prev: TreeEntry | undefined, st: BigIntStats, parent: Parent, writer: Pick<PackWriter, "has">): prev is TreeEntry & { c: NonNullable<TreeEntry["c"]> } {
  return (
    prev !== undefined && prev.k === "f" && prev.s === Number(st.size) && prev.mn === String(st.mtimeNs) && prev.cn === String(st.ctimeNs) &&
    prev.i === String(st.ino) && st.ctimeNs < parent.startedNs - RACY_MS * 1_000_000n &&
    prev.c !== undefined && prev.c.every((x) => typeof x === "number" || writer.has(x))
  );
}

async function readWhole(fh: FileHandle, size: number): Promise<Buffer> {
  // Up to the end, which may have moved since the fstat.
  let buf = Buffer.allocUnsafe(Math.max(size, 4096));
  let off = 0;
  for (;;) {
    if (off === buf.length) buf = Buffer.concat([buf, Buffer.allocUnsafe(buf.length)]);
    const { bytesRead } = await fh.read(buf, off, buf.length - off, off);
    if (bytesRead === 0) return buf.subarray(0, off);
    off += bytesRead;
  }
}

async function prepare(item: WalkItem, parent: Parent | undefined, writer: PackWriter): Promise<Prepared> {
  const { rel, st } = item;
  switch (item.kind) {
    case "dir":
      return { kind: "entry", e: { ...meta(rel, st), k: "d" } };
    case "symlink":
      return { kind: "entry", e: { ...meta(rel, st), k: "l", l: item.link } };
    case "other":
      return { kind: "skip", warning: `skipping ${rel}: not a regular file, directory or symlink` };
  }
  let prev: TreeEntry | undefined;
  try {
    prev = await parent?.cursor.find(rel);
  } catch (err) {
    await item.skip!();
    throw err;
  }
  if (parent && unchanged(prev, st, parent, writer)) {
    await item.skip!();
    return { kind: "entry", e: fileEntry(rel, st, prev.s ?? 0, prev.c), unchanged: true };
  }
  const opened = await item.open!();
  switch (opened.kind) {
    case "gone":
      return { kind: "skip" };
    case "symlink":
      return { kind: "entry", e: { ...meta(rel, opened.st), k: "l", l: opened.link } };
    case "other":
      return { kind: "skip", warning: `skipping ${rel}: not a regular file any more` };
  }
  // The metadata of what was opened (fstat before reading): a change while reading shows in the next backup's comparison.
  // A file the parent had is stored against the parent's content (patches: content.ts).
  const was = prev?.k === "f" ? prev.c : undefined;
  if (opened.st.size > BigInt(SMALL)) return { kind: "large", rel, st: opened.st, fh: opened.fh, was };
  try {
    return { kind: "small", rel, st: opened.st, data: await readWhole(opened.fh, Number(opened.st.size)), was };
  } finally {
    await opened.fh.close();
  }
}

export async function* dirEntries(
  root: string,
  data: ContentStore,
  writer: PackWriter,
  parent: Parent | undefined,
  stats: DirStats,
  warn: (line: string) => void,
): AsyncGenerator<TreeEntry> {
  const bufs = [Buffer.allocUnsafe(1 << 20), Buffer.allocUnsafe(1 << 20)] as const;
  // Large files opened ahead and not yet read: closed if the backup stops early.
  const opened = new Set<FileHandle>();
  const work = (item: WalkItem): Promise<Prepared> =>
    prepare(item, parent, writer).then((p) => {
      if (p.kind === "large") opened.add(p.fh);
      return p;
    });
  try {
    for await (const { result } of ahead(walkDir(root), work, READ_AHEAD)) {
      const p = result!;
      switch (p.kind) {
        case "skip":
          if (p.warning) warn(p.warning);
          break;
        case "entry":
          if (p.e.k === "d") stats.dirs++;
          if (p.e.k === "f") {
            stats.files++;
            stats.bytes += p.e.s ?? 0;
            if (p.unchanged) stats.unchanged++;
          }
          yield p.e;
          break;
        case "small": {
          const { size, content } = await data.store([p.data], p.was);
          stats.files++;
          stats.bytes += size;
          yield fileEntry(p.rel, p.st, size, content);
          break;
        }
        case "large": {
          opened.delete(p.fh);
          const { size, content } = await data.store(fileBytes(p.fh, bufs), p.was);
          stats.files++;
          stats.bytes += size;
          yield fileEntry(p.rel, p.st, size, content);
          break;
        }
      }
    }
  } finally {
    await Promise.all([...opened].map((fh) => fh.close().catch(() => undefined)));
  }
}
