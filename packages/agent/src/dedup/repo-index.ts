// The index: chunk id -> where its blob is (pack, offset, length). Index files list, per pack,
// the pack's entries (packfile.ts), so loading every index file gives the whole map without
// reading a pack. A file (plaintext, then sealed with its name as AAD):
//   u8 version (1) | per pack: 32 B pack name (raw) | u32 BE count | count entries (ENTRY_LEN)
// A backup writes one after its packs are stored (and one every INDEX_EVERY packs on the way),
// before its snapshot: a snapshot never names a chunk that no index file locates.
import { AgentError } from "../errors.ts";
import type { BlobType } from "./format.ts";
import { ENTRY_LEN, type PackEntry, readEntry, writeEntry } from "./packfile.ts";

const VERSION = 1;

export interface IndexedPack {
  pack: string;
  entries: PackEntry[];
}

/** Where a blob is. */
export interface Location {
  pack: string;
  type: BlobType;
  flags: number;
  offset: number;
  length: number;
  rawLength: number;
}

/** The in-memory map of a repo's index files (hex id -> location; the first one listed wins). */
export class RepoIndex {
  private readonly byId = new Map<string, Location>();
  /** Packs the index files list, with how many blobs each holds. */
  readonly packs = new Map<string, number>();
  /** Entries added for a chunk already located elsewhere (the same chunk stored twice). */
  duplicates = 0;

  get size(): number {
    return this.byId.size;
  }

  has(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Location | undefined {
    return this.byId.get(id);
  }

  add(p: IndexedPack): void {
    this.packs.set(p.pack, p.entries.length);
    for (const e of p.entries) {
      const id = e.id.toString("hex");
      if (!this.byId.has(id)) this.byId.set(id, { pack: p.pack, type: e.type, flags: e.flags, offset: e.offset, length: e.length, rawLength: e.rawLength });
      else this.duplicates++;
    }
  }
}

export function encodeIndexFile(packs: readonly IndexedPack[]): Buffer {
  const size = 1 + packs.reduce((n, p) => n + 36 + p.entries.length * ENTRY_LEN, 0);
  const b = Buffer.alloc(size);
  b.writeUInt8(VERSION, 0);
  let at = 1;
  for (const p of packs) {
    Buffer.from(p.pack, "hex").copy(b, at);
    b.writeUInt32BE(p.entries.length, at + 32);
    at += 36;
    for (const e of p.entries) {
      writeEntry(e, b, at);
      at += ENTRY_LEN;
    }
  }
  return b;
}

export function decodeIndexFile(b: Buffer, name: string): IndexedPack[] {
  const bad = (why: string): AgentError => new AgentError(`index file ${name} is corrupt (${why})`);
  if (b.length < 1 || b.readUInt8(0) !== VERSION) throw bad("unknown version");
  const packs: IndexedPack[] = [];
  let at = 1;
  while (at < b.length) {
    if (at + 36 > b.length) throw bad("truncated");
    const pack = b.subarray(at, at + 32).toString("hex");
    const count = b.readUInt32BE(at + 32);
    at += 36;
    if (at + count * ENTRY_LEN > b.length) throw bad("truncated");
    const entries: PackEntry[] = [];
    for (let i = 0; i < count; i++, at += ENTRY_LEN) {
      const e = readEntry(b, at);
      if (!e) throw bad(`unknown blob type or flags in pack ${pack}`);
      entries.push(e);
    }
    packs.push({ pack, entries });
  }
  return packs;
}
