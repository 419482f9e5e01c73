// From a snapshot's tree back to bytes: a stream's content, or the directory stream
// (archive/format.ts) that pull-dir's unpacker (archive/unpack.ts) writes into a target, so a
// dedup restore gets the same guarantees as pull-dir (nothing written outside the target,
// symlinks never followed, holes restored sparse, modes, owners and times). Chunks are read a
// few ahead; each is verified before a byte of it is yielded.
import { MAX_SEGMENT, ARCHIVE_MAGIC, S_DATA, S_END, S_HOLE, T_DIR, T_FILE, T_SYMLINK, encodeEntry, segmentHead } from "../archive/format.ts";
import { AgentError } from "../errors.ts";
import type { BlobReader } from "./blob-reader.ts";
import { ahead } from "./prefetch.ts";
import type { TreeEntry } from "./tree.ts";

const READ_AHEAD = 8;
const ZEROS = Buffer.alloc(1 << 20);

type Task = { kind: "entry"; e: TreeEntry } | { kind: "chunk"; id: string } | { kind: "hole"; n: number } | { kind: "end"; e: TreeEntry };

async function* tasks(entries: AsyncIterable<TreeEntry>): AsyncGenerator<Task> {
  for await (const e of entries) {
    yield { kind: "entry", e };
    if (!e.c) continue;
    for (const x of e.c) yield typeof x === "number" ? { kind: "hole", n: x } : { kind: "chunk", id: x };
    yield { kind: "end", e };
  }
}

function work(reader: BlobReader): (t: Task) => Promise<Buffer> | undefined {
  return (t) => (t.kind === "chunk" ? reader.read(t.id) : undefined);
}

function sizeMismatch(e: TreeEntry, got: number): AgentError {
  return new AgentError(`snapshot tree is corrupt: ${JSON.stringify(e.p)} has ${got} bytes of content for a size of ${e.s}`);
}

/** The directory stream of a "dir" snapshot's entries. */
export async function* archiveStream(entries: AsyncIterable<TreeEntry>, reader: BlobReader): AsyncGenerator<Buffer> {
  yield ARCHIVE_MAGIC;
  let got = 0;
  for await (const { item: t, result } of ahead(tasks(entries), work(reader), READ_AHEAD)) {
    switch (t.kind) {
      case "entry": {
        const { e } = t;
        const meta = { p: e.p, m: e.m ?? 0, u: e.u ?? 0, g: e.g ?? 0, t: e.t ?? 0 };
        if (e.k === "d") yield encodeEntry(T_DIR, meta);
        else if (e.k === "l") yield encodeEntry(T_SYMLINK, { ...meta, l: e.l });
        else if (e.k === "f") yield encodeEntry(T_FILE, { ...meta, s: e.s });
        else throw new AgentError(`snapshot tree is corrupt: a stream (${JSON.stringify(e.p)}) in a directory snapshot`);
        got = 0;
        break;
      }
      case "chunk":
        got += result!.length;
        yield segmentHead(S_DATA, result!.length);
        yield result!;
        break;
      case "hole":
        got += t.n;
        for (let left = t.n; left > 0; left -= MAX_SEGMENT) yield segmentHead(S_HOLE, Math.min(left, MAX_SEGMENT));
        break;
      case "end":
        if (got !== t.e.s) throw sizeMismatch(t.e, got);
        yield segmentHead(S_END, 0);
        break;
    }
  }
  yield Buffer.from([0]);
}

/** The bytes of one stream entry (holes as zeros). */
export async function* streamContent(e: TreeEntry, reader: BlobReader): AsyncGenerator<Buffer> {
  let got = 0;
  async function* only(): AsyncGenerator<TreeEntry> {
    yield e;
  }
  for await (const { item: t, result } of ahead(tasks(only()), work(reader), READ_AHEAD)) {
    if (t.kind === "chunk") {
      got += result!.length;
      yield result!;
    } else if (t.kind === "hole") {
      got += t.n;
      for (let left = t.n; left > 0; left -= ZEROS.length) yield ZEROS.subarray(0, Math.min(left, ZEROS.length));
    }
  }
  if (got !== e.s) throw sizeMismatch(e, got);
}
