// Writes new blobs into packs: a blob is encoded (compressed, sealed) as it comes, appended to
// the open pack of its type (data and tree blobs go to separate packs, so trees can be read
// without fetching data), and a pack that reaches the target size is uploaded in the background
// (at most MAX_UPLOADS at once) while the next fills. Once a pack is stored its blobs enter the
// in-memory index; index files are written every INDEX_EVERY packs and by finish(). A chunk
// already in the index, or already queued in this backup, is not written again: that is the
// deduplication.
// Order, for a crash at any point: packs, then the index file naming them, then (repo.ts) the
// snapshot naming their chunks. A crash leaves at worst packs no index names (check reports them;
// prune will delete them), never a snapshot with a chunk no index locates.
import { randomBytes } from "node:crypto";
import type { BlobType } from "./format.ts";
import { indexAad } from "./format.ts";
import { type PackEntry, packTail } from "./packfile.ts";
import { type IndexedPack, encodeIndexFile } from "./repo-index.ts";
import type { RepoStore } from "./store.ts";

const MAX_UPLOADS = 2;
const INDEX_EVERY = 64;

interface OpenPack {
  name: string;
  parts: Buffer[];
  entries: PackEntry[];
  size: number;
}

export interface WriterStats {
  /** New blobs and their plaintext bytes. */
  blobs: number;
  bytes: number;
  /** Bytes stored: packs and index files. */
  stored: number;
  packs: number;
}

export class PackWriter {
  readonly stats: WriterStats = { blobs: 0, bytes: 0, stored: 0, packs: 0 };
  private readonly open = new Map<BlobType, OpenPack>();
  /** Ids in open packs and packs being uploaded. */
  private readonly pending = new Set<string>();
  private uploads: Promise<void>[] = [];
  private unindexed: IndexedPack[] = [];
  private failure?: { err: unknown };

  constructor(private readonly store: RepoStore) {}

  /** Whether the repo has, or this writer will store, chunk `id` (hex). */
  has(id: string): boolean {
    return this.store.index.has(id) || this.pending.has(id);
  }

  /** Store the blob unless the repo has it; `plain` may be reused once this resolves. Returns whether it was new. */
  async add(type: BlobType, id: Buffer, plain: Uint8Array): Promise<boolean> {
    if (this.failure) throw this.failure.err;
    const hex = id.toString("hex");
    if (this.has(hex)) return false;
    const { sealed, flags } = this.store.codec.encode(type, id, plain);
    let p = this.open.get(type);
    if (!p) this.open.set(type, (p = { name: randomBytes(32).toString("hex"), parts: [], entries: [], size: 0 }));
    p.entries.push({ type, flags, id, offset: p.size, length: sealed.length, rawLength: plain.length });
    p.parts.push(sealed);
    p.size += sealed.length;
    this.pending.add(hex);
    this.stats.blobs++;
    this.stats.bytes += plain.length;
    if (p.size >= this.store.config.packSize) await this.flush(type);
    return true;
  }

  /** Store every open pack and an index file for every pack stored and not yet indexed. */
  async finish(): Promise<void> {
    for (const type of [...this.open.keys()]) await this.flush(type);
    await Promise.all(this.uploads);
    this.uploads = [];
    if (this.failure) throw this.failure.err;
    await this.writeIndex();
  }

  /** After a failure: wait for uploads under way (their packs stay, unindexed, for prune). */
  async abort(): Promise<void> {
    this.open.clear();
    await Promise.all(this.uploads);
  }

  private async flush(type: BlobType): Promise<void> {
    const p = this.open.get(type);
    if (!p) return;
    this.open.delete(type);
    while (this.uploads.length >= MAX_UPLOADS) await this.uploads.shift();
    if (this.failure) throw this.failure.err;
    if (this.unindexed.length >= INDEX_EVERY) await this.writeIndex();
    const { backend, layout, sealer, index } = this.store;
    const parts = [...p.parts, packTail(sealer, p.name, p.entries)];
    p.parts = [];
    const upload = backend
      .put(layout.pack(p.name), lend(parts))
      .then((n) => {
        this.stats.stored += n;
        this.stats.packs++;
        const done = { pack: p.name, entries: p.entries };
        index.add(done);
        this.unindexed.push(done);
        for (const e of p.entries) this.pending.delete(e.id.toString("hex"));
      })
      .catch((err: unknown) => void (this.failure ??= { err }));
    this.uploads.push(upload);
  }

  private async writeIndex(): Promise<void> {
    if (this.unindexed.length === 0) return;
    const packs = this.unindexed;
    this.unindexed = [];
    const name = randomBytes(32).toString("hex");
    const { backend, layout, sealer } = this.store;
    this.stats.stored += await backend.put(layout.index(name), sealer.seal(indexAad(name), encodeIndexFile(packs)));
  }
}

async function* lend(parts: Buffer[]): AsyncGenerator<Buffer> {
  // Each part is dropped once the backend asks for the next: the pack's memory goes as it is written.
  while (parts.length > 0) yield parts.shift()!;
}
