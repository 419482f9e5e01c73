// A deduplicating repository on any RepoBackend: every backup a full snapshot, chunks stored
// once. See README.md ("Deduplicating repository") for the formats; the pieces:
//   cdc.ts chunking, ids.ts chunk ids, blob.ts/packfile.ts/pack-writer.ts storing chunks,
//   repo-index.ts locating them, tree.ts/snapshot.ts what a backup is, check.ts verifying.
// One operation at a time per DedupRepo. Not yet: prune and its locking (so nothing here
// deletes), concurrent writers seeing each other's new chunks (each loads the index at open:
// two backups at once may store a chunk twice, which is harmless).
import { resolve } from "node:path";
import type { Writable } from "node:stream";
import { once } from "node:events";
import { type RepoBackend, isRepoError } from "@dataprotection/storage";
import { type UnpackResult, unpackDir } from "../archive/unpack.ts";
import { AgentError } from "../errors.ts";
import type { KeySource } from "../format/keys.ts";
import { BlobCodec } from "./blob.ts";
import { BlobReader } from "./blob-reader.ts";
import { type DirStats, dirEntries } from "./backup-dir.ts";
import { Chunker } from "./cdc.ts";
import { type CheckOptions, type CheckReport, checkRepo } from "./check.ts";
import { type DedupConfig, type InitOptions, newConfig, openConfig } from "./config.ts";
import { ContentStore } from "./content.ts";
import { BLOB_DATA, BLOB_TREE, Layout, indexAad, isIndexName, isSnapshotId } from "./format.ts";
import { gearTable } from "./gear.ts";
import { PackWriter } from "./pack-writer.ts";
import { ahead } from "./prefetch.ts";
import { readAll } from "./read-all.ts";
import { RepoIndex, decodeIndexFile } from "./repo-index.ts";
import { archiveStream, streamContent } from "./restore.ts";
import { Sealer } from "./seal.ts";
import { type Snapshot, checkSnapshotBinding, newSnapshotId, openSnapshot, sealSnapshot } from "./snapshot.ts";
import type { RepoStore } from "./store.ts";
import { ParentCursor, type TreeEntry, entryLine, treeEntries } from "./tree.ts";

export interface RepoOptions {
  /** The repo key (DP_ENCRYPTION_KEY / _FILE); an encrypted repo needs it, an unencrypted one refuses it. */
  key?: KeySource;
  /** Where the repo lives in the backend ("" the root). */
  prefix?: string;
}

export interface BackupOptions {
  /** DP_BACKUP_ID: recorded in the snapshot; reads with it refuse other backups' snapshots. */
  backupId?: string;
  /** What the snapshot is of (default: the stream's name, or the directory's absolute path). */
  target?: string;
  /**
   * backupDir: the snapshot whose file metadata lets unchanged files be skipped; default the
   * newest "dir" snapshot of the same target; false: none (read every file).
   */
  parent?: string | false;
  warn?: (line: string) => void;
}

export interface ReadOptions {
  backupId?: string;
}

export class DedupRepo {
  private readonly reader: BlobReader;
  private readonly data: Chunker;
  private readonly trees: Chunker;
  private busy = false;

  private constructor(private readonly store: RepoStore) {
    this.reader = new BlobReader(store);
    const gear = gearTable(store.keys.gear);
    this.data = new Chunker(store.config.chunker, gear);
    this.trees = new Chunker(store.config.treeChunker, gear);
  }

  get config(): DedupConfig {
    return this.store.config;
  }

  /** Chunks the loaded index locates. */
  get indexedChunks(): number {
    return this.store.index.size;
  }

  /** Create a repo under the prefix (refused when one is there). */
  static async init(backend: RepoBackend, opts: RepoOptions & InitOptions = {}): Promise<DedupRepo> {
    const layout = new Layout(opts.prefix ?? "");
    if (await backend.stat(layout.config)) throw new AgentError(`${backend.location}/${layout.config}: a repository is already there`);
    const { config, keys } = await newConfig(opts.key, opts);
    await backend.put(layout.config, Buffer.from(`${JSON.stringify(config, null, 2)}\n`));
    return new DedupRepo(storeOf(backend, layout, config, keys, new RepoIndex()));
  }

  /** Open a repo and load its index. */
  static async open(backend: RepoBackend, opts: RepoOptions = {}): Promise<DedupRepo> {
    const layout = new Layout(opts.prefix ?? "");
    const where = `${backend.location}/${layout.config}`;
    let text: string;
    try {
      text = (await readAll(await backend.get(layout.config))).toString("utf8");
    } catch (err) {
      if (isRepoError(err, "NotFound")) throw new AgentError(`${where}: no dedup repository there (no config)`, { cause: err });
      throw err;
    }
    const { config, keys } = await openConfig(text, opts.key, where);
    const store = storeOf(backend, layout, config, keys, new RepoIndex());
    for await (const o of backend.list(layout.indexes)) {
      const name = layout.nameOf(o.key, isIndexName);
      if (!name) continue;
      const plain = store.sealer.open(indexAad(name), await readAll(await backend.get(o.key)));
      if (!plain) throw new AgentError(`index file ${name} does not open (corrupt, or changed): run check`);
      for (const p of decodeIndexFile(plain, name)) store.index.add(p);
    }
    return new DedupRepo(store);
  }

  /** Back up a stream (push from stdin) as a snapshot of one entry named `name`. */
  async backupStream(name: string, source: AsyncIterable<Uint8Array>, opts: BackupOptions = {}): Promise<Snapshot> {
    return this.exclusive(async () => {
      const writer = new PackWriter(this.store);
      const content = new ContentStore(this.data, this.store.keys.id, writer, BLOB_DATA, true);
      const stats: DirStats = { files: 1, dirs: 0, bytes: 0, unchanged: 0 };
      async function* entries(): AsyncGenerator<TreeEntry> {
        const { size, content: c } = await content.store(source);
        stats.bytes = size;
        yield { p: name, k: "s", s: size, c };
      }
      return this.commit(writer, "stream", opts.target ?? name, entries(), stats, opts, undefined);
    });
  }

  /** Back up a directory tree, skipping files unchanged since the parent snapshot. */
  async backupDir(dir: string, opts: BackupOptions = {}): Promise<Snapshot> {
    return this.exclusive(async () => {
      const target = opts.target ?? resolve(dir);
      const parent = opts.parent === false ? undefined : opts.parent !== undefined ? await this.loadSnapshot(opts.parent) : await this.latest("dir", target);
      if (parent && parent.kind !== "dir") throw new AgentError(`snapshot ${parent.id} is not of a directory: it cannot be a parent`);
      const writer = new PackWriter(this.store);
      const content = new ContentStore(this.data, this.store.keys.id, writer, BLOB_DATA, true);
      const cursor = parent ? new ParentCursor(this.treeOf(parent)[Symbol.asyncIterator]()) : undefined;
      const stats: DirStats = { files: 0, dirs: 0, bytes: 0, unchanged: 0 };
      try {
        return await this.commit(writer, "dir", target, dirEntries(dir, content, writer, cursor, stats, opts.warn ?? (() => undefined)), stats, opts, parent?.id);
      } finally {
        await cursor?.close();
      }
    });
  }

  // Store the tree, the packs and their index, then the snapshot.
  private async commit(writer: PackWriter, kind: Snapshot["kind"], target: string, entries: AsyncIterable<TreeEntry>, stats: DirStats, opts: BackupOptions, parent: string | undefined): Promise<Snapshot> {
    const time = new Date().toISOString();
    const trees = new ContentStore(this.trees, this.store.keys.id, writer, BLOB_TREE, false);
    let snapshot: Snapshot;
    try {
      const tree = await trees.store(lines(entries));
      await writer.finish();
      snapshot = {
        v: 1,
        id: newSnapshotId(),
        time,
        kind,
        target,
        ...(opts.backupId !== undefined ? { backupId: opts.backupId } : {}),
        ...(parent !== undefined ? { parent } : {}),
        tree: tree.content as string[],
        stats: { ...stats, newChunks: writer.stats.blobs, newBytes: writer.stats.bytes, storedBytes: writer.stats.stored },
      };
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const { backend, layout, sealer } = this.store;
    await backend.put(layout.snapshot(snapshot.id), sealSnapshot(sealer, snapshot));
    return snapshot;
  }

  /** Every snapshot (of `backupId` only, when given), oldest first. */
  async listSnapshots(opts: ReadOptions = {}): Promise<Snapshot[]> {
    const { backend, layout, sealer } = this.store;
    const out: Snapshot[] = [];
    for await (const o of backend.list(layout.snapshots)) {
      const id = layout.nameOf(o.key, isSnapshotId);
      if (!id) continue;
      const s = openSnapshot(sealer, id, await readAll(await backend.get(o.key)));
      if (opts.backupId === undefined || s.backupId === opts.backupId) out.push(s);
    }
    return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }

  /** One snapshot, refused when it belongs to another backup than opts.backupId. */
  async loadSnapshot(id: string, opts: ReadOptions = {}): Promise<Snapshot> {
    if (!isSnapshotId(id)) throw new AgentError(`${JSON.stringify(id)} is not a snapshot id (32 hex digits)`);
    const { backend, layout, sealer } = this.store;
    let sealed: Buffer;
    try {
      sealed = await readAll(await backend.get(layout.snapshot(id)));
    } catch (err) {
      if (isRepoError(err, "NotFound")) throw new AgentError(`snapshot ${id} not found`, { cause: err });
      throw err;
    }
    const s = openSnapshot(sealer, id, sealed);
    checkSnapshotBinding(s, opts.backupId);
    return s;
  }

  /** A snapshot's tree entries, in order. */
  treeOf(s: Snapshot): AsyncIterable<TreeEntry> {
    const reader = this.reader;
    async function* bytes(): AsyncGenerator<Buffer> {
      async function* ids(): AsyncGenerator<string> {
        yield* s.tree;
      }
      for await (const { result } of ahead(ids(), (id) => reader.read(id), 4)) yield result!;
    }
    return treeEntries(bytes());
  }

  /** The bytes of a stream snapshot (its entry `name`, or its only stream), each chunk verified before it is yielded. */
  async *readStream(snapshotId: string, opts: ReadOptions & { name?: string } = {}): AsyncGenerator<Buffer> {
    const s = await this.loadSnapshot(snapshotId, opts);
    let entry: TreeEntry | undefined;
    for await (const e of this.treeOf(s)) {
      if (e.k === "s" && (opts.name === undefined || e.p === opts.name)) {
        entry = e;
        break;
      }
    }
    if (!entry) throw new AgentError(`snapshot ${snapshotId} has no stream${opts.name !== undefined ? ` named ${JSON.stringify(opts.name)}` : ""}`);
    yield* streamContent(entry, this.reader);
  }

  /** Write a stream snapshot to `sink` (not ended); resolves with the byte count. */
  async restoreStream(snapshotId: string, sink: Writable, opts: ReadOptions & { name?: string } = {}): Promise<{ size: number }> {
    let size = 0;
    for await (const b of this.readStream(snapshotId, opts)) {
      size += b.length;
      if (!sink.write(b)) await once(sink, "drain");
    }
    return { size };
  }

  /** Restore a directory snapshot into `target` (pull-dir's unpacker and guarantees). */
  async restoreDir(snapshotId: string, target: string, opts: ReadOptions = {}): Promise<UnpackResult> {
    const s = await this.loadSnapshot(snapshotId, opts);
    if (s.kind !== "dir") throw new AgentError(`snapshot ${snapshotId} is of a stream, not a directory: restore it as a stream`);
    // Every buffer the archive yields is its own (chunks are never reused): the unpacker may hold them.
    return unpackDir(archiveStream(this.treeOf(s), this.reader), target, () => () => undefined);
  }

  /** Verify the repo (check.ts). */
  async check(opts: CheckOptions = {}): Promise<CheckReport> {
    return this.exclusive(() => checkRepo(this.store, opts));
  }

  private async latest(kind: Snapshot["kind"], target: string): Promise<Snapshot | undefined> {
    const all = await this.listSnapshots();
    return all.filter((s) => s.kind === kind && s.target === target).pop();
  }

  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    if (this.busy) throw new Error("internal: one backup or check at a time per DedupRepo");
    this.busy = true;
    try {
      return await f();
    } finally {
      this.busy = false;
    }
  }
}

function storeOf(backend: RepoBackend, layout: Layout, config: DedupConfig, keys: RepoStore["keys"], index: RepoIndex): RepoStore {
  const sealer = new Sealer(keys.data);
  return { backend, layout, config, keys, sealer, codec: new BlobCodec(sealer, config.zstdLevel), index };
}

// Tree lines, gathered into pieces of ~64 KiB.
async function* lines(entries: AsyncIterable<TreeEntry>): AsyncGenerator<Buffer> {
  let batch: string[] = [];
  let size = 0;
  for await (const e of entries) {
    const line = entryLine(e);
    batch.push(line);
    size += line.length;
    if (size >= 64 << 10) {
      yield Buffer.from(batch.join(""), "utf8");
      batch = [];
      size = 0;
    }
  }
  if (batch.length > 0) yield Buffer.from(batch.join(""), "utf8");
}
