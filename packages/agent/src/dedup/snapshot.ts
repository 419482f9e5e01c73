// Snapshots: one sealed JSON document per backup, under snapshots/<id> with its id as AAD. It
// names the tree (its tree blobs, in order) and so, through chunk ids that are MACs of the data,
// every byte the backup restores: a snapshot restores on its own, whatever else is in the repo.
// With DP_BACKUP_ID it records the backup it belongs to (as manifest.json does,
// manifest-auth.ts): in an encrypted repo only the key can write that, and a reader that knows
// its backup refuses another backup's snapshot. Without a key, as everywhere, only mistakes are
// caught.
import { randomBytes } from "node:crypto";
import { AgentError } from "../errors.ts";
import { BACKUP_ID_RE } from "../format/header.ts";
import { canonicalJson } from "../manifest-auth.ts";
import { isSnapshotId, snapshotAad } from "./format.ts";
import { isHexId } from "./ids.ts";
import type { Sealer } from "./seal.ts";

export interface SnapshotStats {
  /** Files (push-dir) or streams. */
  files: number;
  dirs: number;
  /** Plaintext bytes of the files or stream. */
  bytes: number;
  /** Files taken from the parent snapshot without reading them (unchanged size, mtime, ctime, inode). */
  unchanged: number;
  /** Chunks (data and tree) this backup stored, their plaintext bytes, and the bytes it added to the repo (packs and index files). */
  newChunks: number;
  newBytes: number;
  storedBytes: number;
  /** Of the new chunks, those stored as patches of the parent's (patch.ts), the chunk bytes they stand for, and the bytes the patches carry. */
  patchedChunks?: number;
  patchedBytes?: number;
  patchBytes?: number;
}

export interface Snapshot {
  v: 1;
  id: string;
  /** ISO time the backup started. */
  time: string;
  kind: "stream" | "dir";
  /** What was backed up: the stream's name, or the directory (or the caller's label for it); a later backup of the same target takes this as its parent. */
  target: string;
  backupId?: string;
  parent?: string;
  /** The tree's blobs (tree.ts), in order. */
  tree: string[];
  stats: SnapshotStats;
}

export function newSnapshotId(): string {
  return randomBytes(16).toString("hex");
}

export function sealSnapshot(sealer: Sealer, s: Snapshot): Buffer {
  return sealer.seal(snapshotAad(s.id), Buffer.from(canonicalJson(s), "utf8"));
}

export function openSnapshot(sealer: Sealer, id: string, sealed: Buffer): Snapshot {
  const payload = sealer.open(snapshotAad(id), sealed);
  if (!payload) throw new AgentError(`snapshot ${id} ${sealer.encrypted ? "does not authenticate with this repository's key (corrupt, or changed)" : "fails its checksum (corrupt)"}`);
  let s: Snapshot;
  try {
    s = JSON.parse(payload.toString("utf8")) as Snapshot;
  } catch {
    throw new AgentError(`snapshot ${id} is corrupt (not JSON)`);
  }
  const ok =
    s && s.v === 1 && s.id === id && isSnapshotId(s.id) && typeof s.time === "string" && (s.kind === "stream" || s.kind === "dir") &&
    typeof s.target === "string" && Array.isArray(s.tree) && s.tree.every(isHexId) && typeof s.stats === "object" && s.stats !== null &&
    (s.backupId === undefined || (typeof s.backupId === "string" && BACKUP_ID_RE.test(s.backupId))) &&
    (s.parent === undefined || (typeof s.parent === "string" && isSnapshotId(s.parent)));
  if (!ok) throw new AgentError(`snapshot ${id} is corrupt (not a snapshot document)`);
  return s;
}

/** With DP_BACKUP_ID: refuse a snapshot of another backup, or of none. */
export function checkSnapshotBinding(s: Snapshot, backupId: string | undefined): void {
  if (backupId === undefined) return;
  if (s.backupId === undefined) throw new AgentError(`snapshot ${s.id} records no backup id and cannot show it belongs to backup ${backupId} (DP_BACKUP_ID): refusing it`);
  if (s.backupId !== backupId) throw new AgentError(`snapshot ${s.id} belongs to another backup: it records backup ${s.backupId}, this is backup ${backupId} (DP_BACKUP_ID): refusing it`);
}
