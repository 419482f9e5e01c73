// check: is everything every snapshot needs there and intact? Reads the repo afresh (not the
// index the caller loaded):
//   - every index file opens; every pack it names exists, and its header opens and lists the
//     same blobs at the same places;
//   - leftovers, harmless, which the next prune removes, are reported apart from errors: packs no
//     index file names (an interrupted backup or prune leaves them), packs more than one index
//     file names and chunks stored in more than one pack (an interrupted prune; two backups at
//     once), stale locks;
//   - every snapshot opens, its tree reads and parses, every chunk it names is indexed (a patch's
//     bases too, whole) and the content adds up to each file's size;
//   - with readData (the default), every chunk a snapshot names is read, authenticated,
//     decompressed (a patch applied to its bases) and its id recomputed from the plaintext.
// Errors are what makes a snapshot fail to restore, or could make a later backup name a chunk
// that is not there: a missing, unreadable or unopenable chunk, index file, pack or snapshot.
import { AgentError } from "../errors.ts";
import { oneLine } from "../messages.ts";
import { BlobReader } from "./blob-reader.ts";
import { BLOB_DATA, isIndexName, isPackName, isSnapshotId, indexAad } from "./format.ts";
import { chunkId, shortId } from "./ids.ts";
import type { PackEntry } from "./packfile.ts";
import { type Locks, describeLock } from "./lock.ts";
import { RepoIndex, decodeIndexFile } from "./repo-index.ts";
import { openSnapshot } from "./snapshot.ts";
import type { RepoStore } from "./store.ts";
import { treeEntries } from "./tree.ts";
import { readAll } from "./read-all.ts";

export interface CheckReport {
  ok: boolean;
  snapshots: number;
  indexFiles: number;
  packs: number;
  /** Distinct chunks the snapshots name, and how many were read and verified. */
  chunks: number;
  chunksRead: number;
  /** What makes a snapshot fail to restore (or may make a later backup name a lost chunk). */
  errors: string[];
  /** Harmless leftovers the next prune removes. */
  leftovers: string[];
  /** Anything else worth a look (objects with names the repo does not use, unreadable locks). */
  warnings: string[];
}

export interface CheckOptions {
  /** Read and verify every chunk a snapshot names (default true). */
  readData?: boolean;
}

const MAX_ERRORS = 1000;

/** `locks`: also report stale locks (leftovers) and unreadable ones (warnings), other than `ownLock`. */
export async function checkRepo(store: RepoStore, opts: CheckOptions = {}, locks?: Locks, ownLock?: string): Promise<CheckReport> {
  const { backend, layout, sealer } = store;
  const report: CheckReport = { ok: false, snapshots: 0, indexFiles: 0, packs: 0, chunks: 0, chunksRead: 0, errors: [], leftovers: [], warnings: [] };
  let dropped = 0;
  const error = (line: string): void => void (report.errors.length < MAX_ERRORS ? report.errors.push(line) : dropped++);
  const index = new RepoIndex();
  const fresh: RepoStore = { ...store, index };
  const reader = new BlobReader(fresh);

  // Index files.
  const indexed = new Map<string, PackEntry[][]>();
  for await (const o of backend.list(layout.indexes)) {
    const name = layout.nameOf(o.key, isIndexName);
    if (!name) {
      report.warnings.push(`${o.key} is not an index file name: ignored`);
      continue;
    }
    report.indexFiles++;
    try {
      const plain = sealer.open(indexAad(name), await readAll(await backend.get(o.key)));
      if (!plain) throw new AgentError(`index file ${name} ${sealer.encrypted ? "does not authenticate (corrupt, or changed)" : "fails its checksum (corrupt)"}`);
      for (const p of decodeIndexFile(plain, name)) {
        if (!indexed.has(p.pack)) index.add(p);
        indexed.set(p.pack, [...(indexed.get(p.pack) ?? []), p.entries]);
      }
    } catch (err) {
      error(oneLine(err));
    }
  }

  // Packs: present, headers agree with the index.
  const listed = new Map<string, number>();
  for await (const o of backend.list(layout.packs)) {
    const name = layout.nameOf(o.key, isPackName);
    if (name) listed.set(name, o.size);
    else report.warnings.push(`${o.key} is not a pack file name: ignored`);
  }
  report.packs = listed.size;
  for (const [pack, lists] of indexed) {
    if (!listed.has(pack)) {
      error(`pack ${pack} is missing: the ${lists[0].length} chunks its index lists are lost`);
      continue;
    }
    try {
      const header = new Map((await reader.header(pack)).map((e) => [e.id.toString("hex"), e]));
      for (const entries of lists) {
        for (const e of entries) {
          const h = header.get(e.id.toString("hex"));
          const samePatch = h?.patch === undefined ? e.patch === undefined : e.patch !== undefined && h.patch.size === e.patch.size && Buffer.concat(h.patch.bases).equals(Buffer.concat(e.patch.bases));
          if (!h || h.offset !== e.offset || h.length !== e.length || h.type !== e.type || h.flags !== e.flags || h.rawLength !== e.rawLength || !samePatch) {
            error(`pack ${pack} and the index disagree about chunk ${shortId(e.id.toString("hex"))}`);
          }
        }
      }
    } catch (err) {
      error(oneLine(err));
    }
  }
  for (const pack of listed.keys()) {
    if (!indexed.has(pack)) report.leftovers.push(`pack ${pack} is in no index file (left by an interrupted backup or prune; the next prune deletes it, or indexes it again if a snapshot needs it)`);
  }
  for (const [pack, lists] of indexed) {
    if (lists.length > 1) report.leftovers.push(`pack ${pack} is named by ${lists.length} index files (left by an interrupted prune; the next prune rewrites them)`);
  }
  if (index.duplicates > 0) report.leftovers.push(`${index.duplicates} chunks are stored in more than one pack (two backups at once, or an interrupted prune; prune drops the copies nothing uses)`);
  if (locks) {
    for (const l of await locks.list()) {
      if (l.id === ownLock) continue;
      if (!l.info) report.warnings.push(`lock ${l.id} does not open (${l.problem}): it blocks every backup and prune; if no dp-agent holds it, delete ${l.key}`);
      else if (locks.stale(l)) report.leftovers.push(`stale lock: ${describeLock(l)} (the next prune removes it)`);
    }
  }

  // Snapshots, their trees, their chunks.
  const used = new Map<string, string>(); // chunk id -> who needs it (for messages)
  for await (const o of backend.list(layout.snapshots)) {
    const id = layout.nameOf(o.key, isSnapshotId);
    if (!id) {
      report.warnings.push(`${o.key} is not a snapshot name: ignored`);
      continue;
    }
    report.snapshots++;
    try {
      const snap = openSnapshot(sealer, id, await readAll(await backend.get(o.key)));
      for (const t of snap.tree) {
        if (!index.has(t)) throw new AgentError(`snapshot ${id}: tree chunk ${shortId(t)} is missing`);
        if (!used.has(t)) used.set(t, `snapshot ${id} (its tree)`);
      }
      async function* treeBytes(): AsyncGenerator<Buffer> {
        for (const t of snap.tree) yield await reader.read(t);
      }
      for await (const e of treeEntries(treeBytes())) {
        if (!e.c) continue;
        let size = 0;
        for (const x of e.c) {
          if (typeof x === "number") {
            size += x;
            continue;
          }
          const loc = index.get(x);
          if (!loc) {
            error(`snapshot ${id}: ${JSON.stringify(e.p)}: chunk ${shortId(x)} is missing`);
            continue;
          }
          size += loc.size;
          if (!used.has(x)) used.set(x, `snapshot ${id}: ${JSON.stringify(e.p)}`);
          for (const b of loc.bases ?? []) {
            if (used.has(b)) continue;
            const base = index.get(b);
            if (base?.type !== BLOB_DATA) error(`snapshot ${id}: ${JSON.stringify(e.p)}: chunk ${shortId(x)} is a patch of chunk ${shortId(b)}, which is ${base ? "stored only as a patch" : "missing"}`);
            else used.set(b, `snapshot ${id}: ${JSON.stringify(e.p)} (a base of patch ${shortId(x)})`);
          }
        }
        if (size !== e.s) error(`snapshot ${id}: ${JSON.stringify(e.p)} has ${size} bytes of content for a size of ${e.s}`);
      }
    } catch (err) {
      error(`snapshot ${id}: ${oneLine(err)}`);
    }
  }
  report.chunks = used.size;

  if (opts.readData ?? true) {
    for (const [id, who] of used) {
      const loc = index.get(id);
      if (!loc) continue; // reported above
      try {
        const plain = await reader.readAt(id, loc);
        if (chunkId(store.keys.id, plain).toString("hex") !== id) throw new AgentError(`chunk ${shortId(id)} in pack ${loc.pack} holds data whose id is not ${shortId(id)}`);
        report.chunksRead++;
      } catch (err) {
        error(`${oneLine(err)} (needed by ${who})`);
      }
    }
  }
  await reader.release();
  if (dropped > 0) report.errors.push(`... and ${dropped} more errors`);
  report.ok = report.errors.length === 0;
  return report;
}
