// A deduplicating repository on any RepoBackend: every backup a full snapshot, chunks stored
// once. See README.md ("Deduplicating repository") for the formats; the pieces:
//   cdc.ts chunking, ids.ts chunk ids, blob.ts/packfile.ts/pack-writer.ts storing chunks,
//   repo-index.ts locating them, tree.ts/snapshot.ts what a backup is, check.ts verifying.
//   backup.ts writing a backup (encoders.ts its threads), lock.ts who may use the repo at once,
//   prune.ts deleting what no snapshot needs.
// One backup, check or prune at a time per DedupRepo (restores may overlap them). Every operation
// on the repo's data takes a lock (lock.ts): backups, restores and check a shared one, prune an
// exclusive one; an operation reloads what changed in the index once it holds its lock (a prune
// may have run since the repo was opened). Two backups at once may store a chunk twice, which is
// harmless (prune drops the unused copy).
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
import { type BackupContext, type BackupOptions, commitSnapshot, withWriter } from "./backup.ts";
import { ContentStore } from "./content.ts";
import { BLOB_DATA, Layout, indexAad, isIndexName, isSnapshotId } from "./format.ts";
import { gearTable } from "./gear.ts";
import { type HeldLock, type LockKind, type LockOptions, Locks, describeLock } from "./lock.ts";
import { ahead } from "./prefetch.ts";
import { type PruneOptions, type PruneReport, pruneRepo } from "./prune.ts";
import { readAll } from "./read-all.ts";
import { RepoIndex, decodeIndexFile } from "./repo-index.ts";
import { archiveStream, streamContent } from "./restore.ts";
import { Sealer } from "./seal.ts";
import { type Snapshot, checkSnapshotBinding, openSnapshot } from "./snapshot.ts";
import type { RepoStore } from "./store.ts";
import { ParentCursor, type TreeEntry, treeEntries } from "./tree.ts";

export interface RepoOptions {
  /** The repo key (DP_ENCRYPTION_KEY / _FILE); an encrypted repo needs it, an unencrypted one refuses it. */
  key?: KeySource;
  /** Where the repo lives in the backend ("" the root). */
  prefix?: string;
  /** Lock lease, refresh interval, margin and clock (lock.ts; tests inject a clock). */
  locks?: LockOptions;
  /** Threads that compress and seal a backup's new chunks (encoders.ts); 0 (the default): the main thread does. */
  threads?: number;
}

export interface ReadOptions {
  backupId?: string;
  /** Restores: take a shared lock, so no prune moves chunks away meanwhile (default true; false for a read-only repo). */
  lock?: boolean;
}

/**
 * How long a creator waits between writing a new repo's config and opening whatever config is
 * there (openOrInit): longer than any creator takes from finding no config to having written its own.
 */
export const INIT_SETTLE_MS = 5000;

export class DedupRepo {
  private readonly reader: BlobReader;
  private readonly data: Chunker;
  private readonly trees: Chunker;
  private readonly locks: Locks;
  private busy = false;
  /** Index files store.index holds; `stale`: reload it all at the next refreshIndex. */
  private loaded = new Set<string>();
  private stale = false;
  private reloading: Promise<void> = Promise.resolve();

  private constructor(
    private readonly store: RepoStore,
    lockOptions: LockOptions = {},
    private readonly threads = 0,
  ) {
    this.reader = new BlobReader(store);
    const gear = gearTable(store.keys.gear);
    this.data = new Chunker(store.config.chunker, gear);
    this.trees = new Chunker(store.config.treeChunker, gear);
    this.locks = new Locks(store, lockOptions);
  }

  get config(): DedupConfig {
    return this.store.config;
  }

  /** Chunks the loaded index locates. */
  get indexedChunks(): number {
    return this.store.index.size;
  }

  // What a backup's commit (backup.ts) needs of the repo.
  private get backupContext(): BackupContext {
    return { store: this.store, trees: this.trees, indexed: (name) => this.loaded.add(name) };
  }

  /** Create a repo under the prefix (refused when one is there). */
  static async init(backend: RepoBackend, opts: RepoOptions & InitOptions = {}): Promise<DedupRepo> {
    const layout = new Layout(opts.prefix ?? "");
    if (await backend.stat(layout.config)) throw new AgentError(`${backend.location}/${layout.config}: a repository is already there`);
    const { config, keys } = await newConfig(opts.key, opts);
    const repo = new DedupRepo(storeOf(backend, layout, config, keys, new RepoIndex()), opts.locks, opts.threads);
    await backend.put(layout.config, Buffer.from(`${JSON.stringify(config, null, 2)}\n`));
    return repo;
  }

  /**
   * Open the repo, or create it when there is none, when several may do so at once (the first
   * backups of a namespace start together). Backends have no create-if-absent: two creators that
   * both found no config both write one, and the later write wins. So a creator writes its config,
   * waits `settleMs`, and only then opens the config that is there, ours or a later creator's,
   * before it writes anything under its keys. Assumes, like the locks' lease (README, A2), that no
   * creator takes longer than `settleMs` from finding no config to having written its own: then
   * every creator opens after the last config write, and all open the same one.
   */
  static async openOrInit(backend: RepoBackend, opts: RepoOptions & InitOptions & { settleMs?: number } = {}): Promise<DedupRepo> {
    const layout = new Layout(opts.prefix ?? "");
    if (await backend.stat(layout.config)) return DedupRepo.open(backend, opts);
    // The key derivation (scrypt for a passphrase) before the second look, to keep the window short.
    const { config } = await newConfig(opts.key, opts);
    if (!(await backend.stat(layout.config))) {
      await backend.put(layout.config, Buffer.from(`${JSON.stringify(config, null, 2)}\n`));
      await new Promise((r) => setTimeout(r, opts.settleMs ?? INIT_SETTLE_MS));
    }
    return DedupRepo.open(backend, opts);
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
    const repo = new DedupRepo(storeOf(backend, layout, config, keys, new RepoIndex()), opts.locks, opts.threads);
    await repo.refreshIndex();
    return repo;
  }

  /** Load the index files written since the last load; all of them again when one is gone (a prune ran). */
  private refreshIndex(): Promise<void> {
    const next = this.reloading.catch(() => undefined).then(async () => {
      const { backend, layout } = this.store;
      const names: string[] = [];
      for await (const o of backend.list(layout.indexes)) {
        const name = layout.nameOf(o.key, isIndexName);
        if (name) names.push(name);
      }
      const present = new Set(names);
      if (this.stale || [...this.loaded].some((n) => !present.has(n))) {
        this.store.index = new RepoIndex();
        this.loaded = new Set();
        this.stale = false;
      }
      for (const name of names) {
        if (this.loaded.has(name)) continue;
        let sealed: Buffer;
        try {
          sealed = await readAll(await backend.get(layout.index(name)));
        } catch (err) {
          if (isRepoError(err, "NotFound")) continue; // deleted since the listing (a prune without a lock in the way: open takes none)
          throw err;
        }
        const plain = this.store.sealer.open(indexAad(name), sealed);
        if (!plain) throw new AgentError(`index file ${name} does not open (corrupt, or changed): run check`);
        for (const p of decodeIndexFile(plain, name)) this.store.index.add(p);
        this.loaded.add(name);
      }
    });
    this.reloading = next;
    return next;
  }

  /** Run `f` holding a lock of `kind`, with the index brought up to date once the lock is held. */
  private async locked<T>(kind: LockKind, op: string, f: (lock: HeldLock) => Promise<T>): Promise<T> {
    const lock = await this.locks.acquire(kind, op);
    try {
      await this.refreshIndex();
      return await f(lock);
    } finally {
      await this.reader.release();
      await lock.release();
    }
  }

  /** Back up a stream (push from stdin) as a snapshot of one entry named `name`. */
  async backupStream(name: string, source: AsyncIterable<Uint8Array>, opts: BackupOptions = {}): Promise<Snapshot> {
    return this.exclusive(() => this.locked("shared", "backup", (lock) => withWriter(this.store, this.threads, lock, async (writer) => {
      const content = new ContentStore(this.data, this.store.keys.id, writer, BLOB_DATA, true);
      const stats: DirStats = { files: 1, dirs: 0, bytes: 0, unchanged: 0 };
      async function* entries(): AsyncGenerator<TreeEntry> {
        const { size, content: c } = await content.store(source);
        stats.bytes = size;
        yield { p: name, k: "s", s: size, c };
      }
      return commitSnapshot(this.backupContext, writer, lock, "stream", opts.target ?? name, entries(), stats, opts, undefined);
    })));
  }

  /** Back up a directory tree, skipping files unchanged since the parent snapshot. */
  async backupDir(dir: string, opts: BackupOptions = {}): Promise<Snapshot> {
    return this.exclusive(() => this.locked("shared", "backup", (lock) => withWriter(this.store, this.threads, lock, async (writer) => {
      const target = opts.target ?? resolve(dir);
      const parent = opts.parent === false ? undefined : opts.parent !== undefined ? await this.loadSnapshot(opts.parent) : await this.latest("dir", target);
      if (parent && parent.kind !== "dir") throw new AgentError(`snapshot ${parent.id} is not of a directory: it cannot be a parent`);
      const content = new ContentStore(this.data, this.store.keys.id, writer, BLOB_DATA, true, { store: this.store, reader: this.reader });
      const cursor = parent ? new ParentCursor(this.treeOf(parent)[Symbol.asyncIterator]()) : undefined;
      const stats: DirStats = { files: 0, dirs: 0, bytes: 0, unchanged: 0 };
      try {
        // A parent whose start is unknown vouches for no file (all are read).
        const started = parent ? Date.parse(parent.time) : NaN;
        const from = cursor ? { cursor, startedNs: Number.isFinite(started) ? BigInt(started) * 1_000_000n : 0n } : undefined;
        return await commitSnapshot(this.backupContext, writer, lock, "dir", target, dirEntries(dir, content, writer, from, stats, opts.warn ?? (() => undefined)), stats, opts, parent?.id, content.patched);
      } finally {
        await cursor?.close();
      }
    })));
  }

  /**
   * Delete a snapshot (nothing else: prune frees what only it used). With a backup id, another
   * backup's snapshot is refused, and so is one that does not open (it cannot show whose it is);
   * without one, a snapshot that does not open may be forgotten (else it would stop every prune).
   * Returns the snapshot, or undefined when it did not open.
   */
  async forget(id: string, opts: ReadOptions = {}): Promise<Snapshot | undefined> {
    const sealed = await this.readSealedSnapshot(id);
    const { backend, layout, sealer } = this.store;
    let s: Snapshot | undefined;
    try {
      s = openSnapshot(sealer, id, sealed);
    } catch (err) {
      if (opts.backupId !== undefined) throw new AgentError(`${(err as Error).message}: it cannot show it belongs to backup ${opts.backupId} (DP_BACKUP_ID): refusing to forget it`, { cause: err });
    }
    if (s) checkSnapshotBinding(s, opts.backupId);
    await backend.delete(layout.snapshot(id));
    return s;
  }

  /** Delete the packs and index entries no snapshot needs, under the exclusive lock (prune.ts). */
  async prune(opts: PruneOptions = {}): Promise<PruneReport> {
    return this.exclusive(async () => {
      const lock = await this.locks.acquire("exclusive", "prune");
      try {
        const report = await pruneRepo(this.store, {
          ensure: () => lock.ensure(),
          beforeDelete: async () => {
            await lock.confirm();
            const others = this.locks.conflicts("exclusive", (await this.locks.list()).filter((l) => l.id !== lock.id));
            if (others.length > 0) throw new AgentError(`prune stopped before deleting: ${others.map(describeLock).join("; ")} took a lock while prune ran (a lease was not honoured); what prune added stays for the next prune`);
            // The listing says nothing if the lease ran out while it ran (another may have taken this lock for stale).
            await lock.ensure();
          },
        }, opts);
        report.staleLocksRemoved = lock.staleRemoved.length;
        return report;
      } finally {
        this.stale = true;
        await lock.release();
      }
    });
  }

  /**
   * Every snapshot (of `backupId` only, when given), oldest first. With `unreadable`, a snapshot
   * that does not open (or went away since the listing) is handed to it and skipped instead of
   * failing the listing.
   */
  async listSnapshots(opts: ReadOptions & { unreadable?: (id: string, err: Error) => void } = {}): Promise<Snapshot[]> {
    const { backend, layout, sealer } = this.store;
    const out: Snapshot[] = [];
    for await (const o of backend.list(layout.snapshots)) {
      const id = layout.nameOf(o.key, isSnapshotId);
      if (!id) continue;
      let s: Snapshot;
      try {
        s = openSnapshot(sealer, id, await readAll(await backend.get(o.key)));
      } catch (err) {
        if (!opts.unreadable || !(err instanceof AgentError || isRepoError(err, "NotFound"))) throw err;
        opts.unreadable(id, err as Error);
        continue;
      }
      if (opts.backupId === undefined || s.backupId === opts.backupId) out.push(s);
    }
    return out.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
  }

  /** A snapshot object as stored (sealed), or a clear error for a bad or missing id. */
  private async readSealedSnapshot(id: string): Promise<Buffer> {
    if (!isSnapshotId(id)) throw new AgentError(`${JSON.stringify(id)} is not a snapshot id (32 hex digits)`);
    const { backend, layout } = this.store;
    try {
      return await readAll(await backend.get(layout.snapshot(id)));
    } catch (err) {
      if (isRepoError(err, "NotFound")) throw new AgentError(`snapshot ${id} not found`, { cause: err });
      throw err;
    }
  }

  /** A snapshot object as stored (sealed, unopened): what a manifest's checksum of a snapshot is over. */
  sealedSnapshot(id: string): Promise<Buffer> {
    return this.readSealedSnapshot(id);
  }

  /** Open a snapshot's sealed bytes (from sealedSnapshot), refused when it belongs to another backup than opts.backupId. */
  openSealedSnapshot(id: string, sealed: Buffer, opts: ReadOptions = {}): Snapshot {
    const s = openSnapshot(this.store.sealer, id, sealed);
    checkSnapshotBinding(s, opts.backupId);
    return s;
  }

  /** One snapshot, refused when it belongs to another backup than opts.backupId. */
  async loadSnapshot(id: string, opts: ReadOptions = {}): Promise<Snapshot> {
    return this.openSealedSnapshot(id, await this.readSealedSnapshot(id), opts);
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
    const lock = await this.readLock(opts);
    try {
      yield* this.readStreamLocked(snapshotId, opts);
    } finally {
      await this.reader.release();
      await lock?.release();
    }
  }

  private async *readStreamLocked(snapshotId: string, opts: ReadOptions & { name?: string }): AsyncGenerator<Buffer> {
    yield* this.streamOf(await this.loadSnapshot(snapshotId, opts), opts.name);
  }

  private async *streamOf(s: Snapshot, name: string | undefined): AsyncGenerator<Buffer> {
    let entry: TreeEntry | undefined;
    for await (const e of this.treeOf(s)) {
      if (e.k === "s" && (name === undefined || e.p === name)) {
        entry = e;
        break;
      }
    }
    if (!entry) throw new AgentError(`snapshot ${s.id} has no stream${name !== undefined ? ` named ${JSON.stringify(name)}` : ""}`);
    yield* streamContent(entry, this.reader);
  }

  /**
   * What an opened snapshot (openSealedSnapshot) restores, as one byte stream, every chunk
   * verified before it is yielded: a stream snapshot's content, a directory snapshot's archive
   * stream (push-dir's format, which unpackDir restores, as restoreDir does). Under a shared lock
   * unless opts.lock is false.
   */
  async *readSnapshot(s: Snapshot, opts: ReadOptions = {}): AsyncGenerator<Buffer> {
    const lock = await this.readLock(opts);
    try {
      if (s.kind === "dir") yield* archiveStream(this.treeOf(s), this.reader);
      else yield* this.streamOf(s, undefined);
    } finally {
      await this.reader.release();
      await lock?.release();
    }
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
    const lock = await this.readLock(opts);
    try {
      const s = await this.loadSnapshot(snapshotId, opts);
      if (s.kind !== "dir") throw new AgentError(`snapshot ${snapshotId} is of a stream, not a directory: restore it as a stream`);
      // Every buffer the archive yields is its own (chunks are never reused): the unpacker may hold
      // them, and its QUEUE_BUDGET bounds how many bytes it holds until they are written.
      return await unpackDir(archiveStream(this.treeOf(s), this.reader), target, () => () => undefined);
    } finally {
      await this.reader.release();
      await lock?.release();
    }
  }

  // A restore's shared lock (unless opts.lock is false), with the index brought up to date.
  private async readLock(opts: ReadOptions): Promise<HeldLock | undefined> {
    const lock = opts.lock === false ? undefined : await this.locks.acquire("shared", "restore");
    try {
      await this.refreshIndex();
    } catch (err) {
      await lock?.release();
      throw err;
    }
    return lock;
  }

  /** Verify the repo (check.ts), under a shared lock unless opts.lock is false. */
  async check(opts: CheckOptions & { lock?: boolean } = {}): Promise<CheckReport> {
    return this.exclusive(async () => {
      if (opts.lock === false) return checkRepo(this.store, opts, this.locks);
      const lock = await this.locks.acquire("shared", "check");
      try {
        return await checkRepo(this.store, opts, this.locks, lock.id);
      } finally {
        await lock.release();
      }
    });
  }

  private async latest(kind: Snapshot["kind"], target: string): Promise<Snapshot | undefined> {
    const all = await this.listSnapshots();
    return all.filter((s) => s.kind === kind && s.target === target).pop();
  }

  private async exclusive<T>(f: () => Promise<T>): Promise<T> {
    if (this.busy) throw new Error("internal: one backup, check or prune at a time per DedupRepo");
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
