// A snapshot's tree: one JSON line per entry, in walk order (pre-order, names sorted: the order
// comparePaths gives), stored as tree blobs cut by the chunker (TREE_CDC), so an unchanged part
// of a tree is shared with the previous snapshot's.
//   {"p": path (posix, relative; "." the root), "k": kind, ...}
//   k "d" directory, "f" file, "l" symlink: m (mode bits), u, g (owner), t (mtime, ms) as push-dir
//     keeps them (archive/format.ts); "l": l (link target);
//   k "f" also: s (size), i (inode), mn, cn (mtime and ctime, ns, decimal strings): what the next
//     backup compares to skip an unchanged file;
//   k "s" a stream (push from stdin): s (size);
//   "f" and "s": c, the content: chunk ids (hex) and holes (a number: that many zero bytes).
import { StringDecoder } from "node:string_decoder";
import { safeRelPath } from "../archive/format.ts";
import { AgentError } from "../errors.ts";
import { isHexId } from "./ids.ts";

/** Chunk ids (hex) and holes (runs of zero bytes, by length), in order. */
export type Content = (string | number)[];

export type EntryKind = "d" | "f" | "l" | "s";

export interface TreeEntry {
  p: string;
  k: EntryKind;
  m?: number;
  u?: number;
  g?: number;
  t?: number;
  s?: number;
  l?: string;
  i?: string;
  mn?: string;
  cn?: string;
  c?: Content;
}

export function entryLine(e: TreeEntry): string {
  return `${JSON.stringify(e)}\n`;
}

const DIGITS = /^[0-9]{1,24}$/;
const isNat = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;

/** Parse and check one line: a tree read from the repo decides what a restore writes where. */
export function parseEntry(line: string): TreeEntry {
  let e: TreeEntry;
  try {
    e = JSON.parse(line) as TreeEntry;
  } catch {
    throw new AgentError("snapshot tree is corrupt (an entry is not JSON)");
  }
  const bad = (why: string): AgentError => new AgentError(`snapshot tree is corrupt (${why} in entry ${JSON.stringify(line.slice(0, 100))})`);
  if (!e || typeof e !== "object" || typeof e.p !== "string" || !safeRelPath(e.p)) throw bad("an unsafe path");
  if (!["d", "f", "l", "s"].includes(e.k)) throw bad("an unknown kind");
  if (e.k !== "s") {
    for (const f of ["m", "u", "g"] as const) if (!isNat(e[f])) throw bad(`no ${f}`);
    if (typeof e.t !== "number" || !Number.isFinite(e.t) || e.t < 0) throw bad("no t");
  }
  if (e.p === "." && e.k !== "d") throw bad("a root that is not a directory");
  if (e.k === "s" && e.p === ".") throw bad("a stream without a name");
  if (e.k === "l" && (typeof e.l !== "string" || e.l.includes("\0"))) throw bad("no link target");
  if (e.k === "f" || e.k === "s") {
    if (!isNat(e.s)) throw bad("no size");
    if (!Array.isArray(e.c) || !e.c.every((x) => isHexId(x) || (isNat(x) && x > 0))) throw bad("bad content");
  } else if (e.c !== undefined) throw bad("content in a directory or symlink");
  for (const f of ["i", "mn", "cn"] as const) if (e[f] !== undefined && (typeof e[f] !== "string" || !DIGITS.test(e[f]))) throw bad(`bad ${f}`);
  return e;
}

/** The entries of a tree given as its bytes in order (lines may span pieces). */
export async function* treeEntries(bytes: AsyncIterable<Buffer>): AsyncGenerator<TreeEntry> {
  let rest = "";
  // A piece may end inside a multi-byte character.
  const utf8 = new StringDecoder("utf8");
  for await (const b of bytes) {
    const text = rest + utf8.write(b);
    const lines = text.split("\n");
    rest = lines.pop() ?? "";
    for (const line of lines) yield parseEntry(line);
  }
  rest += utf8.end();
  if (rest !== "") throw new AgentError("snapshot tree is corrupt (its last entry is cut off)");
}

/**
 * Walk order: component by component, a directory's entries right after it. "." comes first.
 * (Plain string order would put "a.txt" between "a" and "a/b".)
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  if (a === ".") return -1;
  if (b === ".") return 1;
  const x = a.split("/");
  const y = b.split("/");
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    if (x[i] !== y[i]) return x[i] < y[i] ? -1 : 1;
  }
  return x.length - y.length;
}

/**
 * Finds entries of a tree (the parent snapshot's) by path while walking a directory in the same
 * order: one pass over the parent tree, whatever its size.
 */
export class ParentCursor {
  private current?: TreeEntry;
  private done = false;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(private readonly it: AsyncIterator<TreeEntry>) {}

  /** The entry at `p`, if any. Calls must come in walk order; they may overlap (they run one after the other). */
  find(p: string): Promise<TreeEntry | undefined> {
    const found = this.tail.then(() => this.seek(p));
    this.tail = found.catch(() => undefined);
    return found;
  }

  private async seek(p: string): Promise<TreeEntry | undefined> {
    for (;;) {
      if (!this.current) {
        if (this.done) return undefined;
        const next = await this.it.next();
        if (next.done) {
          this.done = true;
          return undefined;
        }
        this.current = next.value;
      }
      const c = comparePaths(this.current.p, p);
      if (c === 0) return this.current;
      if (c > 0) return undefined;
      this.current = undefined;
    }
  }

  async close(): Promise<void> {
    await this.tail;
    if (!this.done) await this.it.return?.(undefined);
  }
}
