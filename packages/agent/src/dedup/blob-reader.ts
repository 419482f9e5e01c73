// Reads blobs back: locates a chunk through the index, reads its bytes from the pack and opens
// them (blob.ts). Three ways, by what the backend offers:
// - positioned reads (openRead: filesystem repos): each blob is one read at its offset, from the
//   pack's file kept open for the next reads (the last FILES_KEPT packs; release() closes them);
// - ranged reads (getRange: S3, Azure Blob): a blob of SMALL_BLOB bytes or more is one ranged
//   request of exactly its bytes; a smaller one is read with what follows it in the pack, a
//   window of up to WINDOW bytes that the next reads of small blobs (restores and checks go in
//   backup order: a directory of many small files) take from without a request of their own. A
//   pack's header is a ranged read of the pack's last TAIL bytes (trailer, and the header when it
//   fits), then of the rest of the header if it does not; the pack's size comes from stat(). So a
//   scattered read costs one request and at most WINDOW bytes, not a whole pack;
// - neither: the whole pack is fetched and the last few are kept, which suits restores in backup
//   order but not scattered reads.
import type { ObjectFile } from "@dataprotection/storage";
import { isRepoError } from "@dataprotection/storage";
import { AgentError } from "../errors.ts";
import { BlobError } from "./blob.ts";
import { maxChunk } from "./config.ts";
import { BLOB_DATA, BLOB_PATCH } from "./format.ts";
import { shortId } from "./ids.ts";
import { type PackEntry, TRAILER_LEN, headerRange, openHeader } from "./packfile.ts";
import { type DecodedPatch, applyPatch, decodePatch } from "./patch.ts";
import type { Location } from "./repo-index.ts";
import type { RepoStore } from "./store.ts";

const WHOLE_PACKS = 3;
/** Pack files kept open between reads (filesystem repos). */
const FILES_KEPT = 4;
/** Patch bases kept after reading (at most 2 MiB each at the default chunker: restores keep to the 200 MiB RSS goal). */
const BASES_KEPT = 4;
/** With ranged reads, blobs smaller than this are read with their neighbours, in a window of up to WINDOW bytes. */
const SMALL_BLOB = 256 << 10;
const WINDOW = 1 << 20;
/** Windows kept (reads run a few ahead: restore.ts, repo.ts). */
const WINDOWS = 8;
/** The last bytes of a pack read for its header: the trailer, and the header when it is not longer. */
const TAIL = 64 << 10;

interface Window {
  pack: string;
  start: number;
  end: number;
  bytes: Promise<Buffer>;
}

export class BlobReader {
  private readonly whole = new Map<string, Promise<Buffer>>();
  private readonly files = new Map<string, { file: Promise<ObjectFile>; users: number }>();
  private readonly bases = new Map<string, Promise<Buffer>>();
  private windows: Window[] = [];
  /** Pack sizes (packs never change), for ranged reads. */
  private readonly sizes = new Map<string, Promise<number>>();

  /** `locate`: where a chunk is (default: the store's index); a patch's bases are found through it. */
  constructor(
    private readonly store: RepoStore,
    private readonly locate: (id: string) => Location | undefined = (id) => store.index.get(id),
  ) {}

  /** The plaintext of chunk `id` (hex), verified. */
  async read(id: string): Promise<Buffer> {
    const loc = this.locate(id);
    if (!loc) throw new AgentError(`chunk ${shortId(id)} is missing: no index file locates it`);
    return this.readAt(id, loc);
  }

  /**
   * The plaintext of chunk `id` at `loc`, verified; a patch is applied to its bases (read whole).
   * Every blob is authenticated under its id, so the chunk they make is the one the patch was
   * written for (check recomputes its id as it does every chunk's).
   */
  async readAt(id: string, loc: Location): Promise<Buffer> {
    const plain = await this.openAt(id, loc);
    if (loc.type !== BLOB_PATCH) return plain;
    const what = `chunk ${shortId(id)} (a patch in pack ${loc.pack})`;
    const d = this.checkedPatch(id, loc, plain);
    const bases = d.bases.map((b) => b.toString("hex"));
    const read = bases.map((b) => {
      const at = this.locate(b);
      if (!at) throw new AgentError(`${what} needs chunk ${shortId(b)}, which is missing: no index file locates it`);
      if (at.type !== BLOB_DATA) throw new AgentError(`${what} needs chunk ${shortId(b)} whole, and the repository has it only as a patch`);
      return this.readBase(b, at);
    });
    const out = applyPatch(await Promise.all(read), plain, d);
    if (!out) throw new AgentError(`${what} does not fit its bases (corrupt)`);
    return out;
  }

  /**
   * A whole chunk read as a patch's base: the last few are kept (neighbouring patches of a file
   * share bases, a chunk that straddles two of the parent's with the next). Whole chunks read as
   * themselves go through readAt.
   */
  readBase(id: string, loc: Location): Promise<Buffer> {
    let p = this.bases.get(id);
    if (p) {
      this.bases.delete(id);
      this.bases.set(id, p);
      return p;
    }
    p = this.openAt(id, loc);
    p.catch(() => this.bases.delete(id));
    this.bases.set(id, p);
    while (this.bases.size > BASES_KEPT) this.bases.delete(this.bases.keys().next().value!);
    return p;
  }

  /** A patch blob's decoded plaintext (not applied). */
  async patchAt(id: string, loc: Location): Promise<DecodedPatch> {
    return this.checkedPatch(id, loc, await this.openAt(id, loc));
  }

  /** A patch blob's plaintext decoded, agreeing with its index entry (size and bases), or refused. */
  private checkedPatch(id: string, loc: Location, plain: Buffer): DecodedPatch {
    const d = decodePatch(plain);
    if (!d || d.size !== loc.size || d.bases.map((b) => b.toString("hex")).join() !== loc.bases?.join()) throw new AgentError(`chunk ${shortId(id)} (a patch in pack ${loc.pack}) is corrupt: its patch does not parse, or disagrees with the index`);
    return d;
  }

  private async openAt(id: string, loc: Location): Promise<Buffer> {
    // What an index entry claims is checked before anything is read or allocated for it: in an
    // unencrypted repo whoever writes it can write an index file too.
    const chunk = maxChunk(this.store.config);
    const blob = 2 * chunk + (64 << 10); // a patch's plaintext, its segments included, stays below
    if (loc.size > chunk || loc.rawLength > blob || loc.length > blob + (64 << 10)) {
      throw new AgentError(`chunk ${shortId(id)}: its index entry claims ${Math.max(loc.size, loc.rawLength, loc.length)} bytes, more than this repository's chunks can be (corrupt or tampered)`);
    }
    const sealed = await this.range(loc.pack, loc.offset, loc.length, `chunk ${shortId(id)}`);
    try {
      return this.store.codec.decode({ type: loc.type, flags: loc.flags, id: Buffer.from(id, "hex"), rawLength: loc.rawLength }, sealed);
    } catch (err) {
      if (err instanceof BlobError) throw new AgentError(`chunk ${shortId(id)} in pack ${loc.pack} does not open: ${err.message} (corrupt or tampered)`);
      throw err;
    }
  }

  /** A blob's bytes as stored (sealed), unopened: the caller opens them (prune's repacking). */
  sealedAt(id: string, loc: Location): Promise<Buffer> {
    return this.range(loc.pack, loc.offset, loc.length, `chunk ${shortId(id)}`);
  }

  /** A pack's header entries, checked (packfile.ts). */
  async header(pack: string): Promise<PackEntry[]> {
    const { backend, sealer } = this.store;
    if (backend.openRead) {
      return this.withPack(pack, "its header", async (f) => {
        const trailer = await readFully(f, f.size - TRAILER_LEN, TRAILER_LEN, pack);
        const { start, length } = headerRange(pack, f.size, trailer);
        return openHeader(sealer, pack, await readFully(f, start, length, pack), start);
      });
    }
    if (backend.getRange) {
      const what = "its header";
      const size = await this.packSize(pack, what);
      const tailStart = Math.max(0, size - TAIL);
      const tail = await this.getRange(pack, tailStart, size - tailStart, what);
      const { start, length } = headerRange(pack, size, tail.subarray(Math.max(0, tail.length - TRAILER_LEN)));
      const sealed = start >= tailStart ? tail.subarray(start - tailStart, start - tailStart + length) : await this.getRange(pack, start, length, what);
      return openHeader(sealer, pack, sealed, start);
    }
    const b = await this.wholePack(pack, "its header");
    const { start, length } = headerRange(pack, b.length, b.subarray(b.length - TRAILER_LEN));
    return openHeader(sealer, pack, b.subarray(start, start + length), start);
  }

  private async range(pack: string, offset: number, length: number, what: string): Promise<Buffer> {
    if (this.store.backend.openRead) return this.withPack(pack, what, (f) => readFully(f, offset, length, pack));
    if (this.store.backend.getRange) return this.ranged(pack, offset, length, what);
    const b = await this.wholePack(pack, what);
    if (offset + length > b.length) throw new AgentError(`pack ${pack} is truncated (${what} lies beyond its end)`);
    return b.subarray(offset, offset + length);
  }

  private async ranged(pack: string, offset: number, length: number, what: string): Promise<Buffer> {
    const end = offset + length;
    const cached = this.window(pack, offset, end);
    if (cached) return cached;
    if (length >= SMALL_BLOB) return this.getRange(pack, offset, length, what);
    // A small blob: the next reads likely want the blobs after it.
    const size = await this.packSize(pack, what);
    const again = this.window(pack, offset, end); // made by a read that ran while this one asked for the size
    if (again) return again;
    const dataEnd = size - TRAILER_LEN;
    if (end > dataEnd) throw new AgentError(`pack ${pack} is truncated (${what} lies beyond its end)`);
    const w: Window = { pack, start: offset, end: Math.max(end, Math.min(offset + WINDOW, dataEnd)), bytes: Promise.resolve(Buffer.alloc(0)) };
    w.bytes = this.getRange(pack, w.start, w.end - w.start, what);
    w.bytes.catch(() => (this.windows = this.windows.filter((x) => x !== w)));
    this.windows.push(w);
    if (this.windows.length > WINDOWS) this.windows.shift();
    return Buffer.from((await w.bytes).subarray(offset - w.start, end - w.start));
  }

  /**
   * [start, end) of `pack` from a window read (or being read), or undefined. A copy: a blob kept
   * (prune's repacking keeps a pack's worth) must not keep its window.
   */
  private window(pack: string, start: number, end: number): Promise<Buffer> | undefined {
    const w = this.windows.find((x) => x.pack === pack && x.start <= start && end <= x.end);
    return w?.bytes.then((b) => Buffer.from(b.subarray(start - w.start, end - w.start)));
  }

  private async getRange(pack: string, offset: number, length: number, what: string): Promise<Buffer> {
    const { backend, layout } = this.store;
    try {
      return await backend.getRange!(layout.pack(pack), offset, length);
    } catch (err) {
      throw missing(err, pack, what);
    }
  }

  private packSize(pack: string, what: string): Promise<number> {
    let p = this.sizes.get(pack);
    if (!p) {
      const { backend, layout } = this.store;
      p = backend.stat(layout.pack(pack)).then((info) => {
        if (!info) throw new AgentError(`pack ${pack} is missing (it holds ${what})`);
        return info.size;
      });
      p.catch(() => this.sizes.delete(pack));
      this.sizes.set(pack, p);
    }
    return p;
  }

  // Run `f` on the pack's open file (opened now, or kept from an earlier read).
  private async withPack<T>(pack: string, what: string, f: (file: ObjectFile) => Promise<T>): Promise<T> {
    let e = this.files.get(pack);
    if (e) this.files.delete(pack); // moved to the end: the most recently used
    else {
      const entry = { file: this.openPack(pack, what), users: 0 };
      entry.file.catch(() => this.files.get(pack) === entry && this.files.delete(pack));
      e = entry;
    }
    this.files.set(pack, e);
    e.users++;
    try {
      return await f(await e.file);
    } finally {
      e.users--;
      this.trim(FILES_KEPT);
    }
  }

  // Close the least recently used pack files not being read, down to `keep` open.
  private trim(keep: number): Promise<void> {
    const closing: Promise<void>[] = [];
    for (const [pack, e] of this.files) {
      if (this.files.size <= keep) break;
      if (e.users > 0) continue;
      this.files.delete(pack);
      closing.push(e.file.then((f) => f.close(), () => undefined).catch(() => undefined));
    }
    return Promise.all(closing).then(() => undefined);
  }

  /** Close the pack files kept open (those being read close once they are done). */
  release(): Promise<void> {
    return this.trim(0);
  }

  private async openPack(pack: string, what: string): Promise<ObjectFile> {
    const { backend, layout } = this.store;
    try {
      return await backend.openRead!(layout.pack(pack));
    } catch (err) {
      throw missing(err, pack, what);
    }
  }

  private wholePack(pack: string, what: string): Promise<Buffer> {
    let p = this.whole.get(pack);
    if (p) {
      this.whole.delete(pack);
      this.whole.set(pack, p);
      return p;
    }
    const { backend, layout } = this.store;
    p = (async () => {
      const parts: Buffer[] = [];
      for await (const b of await backend.get(layout.pack(pack))) parts.push(b as Buffer);
      return Buffer.concat(parts);
    })().catch((err: unknown) => {
      this.whole.delete(pack);
      throw missing(err, pack, what);
    });
    this.whole.set(pack, p);
    while (this.whole.size > WHOLE_PACKS) this.whole.delete(this.whole.keys().next().value!);
    return p;
  }
}

function missing(err: unknown, pack: string, what: string): unknown {
  if (isRepoError(err, "NotFound")) return new AgentError(`pack ${pack} is missing (it holds ${what})`, { cause: err });
  return err;
}

async function readFully(f: ObjectFile, position: number, length: number, pack: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  for (let off = 0; off < length; ) {
    const n = await f.read(buf, off, length - off, position + off);
    if (n === 0) throw new AgentError(`pack ${pack} is truncated (${position + length} bytes needed, ${f.size} there)`);
    off += n;
  }
  return buf;
}
