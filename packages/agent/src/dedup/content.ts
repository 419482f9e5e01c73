// Cuts a stream into chunks and stores the new ones: the content list of a file or stream
// (tree.ts). With `holes`, a chunk of zero bytes is not stored at all but recorded as a hole
// (runs merged), so sparse files and zeroed regions cost nothing and restore sparse.
// With `patches`, a file the parent snapshot had is stored against it: a new chunk is compared
// with what the parent's chunks held at the same file offsets (a page rewritten in place, a log
// that grew: the cuts before the change are the same, so the chunk usually covers one of the
// parent's chunks; a change that moved a cut makes the next ones straddle two or three; after
// an insertion the offsets are the parent's plus the shift the last shared chunk shows), and is
// stored as a patch of their data (patch.ts) when what it must carry itself is at most
// MAX_PATCH_SHARE of the chunk. The parent's chunks are read back from the repo for that (their
// bases, for those that are patches themselves), so a second backup reads about one chunk per
// changed chunk.
import type { BlobReader } from "./blob-reader.ts";
import { Chunker } from "./cdc.ts";
import { BLOB_DATA, BLOB_PATCH, type BlobType } from "./format.ts";
import { chunkId } from "./ids.ts";
import type { PackWriter } from "./pack-writer.ts";
import { AgentError } from "../errors.ts";
import { MAX_BASES, PATCH_BLOCK, type Source, diffSegments, encodePatch, literalBytes } from "./patch.ts";
import type { RepoStore } from "./store.ts";
import type { Content } from "./tree.ts";

/**
 * A patch is stored when it carries at most this share of the chunk's bytes: beyond it, storing
 * the chunk whole costs little more and reads faster (a patch costs reading its bases too).
 */
export const MAX_PATCH_SHARE = 0.25;

/**
 * After this many new chunks in a row (and at the start), chunks of a file or stream without a
 * parent are named on the encoder threads with their encoding (PackWriter.addUnnamed): the main
 * thread then only reads and cuts. On random data it had been the bottleneck: hand-run, the
 * random half of the standard dataset (1 GiB, 2 cores, one encoder thread) took 2.6 s instead of
 * 3.3-3.7. A chunk the repo has (a dump backed up again) stops it once known: the chunks in
 * flight then, at most a ring's worth, were encoded for nothing (encoders.test.ts counts them).
 */
export const UNNAMED_AFTER = 4;

export interface Stored {
  size: number;
  content: Content;
}

export interface PatchSource {
  store: RepoStore;
  reader: BlobReader;
}

interface ParentChunk {
  start: number;
  end: number;
  id: string;
}

/** The parent's chunks in file order. */
class ParentChunks {
  private readonly starts = new Map<string, number>();

  constructor(private readonly chunks: ParentChunk[]) {
    for (const c of chunks) if (!this.starts.has(c.id)) this.starts.set(c.id, c.start);
  }

  /** Where chunk `id` started in the parent's file, if it was there. */
  startOf(id: string): number | undefined {
    return this.starts.get(id);
  }

  /** The chunks that held bytes of [start, end) of the parent's file, in order. */
  overlapping(start: number, end: number): ParentChunk[] {
    let lo = 0;
    let hi = this.chunks.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.chunks[mid]!.end <= start) lo = mid + 1;
      else hi = mid;
    }
    const out: ParentChunk[] = [];
    for (let j = lo; j < this.chunks.length && this.chunks[j]!.start < end; j++) out.push(this.chunks[j]!);
    return out;
  }
}

export class ContentStore {
  private zero?: Buffer;
  /** Chunks stored as patches, the chunk bytes they stand for, and the bytes the patches carry (plaintext). */
  readonly patched = { chunks: 0, bytes: 0, carried: 0 };
  /** How many chunks in a row came out new (as far as known): from UNNAMED_AFTER on they are named on the encoder threads. */
  private newRun = UNNAMED_AFTER;

  constructor(
    readonly chunker: Chunker,
    private readonly idKey: Buffer,
    private readonly writer: PackWriter,
    private readonly type: BlobType,
    private readonly holes: boolean,
    private readonly patches?: PatchSource,
  ) {}

  /** Store a stream; `parent`: the content the parent snapshot recorded for it (see above). */
  async store(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, parent?: Content): Promise<Stored> {
    const content: Content = [];
    const starts = parent && this.patches ? this.chunkStarts(parent) : undefined;
    // How far the file's bytes moved since the parent (an insertion or a deletion before them):
    // learnt from the last chunk the parent also had, so what follows is compared with what
    // the parent had there, not at the same offset.
    let shift = 0;
    let size = 0;
    // Chunks named on an encoder thread, in order; their place in `content` holds "" until then.
    const later: Promise<void>[] = [];
    for await (const chunk of this.chunker.chunks(source)) {
      const at = size;
      size += chunk.length;
      if (this.holes && this.isZero(chunk)) {
        const last = content.length - 1;
        if (typeof content[last] === "number") content[last] = (content[last] as number) + chunk.length;
        else content.push(chunk.length);
        continue;
      }
      if (!starts && this.newRun >= UNNAMED_AFTER && this.writer.names) {
        const at = content.push("") - 1;
        const { named } = await this.writer.addUnnamed(this.type, chunk);
        const filled = named.then(({ hex, isNew }) => ((content[at] = hex), this.count(isNew)));
        filled.catch(() => undefined); // awaited below, unless reading the source failed first
        later.push(filled);
        continue;
      }
      const id = chunkId(this.idKey, chunk);
      const hex = id.toString("hex");
      const was = starts?.startOf(hex);
      if (was !== undefined) shift = at - was;
      const prev = was === undefined ? starts?.overlapping(at - shift, size - shift) : undefined;
      const patchable = prev !== undefined && prev.length > 0 && !this.writer.has(hex);
      if (!(patchable && (await this.storePatch(prev, at - shift, id, chunk)))) this.count(await this.writer.add(this.type, id, chunk));
      content.push(hex);
    }
    await Promise.all(later);
    return { size, content };
  }

  private count(isNew: boolean): void {
    this.newRun = isNew ? this.newRun + 1 : 0;
  }

  // The parent's chunks by file offset (their lengths from the index).
  private chunkStarts(parent: Content): ParentChunks {
    const index = this.patches!.store.index;
    const chunks: ParentChunk[] = [];
    let at = 0;
    for (const x of parent) {
      if (typeof x === "number") {
        at += x;
        continue;
      }
      const loc = index.get(x);
      if (!loc) break; // not readable: nothing after it can be placed
      chunks.push({ start: at, end: at + loc.size, id: x });
      at += loc.size;
    }
    return new ParentChunks(chunks);
  }

  /**
   * Store `chunk` (the parent file's bytes [at, at + length), changed) as a patch of the whole
   * chunks the parent's chunks `prev` came from; false when that does not pay (or a base cannot
   * be read).
   */
  private async storePatch(prev: ParentChunk[], at: number, id: Buffer, chunk: Buffer): Promise<boolean> {
    const { store, reader } = this.patches!;
    const end = at + chunk.length;
    // Where each part of the chunk was: file ranges -> (whole chunk, offset).
    const placed: { id: string; offset: number; start: number; end: number }[] = [];
    const place = (base: string, offset: number, from: number, to: number): void => {
      const a = Math.max(from, at);
      const b = Math.min(to, end);
      if (b > a) placed.push({ id: base, offset: offset + (a - from), start: a - at, end: b - at });
    };
    try {
      for (const p of prev) {
        const loc = store.index.get(p.id);
        if (loc?.type === BLOB_DATA) place(p.id, 0, p.start, p.end);
        else if (loc?.type === BLOB_PATCH) {
          // A patch's copied runs are where its bases' bytes were; its literal bytes are in no whole chunk.
          const d = await reader.patchAt(p.id, loc);
          let c = p.start;
          for (const g of d.segments) {
            if (g.base >= 0) place(d.bases[g.base]!.toString("hex"), g.offset, c, c + g.length);
            c += g.length;
          }
        }
      }
      // The bases that place most of the chunk, MAX_BASES at most, each read once.
      const cover = new Map<string, number>();
      for (const x of placed) cover.set(x.id, (cover.get(x.id) ?? 0) + x.end - x.start);
      const ids = [...cover.keys()].sort((a, b) => cover.get(b)! - cover.get(a)!).slice(0, MAX_BASES);
      const locs = ids.map((b) => store.index.get(b));
      if (ids.length === 0 || locs.some((l) => l?.type !== BLOB_DATA)) return false;
      const plain = await Promise.all(ids.map((b, i) => reader.readBase(b, locs[i]!)));
      const sources: Source[] = placed.filter((x) => ids.includes(x.id)).map((x) => ({ base: ids.indexOf(x.id), offset: x.offset, start: x.start, end: x.end }));
      // Blocks of 1/64 of the chunk at most (small chunks: tests), PATCH_BLOCK at most.
      const segments = diffSegments(plain, chunk, sources, Math.max(16, Math.min(PATCH_BLOCK, chunk.length >> 6)));
      // Only the bases a segment copies from.
      const used = [...new Set(segments.filter((g) => g.base >= 0).map((g) => g.base))];
      if (used.length === 0) return false;
      const cost = literalBytes(segments) + 9 * segments.length + 32 * used.length;
      if (cost > chunk.length * MAX_PATCH_SHARE) return false;
      const renumbered = segments.map((g) => (g.base < 0 ? g : { ...g, base: used.indexOf(g.base) }));
      const bases = used.map((i) => Buffer.from(ids[i]!, "hex"));
      const patch = encodePatch(bases, chunk, renumbered);
      await this.writer.add(BLOB_PATCH, id, patch, { bases, size: chunk.length });
      this.patched.chunks++;
      this.patched.bytes += chunk.length;
      this.patched.carried += patch.length;
      return true;
    } catch (err) {
      if (err instanceof AgentError) return false; // stored whole; check reports what is wrong with the parent's chunks
      throw err;
    }
  }

  private isZero(b: Buffer): boolean {
    if (b[0] !== 0 || b[b.length - 1] !== 0) return false;
    this.zero ??= Buffer.alloc(this.chunker.cdc.params.max);
    return b.equals(this.zero.subarray(0, b.length));
  }
}
