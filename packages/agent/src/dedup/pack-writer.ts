// Writes new blobs into packs: a blob is encoded (compressed, sealed) as it comes, appended to
// the open pack of its type (data and tree blobs go to separate packs, so trees can be read
// without fetching data), and a pack that reaches the target size is uploaded in the background
// (at most MAX_UPLOADS at once) while the next fills. Index files are written every INDEX_EVERY
// packs and by finish(); a pack's blobs enter the repo's in-memory index only once an index file
// names them (until then this writer alone knows them: a failed backup leaves nothing in the
// shared index that no index file backs). A chunk already in the index, or already stored or
// queued by this writer, is not written again: that is the deduplication. Prune's repacking
// copies blobs as they are sealed (addSealed): a blob's AAD names the chunk, not the pack.
// Order, for a crash at any point: packs, then the index file naming them (the caller's lock
// confirmed first: beforeIndex), then (repo.ts) the snapshot naming their chunks. A crash leaves at worst packs no index names (check reports them;
// prune deletes them), never a snapshot with a chunk no index locates.
import { randomBytes } from "node:crypto";
import type { BlobRef } from "./blob.ts";
import { maxChunk } from "./config.ts";
import type { BlobEncoders } from "./encoders.ts";
import { BLOB_DATA, BLOB_TREE, type BlobType, indexAad } from "./format.ts";
import { type PackEntry, type PatchRef, packTail } from "./packfile.ts";
import { type IndexedPack, RepoIndex, encodeIndexFile } from "./repo-index.ts";
import type { RepoStore } from "./store.ts";

const MAX_UPLOADS = 2;
const INDEX_EVERY = 64;

interface OpenPack {
  name: string;
  /** The pack's blobs so far, bytes [0, size): one buffer per pack, reused for a later pack once uploaded. */
  buf: Buffer;
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

export interface WriterOptions {
  /** Awaited before each pack is uploaded (the caller's cheap lock check); its error stops the writer. */
  checkpoint?: () => Promise<void>;
  /**
   * Awaited before each index file is written (the caller confirms its lock is still there: an
   * index file makes chunks visible to other backups, and must never name a pack a prune that
   * broke the lock has deleted); its error stops the writer.
   */
  beforeIndex?: () => Promise<void>;
  /** Encode blobs on these threads (encoders.ts); without, add() encodes on the caller's thread. */
  encoders?: BlobEncoders;
}

export class PackWriter {
  readonly stats: WriterStats = { blobs: 0, bytes: 0, stored: 0, packs: 0 };
  /** Names of the index files written. */
  readonly indexFiles: string[] = [];
  private readonly open = new Map<BlobType, OpenPack>();
  /**
   * Pack buffers whose uploads ended. Blobs are copied into their pack's buffer, not kept as a
   * Buffer each: a blob's Buffer lived until its pack was uploaded, long enough to reach V8's
   * old generation, where tens of MiB of them waited for a full collection (peak RSS of a 1 GiB
   * backup with encoder threads: 192 MiB; with these buffers: see the agent README).
   */
  private readonly spare: Buffer[] = [];
  /** Ids in open packs and packs being uploaded. */
  private readonly pending = new Set<string>();
  /** Packs stored that no index file names yet. */
  private readonly stored = new RepoIndex();
  private uploads: Promise<void>[] = [];
  private unindexed: IndexedPack[] = [];
  private failure?: { err: unknown };
  /** Blobs being encoded are appended in the order they were added, each after the one before. */
  private appending: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: RepoStore,
    private readonly opts: WriterOptions = {},
  ) {}

  /** Whether the repo has, or this writer has stored or will store, chunk `id` (hex). */
  has(id: string): boolean {
    // What this writer stored names bases the repo had when it was written (content.ts).
    return this.store.index.has(id) || this.stored.locates(id) || this.pending.has(id);
  }

  /**
   * Store the blob unless the repo has it; `plain` may be reused once this resolves. Returns
   * whether it was new. A patch blob (`plain` its patch.ts plaintext) names its bases and length.
   */
  async add(type: BlobType, id: Buffer, plain: Uint8Array, patch?: PatchRef): Promise<boolean> {
    if (this.failure) throw this.failure.err;
    const hex = id.toString("hex");
    if (this.has(hex)) return false;
    const ref = { type, id, rawLength: plain.length, ...(patch ? { patch } : {}) };
    const encoders = this.opts.encoders;
    if (!encoders) {
      const { sealed, flags } = this.store.codec.encode(type, id, plain);
      await this.append({ ...ref, flags }, sealed);
      return true;
    }
    // Claimed now, so a repeat of the chunk while this one is encoded is not stored twice.
    this.pending.add(hex);
    const encoding = await encoders.submit(type, id, plain);
    this.appending = this.appending.then(async () => {
      try {
        const { sealed, flags } = await encoding.done;
        if (!this.failure) await this.append({ ...ref, flags }, sealed);
      } finally {
        encoding.release();
      }
    }).catch((err: unknown) => void (this.failure ??= { err }));
    return true;
  }

  /** Whether addUnnamed may be used: there are encoder threads to name chunks on. */
  get names(): boolean {
    return (this.opts.encoders?.threads ?? 0) > 0;
  }

  /**
   * Store a chunk not yet named: an encoder thread names it (ids.ts) as it encodes it, so the
   * caller only cuts (content.ts does so while chunks come out new). A chunk the repo turns out
   * to have is dropped then, its encoding wasted. Resolves once `plain` may be reused; `named`
   * to its id (hex) and whether it was new, once known (in the order chunks were added).
   */
  async addUnnamed(type: BlobType, plain: Uint8Array): Promise<{ named: Promise<{ hex: string; isNew: boolean }> }> {
    if (this.failure) throw this.failure.err;
    const rawLength = plain.length;
    const encoding = await this.opts.encoders!.submit(type, undefined, plain);
    const named = this.appending.then(async () => {
      try {
        const { sealed, flags, id } = await encoding.done;
        if (this.failure) throw this.failure.err;
        const hex = id.toString("hex");
        if (this.has(hex)) return { hex, isNew: false };
        await this.append({ type, id, rawLength, flags }, sealed);
        return { hex, isNew: true };
      } finally {
        encoding.release();
      }
    });
    this.appending = named.then(
      () => undefined,
      (err: unknown) => void (this.failure ??= { err }),
    );
    named.catch(() => undefined); // awaited later by the caller, maybe after it failed
    return { named };
  }

  /** Store a blob as it is sealed (repacking: the caller has verified it) unless the repo has it. */
  async addSealed(ref: BlobRef, sealed: Buffer): Promise<boolean> {
    if (this.failure) throw this.failure.err;
    if (this.has(ref.id.toString("hex"))) return false;
    await this.append(ref, sealed);
    return true;
  }

  // `sealed` is copied: the caller may reuse it once this resolves.
  private async append(ref: BlobRef, sealed: Uint8Array): Promise<void> {
    const { type, flags, id, rawLength, patch } = ref;
    // Patches share the data packs (they are read with the data they stand for).
    const kind = type === BLOB_TREE ? BLOB_TREE : BLOB_DATA;
    let p = this.open.get(kind);
    if (!p) this.open.set(kind, (p = { name: randomBytes(32).toString("hex"), buf: this.packBuffer(), entries: [], size: 0 }));
    if (p.size + sealed.length > p.buf.length) {
      // Only a blob larger than the repo's chunks (none is written so) gets here.
      const bigger = Buffer.allocUnsafe(p.size + sealed.length);
      p.buf.copy(bigger, 0, 0, p.size);
      p.buf = bigger;
    }
    p.entries.push({ type, flags, id, offset: p.size, length: sealed.length, rawLength, ...(patch ? { patch } : {}) });
    p.buf.set(sealed, p.size);
    p.size += sealed.length;
    this.pending.add(id.toString("hex"));
    this.stats.blobs++;
    this.stats.bytes += rawLength;
    if (p.size >= this.store.config.packSize) await this.flush(kind);
  }

  /** Store every open pack and an index file for every pack stored and not yet indexed. */
  async finish(): Promise<void> {
    await this.appending;
    this.throwIfFailed();
    for (const type of [...this.open.keys()]) await this.flush(type);
    await Promise.all(this.uploads);
    this.uploads = [];
    this.throwIfFailed();
    await this.writeIndex();
  }

  private throwIfFailed(): void {
    if (this.failure) throw this.failure.err;
  }

  /** After a failure: wait for uploads under way (their packs stay, unindexed, for prune). */
  async abort(): Promise<void> {
    this.failure ??= { err: new Error("the backup stopped") };
    await this.appending;
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
    await this.opts.checkpoint?.();
    const { backend, layout, sealer } = this.store;
    const parts = [p.buf.subarray(0, p.size), packTail(sealer, p.name, p.entries)];
    const upload = backend
      .put(layout.pack(p.name), lend(parts))
      .then((n) => {
        this.stats.stored += n;
        this.stats.packs++;
        const done = { pack: p.name, entries: p.entries };
        this.stored.add(done);
        this.unindexed.push(done);
        for (const e of p.entries) this.pending.delete(e.id.toString("hex"));
      })
      .catch((err: unknown) => void (this.failure ??= { err }))
      .finally(() => this.spare.push(p.buf));
    this.uploads.push(upload);
  }

  private async writeIndex(): Promise<void> {
    if (this.unindexed.length === 0) return;
    const packs = this.unindexed;
    this.unindexed = [];
    await this.opts.beforeIndex?.();
    const name = randomBytes(32).toString("hex");
    const { backend, layout, sealer, index } = this.store;
    this.stats.stored += await backend.put(layout.index(name), sealer.seal(indexAad(name), encodeIndexFile(packs)));
    this.indexFiles.push(name);
    for (const p of packs) index.add(p);
  }

  // A pack fills up to packSize, then takes one more blob: at most a chunk and its seal.
  private packBuffer(): Buffer {
    const { config, sealer } = this.store;
    return this.spare.pop() ?? Buffer.allocUnsafe(config.packSize + maxChunk(config) + sealer.overhead);
  }
}

// A pack is handed to the backend in pieces: one 16 MiB write cost the kernel ~7 ms of copying
// (2 GiB backup: 3.7 s of system time instead of 0.8 with 512 KiB writes).
const WRITE_PIECE = 512 << 10;

async function* lend(parts: Buffer[]): AsyncGenerator<Buffer> {
  // Each part is dropped once the backend asks for the next (the pack buffer itself is reused once the upload ends).
  while (parts.length > 0) {
    const b = parts.shift()!;
    for (let off = 0; off < b.length; off += WRITE_PIECE) yield b.subarray(off, off + WRITE_PIECE);
  }
}
