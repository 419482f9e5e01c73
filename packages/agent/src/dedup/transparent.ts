// DP_DEDUP: the usual commands (push, push-dir, pull, pull-dir, verify, rm) on the dedup
// repository, so tools do not change (README.md, "Dedup through the usual commands"). Each
// object a tool pushes becomes a snapshot; manifest.json records it with the snapshot's id and,
// as its checksum, the sha256 of the sealed snapshot object. That binds the whole tree: the
// snapshot names its tree blobs by id, the tree names every chunk by id, and an id is checked
// against the bytes whenever its blob is read. So the operator records and hands back that
// checksum (DP_EXPECT_CHECKSUMS) as it does any object's.
import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import type { Writable } from "node:stream";
import { type RepoBackend, isRepoError } from "@dataprotection/storage";
import { AgentError } from "../errors.ts";
import type { KeySource } from "../format/keys.ts";
import type { DedupConfig } from "./config.ts";
import { Layout } from "./format.ts";
import type { BackupOptions, SnapshotWritten } from "./backup.ts";
import { DedupRepo } from "./repo.ts";
import type { Snapshot } from "./snapshot.ts";

/** manifest.json's checksumAlgorithm of an object stored as a snapshot: sha256 of the sealed snapshot object. */
export const SNAPSHOT_CHECKSUM = "dedup-snapshot";

export interface DedupObjectSettings {
  prefix: string;
  key?: KeySource;
  /** DP_BACKUP_ID: snapshots record it; reads and forgets refuse another backup's. */
  backupId?: string;
  warn: (line: string) => void;
  /** Creating the repository: see DedupRepo.openOrInit (tests shorten it). */
  settleMs?: number;
  /** How long to wait for a conflicting lock (a prune), ms (default 0). */
  lockWaitMs?: number;
  /** Threads that compress and seal new chunks (DP_COMPRESSION_THREADS; default 0: the main thread). */
  threads?: number;
}

/** What a push stored: the manifest fields of a snapshot. */
export interface StoredSnapshot {
  snapshot: Snapshot;
  /** sha256 (hex) of the sealed snapshot object. */
  sha256: string;
  /** Bytes this snapshot added to the repository: packs, index files and the snapshot object. */
  storedSize: number;
  chunks: number;
  compression: string;
  encryption: string;
}

/** A snapshot read for an object, its checksum checked and its binding to DP_BACKUP_ID too. */
export interface OpenedSnapshot {
  repo: DedupRepo;
  snapshot: Snapshot;
  sha256: string;
}

/** What one object's snapshot must be: the checksum and where it came from (for the message). */
export interface SnapshotExpectation {
  sha256?: string;
  from: string;
}

/**
 * The snapshot target of object `name` in the backup at `backupPath`: the name under the backup
 * path's parent (`<namespace>[/<prefix>]/<name>`), not under the backup path. Every Backup has a
 * path of its own, but push-dir's parent snapshot (the newest of the same target, whose unchanged
 * files are not read again) should be the previous Backup's of the same object, i.e. of the same
 * policy. Two policies that share a namespace, path prefix and object name take each other's as
 * parent too: that costs re-reading files, never correctness (a file is taken from the parent
 * only when its size, mtime, ctime and inode all match).
 */
export function snapshotTarget(backupPath: string, name: string): string {
  const cut = backupPath.lastIndexOf("/");
  return cut < 0 ? name : `${backupPath.slice(0, cut)}/${name}`;
}

export class DedupObjects {
  private writing?: Promise<DedupRepo>;
  private reading?: Promise<DedupRepo | undefined>;

  constructor(
    private readonly backend: RepoBackend,
    private readonly settings: DedupObjectSettings,
  ) {}

  get where(): string {
    return `${this.backend.location}/${this.settings.prefix}`;
  }

  /** stdin of `push NAME` as a stream snapshot. */
  storeStream(name: string, source: AsyncIterable<Uint8Array>, target: string): Promise<StoredSnapshot> {
    return this.store((repo, opts) => repo.backupStream(name, source, { ...opts, target }));
  }

  /** `push-dir DIR` as a directory snapshot. */
  storeDir(dir: string, target: string): Promise<StoredSnapshot> {
    return this.store((repo, opts) => repo.backupDir(dir, { ...opts, target, warn: this.settings.warn }));
  }

  private async store(backup: (repo: DedupRepo, opts: BackupOptions) => Promise<Snapshot>): Promise<StoredSnapshot> {
    const repo = await this.writable();
    let w: SnapshotWritten | undefined;
    const snapshot = await backup(repo, { backupId: this.settings.backupId, written: (x) => (w = x) });
    if (!w) throw new Error(`internal: snapshot ${snapshot.id} was written without its sealed bytes`);
    return {
      snapshot,
      sha256: sha256(w.sealed),
      storedSize: snapshot.stats.storedBytes + w.sealed.length,
      chunks: w.chunks,
      ...describeConfig(repo.config),
    };
  }

  /**
   * The snapshot object `name` names, read once: its sha256 checked against `expect`, then
   * opened and its binding to DP_BACKUP_ID checked. What is restored is what was hashed.
   */
  async open(name: string, id: string, expect: SnapshotExpectation): Promise<OpenedSnapshot> {
    const repo = await this.named(name, id, this.readable());
    if (!repo) throw new AgentError(`object "${name}" is dedup snapshot ${id}, but there is no dedup repository at ${this.where} (no config): it is lost, restore another backup`);
    const sealed = await this.named(name, id, repo.sealedSnapshot(id));
    const sum = sha256(sealed);
    if (expect.sha256 && expect.sha256 !== sum) {
      throw new AgentError(`object "${name}" does not match ${expect.from}: sha256 ${sum}, expected ${expect.sha256} (dedup snapshot ${id})`);
    }
    const snapshot = await this.named(name, id, Promise.resolve().then(() => repo.openSealedSnapshot(id, sealed, { backupId: this.settings.backupId })));
    return { repo, snapshot, sha256: sum };
  }

  /** What the snapshot restores as one stream (an object's plaintext: a stream, or push-dir's archive stream), every chunk verified. */
  async *bytes(name: string, o: OpenedSnapshot): AsyncGenerator<Buffer> {
    try {
      yield* o.repo.readSnapshot(o.snapshot, { backupId: this.settings.backupId });
    } catch (err) {
      throw this.naming(name, o.snapshot.id, err);
    }
  }

  /** pull: the bytes to `sink`, which is ended (destroyed on failure). */
  async write(name: string, o: OpenedSnapshot, sink: Writable): Promise<void> {
    await pipeline(this.bytes(name, o), sink);
  }

  /** verify: read every chunk the snapshot needs (each authenticated under its id, every file's size checked) and discard it. */
  async verify(name: string, o: OpenedSnapshot): Promise<void> {
    for await (const _ of this.bytes(name, o));
  }

  /**
   * Forget snapshots (rm): `named` (id -> object name) from manifest.json, and, with DP_BACKUP_ID,
   * every snapshot bound to it (so a push that died between its snapshot and the manifest leaves
   * nothing). A snapshot already gone is skipped; one that is not this backup's, or does not
   * open, is left with a warning (the deletion goes on). Returns one line per forgotten snapshot.
   */
  async forget(named: ReadonlyMap<string, string>, all: boolean): Promise<string[]> {
    const repo = await this.readable();
    if (!repo) {
      if (named.size > 0) this.settings.warn(`warning: there is no dedup repository at ${this.where}: snapshots ${[...named.keys()].join(", ")} cannot be forgotten`);
      return [];
    }
    const ids = new Map(named);
    const backupId = this.settings.backupId;
    if (all && backupId !== undefined) {
      const bound = await repo.listSnapshots({ backupId, unreadable: (id, err) => this.settings.warn(`warning: ${err.message}: it cannot show whose it is, so it is not forgotten`) });
      for (const s of bound) if (!ids.has(s.id)) ids.set(s.id, s.target);
    }
    const lines: string[] = [];
    for (const [id, label] of ids) {
      try {
        const s = await repo.forget(id, { backupId });
        lines.push(`forgot\tsnapshot:${id}\t${label}${s ? `\t${s.kind}\t${s.time}` : ""}`);
      } catch (err) {
        if (err instanceof AgentError && isRepoError(err.cause, "NotFound")) continue; // forgotten before (an rm run again)
        if (!(err instanceof AgentError)) throw err;
        this.settings.warn(`warning: ${label}: ${err.message}`);
      }
    }
    return lines;
  }

  /** The repository, created when absent (a push). */
  private writable(): Promise<DedupRepo> {
    this.writing ??= DedupRepo.openOrInit(this.backend, { prefix: this.settings.prefix, key: this.settings.key, settleMs: this.settings.settleMs, locks: { wait: this.settings.lockWaitMs }, threads: this.settings.threads });
    return this.writing;
  }

  /** The repository, or undefined when there is none (reads and rm create nothing). */
  private readable(): Promise<DedupRepo | undefined> {
    this.reading ??= (async () => {
      const { backend, settings } = this;
      if (!(await backend.stat(new Layout(settings.prefix).config))) return undefined;
      return DedupRepo.open(backend, { prefix: settings.prefix, key: settings.key, locks: { wait: settings.lockWaitMs } });
    })();
    return this.reading;
  }

  private async named<T>(name: string, id: string, p: Promise<T>): Promise<T> {
    try {
      return await p;
    } catch (err) {
      throw this.naming(name, id, err);
    }
  }

  // An AgentError from the repo (a missing snapshot, pack or chunk, a wrong backup) names the object and its snapshot too.
  private naming(name: string, id: string, err: unknown): unknown {
    if (!(err instanceof AgentError) || err.message.startsWith(`object "${name}"`)) return err;
    return new AgentError(`object "${name}" (dedup snapshot ${id} in ${this.where}): ${err.message}`, { cause: err });
  }
}

function sha256(b: Buffer): string {
  return createHash("sha256").update(b).digest("hex");
}

/** The manifest's compression and encryption, in the words objects use. */
function describeConfig(c: DedupConfig): { compression: string; encryption: string } {
  return {
    compression: c.zstdLevel > 0 ? `zstd:${c.zstdLevel}` : "none",
    encryption: c.encryption === "none" ? "none" : `${c.encryption}:${c.kdf === "raw" ? "raw-key" : "scrypt"}`,
  };
}
