// prune: delete what no snapshot needs. Runs under the exclusive lock (lock.ts; repo.ts takes
// it), so no backup, restore or check is running, and a backup whose lease ran out finds its lock
// gone and stops before it writes its snapshot. Steps:
//   1. read every index file (one that does not open stops prune: the packs it names would look
//      unused), list the packs, open every snapshot (one that does not open stops prune: what it
//      needs is unknown; forget it first), walk their trees and mark every tree blob and data
//      chunk they name, at one location each: the first one indexed in a pack that is there (the
//      first whole copy, if one is), or, if no index file locates it, in a pack no index names
//      (its header says what it holds: the pack is adopted, indexed again). A patch's bases are
//      marked with it, at whole copies. A chunk found nowhere stops prune: the repo is damaged.
//   2. per pack: nothing used -> delete; the unused share of its blob bytes at or above
//      repackThreshold -> repack (the used blobs are read, verified and copied as they are sealed
//      into new packs, with an index file of their own); else keep. Packs no index file names
//      (left by an interrupted backup or prune) and not adopted -> delete.
//   3. write index files for the kept packs that no kept index file names; an old index file
//      is kept only if every pack it names is kept and no earlier kept file names one of them.
//   4. delete the other old index files; 5. delete the packs. Before 4 and 5 prune checks that its
//      lock is still there and good and that no other live lock appeared.
// A crash at any point leaves every snapshot restorable: until 4 only things were added (new
// packs, maybe unindexed; index files naming kept packs a second time); during 4 every kept pack
// stays named by a kept or a new index file; in 5 the packs deleted are ones no index file names
// any more. What is left (unindexed packs, packs named twice, chunks stored twice) check reports
// as leftovers and the next prune removes.
import { randomBytes } from "node:crypto";
import { AgentError } from "../errors.ts";
import { BlobError } from "./blob.ts";
import { BlobReader } from "./blob-reader.ts";
import { BLOB_DATA, BLOB_PATCH, indexAad, isIndexName, isPackName, isSnapshotId } from "./format.ts";
import { chunkId, shortId } from "./ids.ts";
import { PackWriter } from "./pack-writer.ts";
import type { PackEntry } from "./packfile.ts";
import { readAll } from "./read-all.ts";
import { type IndexedPack, type Location, RepoIndex, decodeIndexFile, encodeIndexFile, locationOf } from "./repo-index.ts";
import { type Snapshot, openSnapshot } from "./snapshot.ts";
import type { RepoStore } from "./store.ts";
import { treeEntries } from "./tree.ts";

export const DEFAULT_REPACK_THRESHOLD = 0.2;
/** Packs per index file prune writes. */
const PACKS_PER_INDEX = 256;

export interface PruneOptions {
  /**
   * Repack a pack when at least this share of its blob bytes is unused (default 0.2); above 1:
   * never repack, only delete packs nothing uses.
   */
  repackThreshold?: number;
  /** Plan only: report what would be deleted and repacked, change nothing. */
  dryRun?: boolean;
}

export interface PruneReport {
  dryRun: boolean;
  snapshots: number;
  /** Packs there before prune. */
  packs: number;
  /** Packs deleted because nothing used them (orphans included), and of those the orphans. */
  packsDeleted: number;
  orphanPacksDeleted: number;
  /** Packs whose used blobs were copied to new packs, then deleted. */
  packsRepacked: number;
  packsWritten: number;
  /** Unindexed packs holding chunks a snapshot needs, indexed again. */
  packsAdopted: number;
  packsKept: number;
  /** Distinct chunks (data and tree) the snapshots use: all kept. */
  blobsKept: number;
  /** Indexed blobs dropped (unused, or unused copies). */
  blobsRemoved: number;
  indexFilesDeleted: number;
  indexFilesWritten: number;
  /** Bytes of packs and index files deleted, and written; freed = deleted - written. */
  bytesDeleted: number;
  bytesWritten: number;
  bytesFreed: number;
  /** Stale locks the exclusive lock's taking removed (repo.ts fills it in). */
  staleLocksRemoved: number;
}

/** What prune asks of its lock (lock.ts HeldLock, and a re-listing of the others). */
export interface PruneGuard {
  /** Cheap, often: throws when the lock is lost. */
  ensure(): Promise<void>;
  /** Before deleting: the lock is still there and renewed, and no other live lock appeared. */
  beforeDelete(): Promise<void>;
}

interface At {
  pack: string;
  e: PackEntry;
}

function locationAt(a: At): Location {
  return locationOf(a.pack, a.e);
}

/** Of a chunk's copies, a whole one when there is one (as the index chooses: repo-index.ts). */
function preferWhole(ats: At[] | undefined): At | undefined {
  return ats?.find((a) => a.e.type !== BLOB_PATCH) ?? ats?.[0];
}

export async function pruneRepo(store: RepoStore, guard: PruneGuard, opts: PruneOptions = {}): Promise<PruneReport> {
  const threshold = opts.repackThreshold ?? DEFAULT_REPACK_THRESHOLD;
  if (!(threshold >= 0)) throw new AgentError(`prune: repack threshold ${threshold} is not a share between 0 and 1 (or above 1 for never)`);
  const { backend, layout, sealer } = store;
  // Chunks are read where prune found them (a patch's base included), not where store.index says.
  const chosen = new Map<string, At>();
  const locs = new Map<string, At[]>();
  const reader = new BlobReader(store, (id) => {
    const at = chosen.get(id) ?? preferWhole(locs.get(id));
    return at && locationAt(at);
  });

  try {
    // 1. Index files, packs, snapshots.
    const files: { name: string; size: number; packs: string[] }[] = [];
    const packEntries = new Map<string, PackEntry[]>();
    for await (const o of backend.list(layout.indexes)) {
      const name = layout.nameOf(o.key, isIndexName);
      if (!name) continue;
      const plain = sealer.open(indexAad(name), await readAll(await backend.get(o.key)));
      if (!plain) throw new AgentError(`prune refused: index file ${name} does not open (corrupt, or changed): the packs it names would look unused; run check`);
      const packs = decodeIndexFile(plain, name);
      files.push({ name, size: o.size, packs: packs.map((p) => p.pack) });
      for (const p of packs) if (!packEntries.has(p.pack)) packEntries.set(p.pack, p.entries);
    }
    const listed = new Map<string, number>();
    for await (const o of backend.list(layout.packs)) {
      const name = layout.nameOf(o.key, isPackName);
      if (name) listed.set(name, o.size);
    }
    const addLocs = (pack: string, entries: PackEntry[]): void => {
      for (const e of entries) {
        const id = e.id.toString("hex");
        const l = locs.get(id);
        if (l) l.push({ pack, e });
        else locs.set(id, [{ pack, e }]);
      }
    };
    for (const [pack, entries] of packEntries) if (listed.has(pack)) addLocs(pack, entries);

    // Packs no index file names, read (their headers) only when a chunk is found nowhere else.
    const orphans = [...listed.keys()].filter((p) => !packEntries.has(p));
    let orphanLocs: Map<string, At> | undefined;
    const orphanHeaders = new Map<string, PackEntry[]>();
    const adopted = new Set<string>();
    const inOrphans = async (id: string): Promise<At | undefined> => {
      if (!orphanLocs) {
        orphanLocs = new Map();
        for (const pack of orphans) {
          let entries: PackEntry[];
          try {
            entries = await reader.header(pack);
          } catch {
            continue; // unreadable: nothing can be taken from it
          }
          orphanHeaders.set(pack, entries);
          for (const e of entries) if (!orphanLocs.has(e.id.toString("hex"))) orphanLocs.set(e.id.toString("hex"), { pack, e });
        }
      }
      const at = orphanLocs.get(id);
      if (at && !adopted.has(at.pack)) {
        adopted.add(at.pack);
        packEntries.set(at.pack, orphanHeaders.get(at.pack)!);
        addLocs(at.pack, orphanHeaders.get(at.pack)!);
      }
      return at;
    };

    const snapshots: Snapshot[] = [];
    for await (const o of backend.list(layout.snapshots)) {
      const id = layout.nameOf(o.key, isSnapshotId);
      if (!id) continue;
      try {
        snapshots.push(openSnapshot(sealer, id, await readAll(await backend.get(o.key))));
      } catch (err) {
        throw new AgentError(`prune refused: ${(err as Error).message}: what it needs is unknown; forget it (dp-agent dedup forget ${id}) or restore it from elsewhere first`, { cause: err });
      }
    }

    // Mark: one location per chunk a snapshot names, a whole copy when there is one; a patch's base too.
    const mark = async (id: string, who: () => string): Promise<At> => {
      let at = chosen.get(id);
      if (at) return at;
      at = preferWhole(locs.get(id)) ?? (await inOrphans(id));
      if (at?.e.type === BLOB_PATCH && at.e.patch === undefined) at = undefined;
      if (!at) throw new AgentError(`prune refused: ${who()} names chunk ${shortId(id)}, which is in no pack of the repository: run check (prune deletes nothing from a damaged repository)`);
      chosen.set(id, at);
      for (const raw of at.e.patch?.bases ?? []) {
        const base = raw.toString("hex");
        const b = await mark(base, () => `chunk ${shortId(id)} (a patch: a base of it)`);
        if (b.e.type !== BLOB_DATA) throw new AgentError(`prune refused: chunk ${shortId(id)} is a patch of chunk ${shortId(base)}, which the repository has only as a patch: run check (prune deletes nothing from a damaged repository)`);
      }
      return at;
    };
    for (const s of snapshots) {
      await guard.ensure();
      async function* treeBytes(): AsyncGenerator<Buffer> {
        for (const t of s.tree) yield await reader.readAt(t, locationAt(await mark(t, () => `snapshot ${s.id} (its tree)`)));
      }
      for await (const e of treeEntries(treeBytes())) {
        for (const x of e.c ?? []) if (typeof x === "string") await mark(x, () => `snapshot ${s.id} (${JSON.stringify(e.p)})`);
      }
    }
    await guard.ensure();

    // 2. Plan.
    const used = new Map<string, PackEntry[]>();
    for (const at of chosen.values()) {
      const u = used.get(at.pack);
      if (u) u.push(at.e);
      else used.set(at.pack, [at.e]);
    }
    const remove: string[] = [];
    const repack: string[] = [];
    const keep = new Set<string>();
    let blobsRemoved = 0;
    for (const [pack, entries] of packEntries) {
      if (!listed.has(pack)) {
        blobsRemoved += entries.length; // indexed, gone, and needed by nobody (else step 1 stopped): dropped from the index
        continue;
      }
      const u = used.get(pack) ?? [];
      const total = entries.reduce((n, e) => n + e.length, 0);
      const usedBytes = u.reduce((n, e) => n + e.length, 0);
      blobsRemoved += entries.length - u.length;
      if (u.length === 0) remove.push(pack);
      else if (u.length < entries.length && total > 0 && (total - usedBytes) / total >= threshold) repack.push(pack);
      else keep.add(pack);
    }
    const orphanDeletes = orphans.filter((p) => !adopted.has(p));
    const report: PruneReport = {
      dryRun: !!opts.dryRun,
      snapshots: snapshots.length,
      packs: listed.size,
      packsDeleted: remove.length + orphanDeletes.length,
      orphanPacksDeleted: orphanDeletes.length,
      packsRepacked: repack.length,
      packsWritten: 0,
      packsAdopted: adopted.size,
      packsKept: keep.size,
      blobsKept: chosen.size,
      blobsRemoved,
      indexFilesDeleted: 0,
      indexFilesWritten: 0,
      bytesDeleted: 0,
      bytesWritten: 0,
      bytesFreed: 0,
      staleLocksRemoved: 0,
    };
    const doomed = [...remove, ...repack, ...orphanDeletes];
    const packBytes = doomed.reduce((n, p) => n + (listed.get(p) ?? 0), 0);
    if (opts.dryRun) {
      const copied = repack.reduce((n, p) => n + (used.get(p) ?? []).reduce((m, e) => m + e.length, 0), 0);
      report.bytesDeleted = packBytes;
      report.bytesWritten = copied;
      report.bytesFreed = packBytes - copied;
      return report;
    }

    // Repack: the used blobs of `repack`, verified, into new packs and their index file.
    const fresh: RepoStore = { ...store, index: new RepoIndex() };
    const writer = new PackWriter(fresh, { checkpoint: () => guard.ensure() });
    try {
      for (const pack of repack) {
        for (const e of used.get(pack)!) {
          const id = e.id.toString("hex");
          const loc = locationAt({ pack, e });
          const sealed = await reader.sealedAt(id, loc);
          let plain: Buffer;
          try {
            plain = store.codec.decode({ type: e.type, flags: e.flags, id: e.id, rawLength: e.rawLength }, sealed);
            // A patch is checked as the chunk it makes with its bases (kept: marked with it).
            if (e.type === BLOB_PATCH) plain = await reader.readAt(id, loc);
          } catch (err) {
            if (err instanceof BlobError) throw new AgentError(`prune stopped (nothing deleted): chunk ${shortId(id)} in pack ${pack} does not open: ${err.message}; run check`);
            if (err instanceof AgentError) throw new AgentError(`prune stopped (nothing deleted): ${err.message}; run check`);
            throw err;
          }
          if (!chunkId(store.keys.id, plain).equals(e.id)) throw new AgentError(`prune stopped (nothing deleted): chunk ${shortId(id)} in pack ${pack} holds data whose id is not ${shortId(id)}; run check`);
          await writer.addSealed({ type: e.type, flags: e.flags, id: e.id, rawLength: e.rawLength, ...(e.patch ? { patch: e.patch } : {}) }, sealed);
        }
      }
      await writer.finish();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    report.packsWritten = writer.stats.packs;
    report.indexFilesWritten = writer.indexFiles.length;
    report.bytesWritten = writer.stats.stored;

    // 3. Index files naming every kept pack (adopted ones included) once.
    const kept = new Set([...keep].filter((p) => listed.has(p)));
    const covered = new Set<string>();
    const dropFiles: typeof files = [];
    for (const f of files) {
      const distinct = new Set(f.packs).size === f.packs.length;
      if (f.packs.length > 0 && distinct && f.packs.every((p) => kept.has(p) && !covered.has(p))) for (const p of f.packs) covered.add(p);
      else dropFiles.push(f);
    }
    const uncovered: IndexedPack[] = [...kept].filter((p) => !covered.has(p)).map((pack) => ({ pack, entries: packEntries.get(pack)! }));
    for (let i = 0; i < uncovered.length; i += PACKS_PER_INDEX) {
      await guard.ensure();
      const name = randomBytes(32).toString("hex");
      report.bytesWritten += await backend.put(layout.index(name), sealer.seal(indexAad(name), encodeIndexFile(uncovered.slice(i, i + PACKS_PER_INDEX))));
      report.indexFilesWritten++;
    }

    // 4. The old index files that name anything not kept, or name a kept pack again.
    if (dropFiles.length > 0) await guard.beforeDelete();
    for (const f of dropFiles) {
      await guard.ensure();
      await backend.delete(layout.index(f.name));
      report.indexFilesDeleted++;
      report.bytesDeleted += f.size;
    }

    // 5. The packs no index file names now.
    if (doomed.length > 0) await guard.beforeDelete();
    for (const pack of doomed) {
      await guard.ensure();
      await backend.delete(layout.pack(pack));
    }
    report.bytesDeleted += packBytes;
    report.bytesFreed = report.bytesDeleted - report.bytesWritten;
    return report;
  } finally {
    await reader.release();
  }
}
