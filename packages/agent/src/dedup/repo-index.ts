// The index: chunk id -> where its blob is (pack, offset, length). Index files list, per pack,
// the pack's entries (packfile.ts), so loading every index file gives the whole map without
// reading a pack. A file (plaintext, then sealed with its name as AAD):
//   u8 version (2; 1 is read too) | per pack: 32 B pack name (raw) | u32 BE count | count entries
// A chunk stored more than once (two backups at once, an interrupted prune) is located at its
// first whole (data or tree) copy when it has one, else its first patch: a patch's base must be
// read whole (patch.ts).
// A backup writes one after its packs are stored (and one every INDEX_EVERY packs on the way),
// before its snapshot: a snapshot never names a chunk that no index file locates.
import { AgentError } from "../errors.ts";
import { BLOB_DATA, BLOB_PATCH, type BlobType } from "./format.ts";
import { ENTRIES_V1, ENTRIES_V2, ENTRY_LEN, type PackEntry, entryLength, readEntry, writeEntry } from "./packfile.ts";

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
  /** The chunk's length: rawLength, except for a patch. */
  size: number;
  /** A patch's base chunks (hex). */
  bases?: string[];
}

export function locationOf(pack: string, e: PackEntry): Location {
  const loc: Location = { pack, type: e.type, flags: e.flags, offset: e.offset, length: e.length, rawLength: e.rawLength, size: e.patch?.size ?? e.rawLength };
  if (e.patch) loc.bases = e.patch.bases.map((b) => b.toString("hex"));
  return loc;
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

  /**
   * Whether chunk `id` can be read: located, and a patch's bases located whole. (A prune deletes
   * what no snapshot needs; an unused patch may stay in a kept pack after its bases went.)
   */
  has(id: string): boolean {
    const loc = this.byId.get(id);
    return loc !== undefined && (loc.bases === undefined || loc.bases.every((b) => this.byId.get(b)?.type === BLOB_DATA));
  }

  /** Whether `id` is located at all (a patch whose bases are gone included). */
  locates(id: string): boolean {
    return this.byId.has(id);
  }

  get(id: string): Location | undefined {
    return this.byId.get(id);
  }

  add(p: IndexedPack): void {
    this.packs.set(p.pack, p.entries.length);
    for (const e of p.entries) {
      const id = e.id.toString("hex");
      const had = this.byId.get(id);
      if (had) this.duplicates++;
      if (!had || (had.type === BLOB_PATCH && e.type !== BLOB_PATCH)) this.byId.set(id, locationOf(p.pack, e));
    }
  }
}

export function encodeIndexFile(packs: readonly IndexedPack[]): Buffer {
  const size = 1 + packs.reduce((n, p) => n + 36 + p.entries.reduce((m, e) => m + entryLength(e), 0), 0);
  const b = Buffer.alloc(size);
  b.writeUInt8(ENTRIES_V2, 0);
  let at = 1;
  for (const p of packs) {
    Buffer.from(p.pack, "hex").copy(b, at);
    b.writeUInt32BE(p.entries.length, at + 32);
    at += 36;
    for (const e of p.entries) at = writeEntry(e, b, at);
  }
  return b;
}

export function decodeIndexFile(b: Buffer, name: string): IndexedPack[] {
  const bad = (why: string): AgentError => new AgentError(`index file ${name} is corrupt (${why})`);
  const version = b.length >= 1 ? b.readUInt8(0) : 0;
  if (version !== ENTRIES_V1 && version !== ENTRIES_V2) throw bad("unknown version");
  const packs: IndexedPack[] = [];
  let at = 1;
  while (at < b.length) {
    if (at + 36 > b.length) throw bad("truncated");
    const pack = b.subarray(at, at + 32).toString("hex");
    const count = b.readUInt32BE(at + 32);
    at += 36;
    if (at + count * ENTRY_LEN > b.length) throw bad("truncated");
    const entries: PackEntry[] = [];
    for (let i = 0; i < count; i++) {
      const r = readEntry(b, at, version);
      if (!r) throw bad(`unknown blob type or flags, or a cut-off entry, in pack ${pack}`);
      entries.push(r.e);
      at = r.next;
    }
    packs.push({ pack, entries });
  }
  return packs;
}
