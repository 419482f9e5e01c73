// Cuts a stream into chunks and stores the new ones: the content list of a file or stream
// (tree.ts). With `holes`, a chunk of zero bytes is not stored at all but recorded as a hole
// (runs merged), so sparse files and zeroed regions cost nothing and restore sparse.
// With `patches`, a file the parent snapshot had is stored against it: a new chunk is compared
// with the parent's chunk that held most of the same file offsets (a page rewritten in place, a
// log that grew: the cuts before the change are the same, so the chunk usually starts where the
// parent's did), and stored as a patch of it (patch.ts) when the bytes that differ are at most
// MAX_PATCH_SHARE of the chunk. The parent's chunk is read back from the repo for that, so a
// second backup reads about one chunk per changed chunk.
import type { BlobReader } from "./blob-reader.ts";
import { Chunker } from "./cdc.ts";
import { BLOB_DATA, BLOB_PATCH, type BlobType } from "./format.ts";
import { chunkId } from "./ids.ts";
import type { PackWriter } from "./pack-writer.ts";
import { PATCH_BLOCK, diffRanges, encodePatch, patchedBytes } from "./patch.ts";
import type { RepoStore } from "./store.ts";
import type { Content } from "./tree.ts";

/**
 * A patch is stored when it carries at most this share of the chunk's bytes: beyond it, storing
 * the chunk whole costs little more and reads faster (a patch costs reading its base too).
 */
export const MAX_PATCH_SHARE = 0.25;

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

/** The parent's chunks in file order, asked for in increasing offsets (one pass). */
class ParentChunks {
  private i = 0;

  constructor(private readonly chunks: ParentChunk[]) {}

  /** Of the chunks that held bytes [start, end) of the file, the one that held most of them. */
  mostOverlapping(start: number, end: number): ParentChunk | undefined {
    while (this.i < this.chunks.length && this.chunks[this.i]!.end <= start) this.i++;
    let best: ParentChunk | undefined;
    let most = 0;
    for (let j = this.i; j < this.chunks.length && this.chunks[j]!.start < end; j++) {
      const c = this.chunks[j]!;
      const overlap = Math.min(end, c.end) - Math.max(start, c.start);
      if (overlap > most) [best, most] = [c, overlap];
    }
    return best;
  }
}

export class ContentStore {
  private zero?: Buffer;
  /** Chunks stored as patches, the chunk bytes they stand for, and the bytes the patches carry (plaintext). */
  readonly patched = { chunks: 0, bytes: 0, carried: 0 };

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
    let size = 0;
    for await (const chunk of this.chunker.chunks(source)) {
      const at = size;
      size += chunk.length;
      if (this.holes && this.isZero(chunk)) {
        const last = content.length - 1;
        if (typeof content[last] === "number") content[last] = (content[last] as number) + chunk.length;
        else content.push(chunk.length);
        continue;
      }
      const id = chunkId(this.idKey, chunk);
      const hex = id.toString("hex");
      const prev = starts?.mostOverlapping(at, size);
      if (!(prev !== undefined && prev.id !== hex && !this.writer.has(hex) && (await this.storePatch(prev.id, at - prev.start, id, chunk)))) await this.writer.add(this.type, id, chunk);
      content.push(hex);
    }
    return { size, content };
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
   * Store `chunk` as a patch of the data `prev` stands for from byte `offset` on, against prev's
   * base when prev is a patch (a base is always whole); false when that does not pay.
   */
  private async storePatch(prev: string, offset: number, id: Buffer, chunk: Buffer): Promise<boolean> {
    const { store, reader } = this.patches!;
    const loc = store.index.get(prev);
    if (!loc || (loc.type !== BLOB_DATA && loc.type !== BLOB_PATCH)) return false;
    // prev's bytes outside its ranges are its base's from loc.from on; the new patch is against that base.
    const baseId = loc.type === BLOB_PATCH ? loc.base! : prev;
    const from = (loc.type === BLOB_PATCH ? loc.from! : 0) + offset;
    const baseLoc = store.index.get(baseId);
    if (baseLoc?.type !== BLOB_DATA) return false;
    let base: Buffer;
    try {
      base = await reader.readAt(baseId, baseLoc);
    } catch {
      return false; // the chunk is stored whole; check reports what is wrong with the base
    }
    // Blocks of 1/64 of the chunk at most (small chunks: tests, trees), PATCH_BLOCK at most.
    const ranges = diffRanges(base, chunk, Math.max(16, Math.min(PATCH_BLOCK, chunk.length >> 6)), from);
    if (patchedBytes(ranges) + 8 * ranges.length > chunk.length * MAX_PATCH_SHARE) return false;
    const baseRaw = Buffer.from(baseId, "hex");
    const plain = encodePatch(baseRaw, chunk, ranges, from);
    await this.writer.add(BLOB_PATCH, id, plain, { base: baseRaw, size: chunk.length, from });
    this.patched.carried += plain.length;
    this.patched.chunks++;
    this.patched.bytes += chunk.length;
    return true;
  }

  private isZero(b: Buffer): boolean {
    if (b[0] !== 0 || b[b.length - 1] !== 0) return false;
    this.zero ??= Buffer.alloc(this.chunker.cdc.params.max);
    return b.equals(this.zero.subarray(0, b.length));
  }
}
