// A backup's writing half: the writer of its new blobs (and their encoder threads), and its
// commit: the tree, the packs and their index, then, the lock still held, the snapshot. DedupRepo
// (repo.ts) walks what is backed up and holds the locks.
import { AgentError } from "../errors.ts";
import type { DirStats } from "./backup-dir.ts";
import type { Chunker } from "./cdc.ts";
import { maxChunk } from "./config.ts";
import { ContentStore } from "./content.ts";
import { BlobEncoders } from "./encoders.ts";
import { BLOB_TREE } from "./format.ts";
import type { HeldLock } from "./lock.ts";
import { PackWriter } from "./pack-writer.ts";
import { type Snapshot, newSnapshotId, sealSnapshot } from "./snapshot.ts";
import type { RepoStore } from "./store.ts";
import { type TreeEntry, entryLine } from "./tree.ts";

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
  /** Called once the snapshot is written: the object as stored (sealed) and how many chunks its tree names (data and tree blobs, repeats counted). */
  written?: (w: SnapshotWritten) => void;
}

export interface SnapshotWritten {
  sealed: Buffer;
  chunks: number;
}

/** What a backup's commit needs of the repo. */
export interface BackupContext {
  store: RepoStore;
  /** The chunker of snapshot trees. */
  trees: Chunker;
  /** An index file this backup wrote (its packs are in store.index already). */
  indexed: (name: string) => void;
}

/** Run `f` with a writer of new blobs for a backup holding `lock` (and `threads` encoder threads, stopped after). */
export async function withWriter<T>(store: RepoStore, threads: number, lock: HeldLock, f: (writer: PackWriter) => Promise<T>): Promise<T> {
  const encoders = threads > 0 ? new BlobEncoders(store.codec, store.keys.data, store.keys.id, threads, maxChunk(store.config)) : undefined;
  try {
    return await f(new PackWriter(store, { checkpoint: () => lock.ensure(), beforeIndex: () => lock.confirm(), ...(encoders ? { encoders } : {}) }));
  } finally {
    await encoders?.close();
  }
}

// Store the tree, the packs and their index, then (the lock still held) the snapshot.
export async function commitSnapshot(ctx: BackupContext, writer: PackWriter, lock: HeldLock, kind: Snapshot["kind"], target: string, entries: AsyncIterable<TreeEntry>, stats: DirStats, opts: BackupOptions, parent: string | undefined, patched?: ContentStore["patched"]): Promise<Snapshot> {
  const time = new Date().toISOString();
  const trees = new ContentStore(ctx.trees, ctx.store.keys.id, writer, BLOB_TREE, false);
  let snapshot: Snapshot;
  let chunks = 0;
  async function* counted(): AsyncGenerator<TreeEntry> {
    for await (const e of entries) {
      for (const x of e.c ?? []) if (typeof x === "string") chunks++;
      yield e;
    }
  }
  try {
    const tree = await trees.store(lines(counted()));
    chunks += tree.content.length;
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
      stats: {
        ...stats,
        newChunks: writer.stats.blobs,
        newBytes: writer.stats.bytes,
        storedBytes: writer.stats.stored,
        ...(patched ? { patchedChunks: patched.chunks, patchedBytes: patched.bytes, patchBytes: patched.carried } : {}),
      },
    };
  } catch (err) {
    await writer.abort();
    throw err;
  } finally {
    for (const name of writer.indexFiles) ctx.indexed(name); // already in store.index
  }
  try {
    await lock.confirm();
  } catch (err) {
    throw err instanceof AgentError ? new AgentError(`${err.message}: the snapshot was not written`, { cause: err }) : err;
  }
  const { backend, layout, sealer } = ctx.store;
  const key = layout.snapshot(snapshot.id);
  const sealed = sealSnapshot(sealer, snapshot);
  await backend.put(key, sealed);
  if (!(await lock.stillHeld())) {
    // A prune that took the lock for stale may have listed the snapshots before this one was there.
    await backend.delete(key).catch(() => undefined);
    throw new AgentError(`backup stopped: its lock ${lock.id} was lost while the snapshot was written: snapshot ${snapshot.id} was removed again`);
  }
  opts.written?.({ sealed, chunks });
  return snapshot;
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
