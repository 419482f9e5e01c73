import { createReadStream, createWriteStream, fstatSync } from "node:fs";
import { open, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Readable, Writable } from "node:stream";
import { type RepoBackend, backendFromConfig, checkKey, isRepoError } from "@dataprotection/storage";
import { unpackDir } from "./archive/unpack.ts";
import { packDir } from "./archive/pack.ts";
import type { AgentConfig } from "./env.ts";
import { AgentError } from "./errors.ts";
import { MANIFEST_NAME, type Manifest, type ManifestFile, loadManifest, readManifest, recordFile, recordUserContext, removeFile } from "./manifest.ts";
import { type ManifestTrust, checkManifest } from "./manifest-auth.ts";
import { type ChunkConsumer, type ReadOptions, readObject } from "./object-reader.ts";
import { writeObject } from "./object-writer.ts";
import { terminationReport } from "./termination.ts";
import { importableManifest } from "./import.ts";
import { expiredLogObjects, selectLogObjects } from "./log-objects.ts";
import { DedupCommands } from "./dedup/commands.ts";
import { DedupObjects, type OpenedSnapshot, type StoredSnapshot, SNAPSHOT_CHECKSUM, snapshotTarget } from "./dedup/transparent.ts";
import { PoolLender } from "./chunks/lender.ts";
import { inOrder } from "./in-order.ts";

/** Where commands write: stdout for data, a line sink for listings and warnings. */
export interface Io {
  stdin: () => Readable;
  stdout: () => Writable;
  print: (line: string) => void;
  warn: (line: string) => void;
}

export const processIo: Io = {
  // A pipe or socket may be non-blocking (EAGAIN from a plain read or write), which only
  // libuv's streams handle; anything else goes through fs streams on the thread pool.
  stdin: () => (isStream(0) ? process.stdin : createReadStream("", { fd: 0, highWaterMark: 1 << 20, autoClose: false })),
  stdout: () => (isStream(1) ? process.stdout : createWriteStream("", { fd: 1, highWaterMark: 1 << 20, autoClose: false })),
  print: (line) => process.stdout.write(line + "\n"),
  warn: (line) => process.stderr.write(`dp-agent: ${line}\n`),
};

function isStream(fd: number): boolean {
  const st = fstatSync(fd);
  return st.isFIFO() || st.isSocket();
}

/** The result a command leaves for the termination message, when it changed the backup. */
export type CommandResult = { manifest?: Manifest };

export class Agent {
  readonly backend: RepoBackend;
  private objects?: DedupObjects;
  private pointers?: Promise<Manifest | undefined>;

  constructor(
    readonly config: AgentConfig,
    private readonly io: Io = processIo,
    backend?: RepoBackend,
  ) {
    this.backend = backend ?? backendFromConfig(config.repo);
  }

  /** The dedup repository's commands (dedup/commands.ts) under `prefix`, with this agent's repo, key and backup id. */
  dedup(prefix: string): DedupCommands {
    return new DedupCommands(this.backend, { prefix, key: this.config.key, backupId: this.config.backupId, lockWaitMs: this.config.dedupLockWaitMs, threads: this.config.dedupThreads }, this.io);
  }

  /** DP_DEDUP: objects are stored as snapshots in the dedup repository (dedup/transparent.ts); undefined without it. */
  private get snapshots(): DedupObjects | undefined {
    return this.config.dedup ? this.snapshotReader : undefined;
  }

  /** The dedup repository the manifest's snapshots are read from and forgotten in, DP_DEDUP or not. */
  private get snapshotReader(): DedupObjects {
    this.objects ??= new DedupObjects(this.backend, { prefix: this.config.dedup?.prefix ?? this.config.dedupPrefix, key: this.config.key, backupId: this.config.backupId, warn: this.io.warn, lockWaitMs: this.config.dedupLockWaitMs, threads: this.config.dedupThreads });
    return this.objects;
  }

  /** What manifest.json is checked against and sealed with (manifest-auth.ts). */
  private get trust(): ManifestTrust {
    return { key: this.config.key, backupId: this.config.backupId, warn: this.io.warn };
  }

  private key(name: string): string {
    if (name === MANIFEST_NAME) throw new AgentError(`"${MANIFEST_NAME}" is reserved for the backup's manifest: choose another name`);
    try {
      return `${this.config.backupPath}/${checkKey(name)}`;
    } catch {
      throw new AgentError(`invalid object name ${JSON.stringify(name)}: use a relative path without "." or ".." segments`);
    }
  }

  /** `stopTime`: when the data ended (a finished log file's mtime), recorded instead of the push's end. */
  async push(name: string, source: Readable = this.io.stdin(), stopTime?: Date): Promise<CommandResult> {
    const d = this.snapshots;
    if (d) return { manifest: await this.storeSnapshot(name, "stream", (target) => d.storeStream(name, source, target), stopTime) };
    return { manifest: await this.store(name, "stream", source, stopTime) };
  }

  async pushDir(dir: string, name: string): Promise<CommandResult> {
    const d = this.snapshots;
    if (d) return { manifest: await this.storeSnapshot(name, "directory", (target) => d.storeDir(dir, target)) };
    return { manifest: await this.store(name, "directory", packDir(dir, this.io.warn)) };
  }

  /** DP_DEDUP: the object as a snapshot, recorded in manifest.json (authenticated as for objects) with the snapshot's id and checksum. */
  private async storeSnapshot(name: string, kind: ManifestFile["kind"], backup: (target: string) => Promise<StoredSnapshot>, dataStopTime?: Date): Promise<Manifest> {
    this.key(name); // the names objects may have
    const startTime = new Date().toISOString();
    const s = await backup(snapshotTarget(this.config.backupPath, name));
    return recordFile(this.backend, this.config.backupPath, this.config.tool, {
      name,
      kind,
      size: s.snapshot.stats.bytes,
      storedSize: s.storedSize,
      sha256: s.sha256,
      checksumAlgorithm: SNAPSHOT_CHECKSUM,
      chunks: s.chunks,
      compression: s.compression,
      encryption: s.encryption,
      startTime,
      stopTime: (dataStopTime ?? new Date()).toISOString(),
      snapshot: s.snapshot.id,
    }, this.trust);
  }

  private async store(name: string, kind: ManifestFile["kind"], source: AsyncIterable<Buffer>, dataStopTime?: Date): Promise<Manifest> {
    const key = this.key(name);
    const startTime = new Date().toISOString();
    const w = await writeObject(this.backend, key, name, source, {
      compression: this.config.compression,
      key: this.config.key,
      chunkSize: this.config.chunkSize,
      checksum: this.config.checksum,
      backupId: this.config.backupId,
    });
    const c = this.config.compression;
    return recordFile(this.backend, this.config.backupPath, this.config.tool, {
      name,
      kind,
      size: w.size,
      storedSize: w.storedSize,
      sha256: w.sha256,
      checksumAlgorithm: this.config.checksum,
      chunkSize: this.config.chunkSize,
      chunks: w.chunks,
      compression: c.algorithm === "none" ? "none" : `${c.algorithm}:${c.level ?? (c.algorithm === "zstd" ? 3 : 6)}`,
      encryption: this.config.key ? `aes-256-gcm:${this.config.key.kind === "raw" ? "raw-key" : "scrypt"}` : "none",
      startTime,
      stopTime: (dataStopTime ?? new Date()).toISOString(),
    }, this.trust);
  }

  /**
   * dp-agent context set: merges `entries` into the manifest's userContext, written as push writes
   * the manifest (authenticated with the repo key, bound to DP_BACKUP_ID). Refused (AgentError)
   * before anything was pushed (no manifest) and beyond the limits of checkUserContext (keys of
   * 1-63 of [A-Za-z0-9._/-], values of at most 2048 characters, 8 keys, 3000 bytes of JSON).
   */
  async setUserContext(entries: Record<string, string>): Promise<CommandResult> {
    return { manifest: await recordUserContext(this.backend, this.config.backupPath, entries, this.trust) };
  }

  async pull(name: string, sink: Writable = this.io.stdout()): Promise<CommandResult> {
    await this.read(name, sink);
    return {};
  }

  async pullDir(dir: string, name: string): Promise<CommandResult> {
    // A verification failure reaches unpackDir as the error of its next read, so it explains the failure.
    await this.read(name, (chunks, hold) => unpackDir(chunks, dir, hold));
    return {};
  }

  private expectFrom(): string {
    return this.config.expect ? "the checksum the Backup recorded (DP_EXPECT_CHECKSUMS)" : MANIFEST_NAME;
  }

  /** The checksum an object must have: the operator's record when given, else manifest.json's. */
  private expected(name: string, manifest: Manifest | undefined): string | undefined {
    if (!this.config.expect) return manifest?.files.find((f) => f.name === name)?.sha256;
    const sum = this.config.expect.get(name);
    if (!sum) throw new AgentError(`object "${name}" is not one the Backup recorded (DP_EXPECT_CHECKSUMS names ${[...this.config.expect.keys()].map((n) => `"${n}"`).join(", ")}): refusing it`);
    return sum;
  }

  /** manifest.json, when it decides what is checked: not when the operator gave its record. */
  private async manifest(): Promise<Manifest | undefined> {
    return this.config.expect ? undefined : readManifest(this.backend, this.config.backupPath, this.trust);
  }

  private readOptions(name: string, manifest: Manifest | undefined): ReadOptions {
    return {
      key: this.config.key,
      expectSha256: this.expected(name, manifest),
      expectFrom: this.expectFrom(),
      backupId: this.config.backupId,
      recorded: !!this.config.expect,
      threads: this.config.compression.threads,
    };
  }

  /**
   * DP_DEDUP: the manifest entry of `name` when it names a snapshot. With the operator's record,
   * manifest.json is read here only for where the object is: the record decides what it must be
   * (the sealed snapshot's sha256, which a pointer to any other snapshot fails).
   */
  private async snapshotEntry(name: string, manifest: Manifest | undefined): Promise<ManifestFile | undefined> {
    // With the operator's record, a manifest.json that does not even parse is no reason to fail: it
    // names no snapshot, the object is read, and the record decides (an edited manifest must not matter).
    if (this.config.expect) manifest = await (this.pointers ??= loadManifest(this.backend, this.config.backupPath).catch((err: unknown) => {
      if (err instanceof AgentError) return undefined;
      throw err;
    }));
    const f = manifest?.files.find((x) => x.name === name);
    return f?.snapshot !== undefined ? f : undefined;
  }

  /** The object's snapshot, read and checked against the expected checksum and DP_BACKUP_ID (before a byte is restored). */
  private openSnapshot(name: string, f: ManifestFile, manifest: Manifest | undefined): Promise<OpenedSnapshot> {
    return this.snapshotReader.open(name, f.snapshot!, { sha256: this.expected(name, manifest), from: this.expectFrom() });
  }

  private async read(name: string, sink: Writable | ChunkConsumer, pools?: PoolLender): Promise<void> {
    const manifest = await this.manifest();
    const f = await this.snapshotEntry(name, manifest);
    if (f) return this.readSnapshot(name, f, manifest, sink);
    const opts = { ...this.readOptions(name, manifest), pools };
    try {
      await readObject(this.backend, this.key(name), name, sink, opts);
    } catch (err) {
      if (typeof sink !== "function") sink.destroy();
      if (isRepoError(err, "NotFound")) {
        throw new AgentError(`object "${name}" not found in backup ${this.config.backupPath} (repo ${this.backend.location})`);
      }
      throw err;
    }
  }

  private async readSnapshot(name: string, f: ManifestFile, manifest: Manifest | undefined, sink: Writable | ChunkConsumer): Promise<void> {
    let o: OpenedSnapshot;
    try {
      o = await this.openSnapshot(name, f, manifest);
    } catch (err) {
      if (typeof sink !== "function") sink.destroy();
      throw err;
    }
    // Every buffer is the consumer's own: it may hold it as long as it likes (pull-dir's unpacker
    // bounds the bytes it holds until they are written: QUEUE_BUDGET in archive/unpack.ts).
    if (typeof sink === "function") await sink(this.snapshotReader.bytes(name, o), () => () => undefined);
    else await this.snapshotReader.write(name, o, sink);
  }

  async verify(names: string[]): Promise<CommandResult> {
    const manifest = await this.manifest();
    // With a key, the manifest must still authenticate when the operator's record decides what is
    // checked: an edited or forged one is evidence of tampering. (Which backup it names is left to
    // the objects, each checked against the record and DP_BACKUP_ID.)
    if (this.config.expect && this.config.key) await readManifest(this.backend, this.config.backupPath, { ...this.trust, backupId: undefined });
    if (names.length === 0) {
      // The operator's record (DP_EXPECT_CHECKSUMS) names the objects; else the manifest does.
      if (this.config.expect) names = [...this.config.expect.keys()];
      else if (!manifest) throw new AgentError(`backup ${this.config.backupPath} has no ${MANIFEST_NAME} in repo ${this.backend.location}`);
      else names = manifest.files.map((f) => f.name);
    }
    await this.verifyObjects(names, manifest);
    return {};
  }

  /**
   * verify's reading: each of `names` read, authenticated, decompressed and checksummed (a dedup
   * snapshot the manifest names: every chunk it needs) against the expected checksum and this
   * agent's backup id, and discarded; one `ok` line each.
   */
  private async verifyObjects(names: readonly string[], manifest: Manifest | undefined): Promise<void> {
    const pools = new PoolLender();
    try {
      for (const name of names) {
        const f = await this.snapshotEntry(name, manifest);
        if (f) {
          const o = await this.openSnapshot(name, f, manifest);
          await this.snapshotReader.verify(name, o);
          this.io.print(`ok\t${name}\t${o.snapshot.stats.bytes}\t${f.storedSize}\tsha256:${o.sha256}${o.snapshot.backupId !== undefined ? `\tbackup:${o.snapshot.backupId}` : ""}`);
          continue;
        }
        const discard: ChunkConsumer = async (chunks) => {
          for await (const _ of chunks);
        };
        try {
          const r = await readObject(this.backend, this.key(name), name, discard, { ...this.readOptions(name, manifest), pools });
          // A bound object (v5) also shows the backup it belongs to.
          this.io.print(`ok\t${name}\t${r.size}\t${r.storedSize}\tsha256:${r.sha256}${r.header.backupId !== undefined ? `\tbackup:${r.header.backupId}` : ""}`);
        } catch (err) {
          if (isRepoError(err, "NotFound")) throw new AgentError(`object "${name}" not found in backup ${this.config.backupPath} (repo ${this.backend.location})`);
          throw err;
        }
      }
    } finally {
      await pools.close();
    }
  }

  /**
   * dp-agent import: the backup another namespace (or a previous cluster) wrote at this backup
   * path, for an imported Backup. Its manifest must be one import may take (import.ts:
   * authenticated with a key, bound to a backup id, recording this path), and every object it
   * lists is verified as `verify` does, as that backup's: an object of another backup swapped in
   * is refused. Returns the manifest for the termination report.
   */
  async importBackup(): Promise<CommandResult> {
    if (this.config.expect) {
      throw new AgentError("import checks a backup against its own manifest.json: DP_EXPECT_CHECKSUMS (the checksums a Backup recorded when it was made) does not apply to it; unset it");
    }
    const m = await importableManifest(this.backend, { backupPath: this.config.backupPath, key: this.config.key, backupId: this.config.backupId, warn: this.io.warn });
    for (const f of m.files) this.key(f.name); // names objects may have, for snapshots too
    // The agent of the backup the manifest names: object reads and snapshots are checked against its id.
    const { expect: _, ...config } = this.config;
    const bound = new Agent({ ...config, backupId: m.backupId }, this.io, this.backend);
    try {
      await bound.verifyObjects(m.files.map((f) => f.name), m);
    } catch (err) {
      if (!(err instanceof AgentError)) throw err;
      throw new AgentError(`cannot import backup ${this.config.backupPath} (backup ${m.backupId}, as its ${MANIFEST_NAME} records): ${err.message}`, { cause: err });
    }
    this.io.print(`imported\t${this.config.backupPath}\tbackup:${m.backupId}\t${m.files.length} objects\t${m.storedSize} bytes`);
    return { manifest: m };
  }

  /**
   * Writes into `dir` the archived log files a recovery to `until` needs (log-objects.ts): each
   * verified before a byte lands, written under a temp name and renamed, so the server never
   * reads a torn file. Prints one line per file and the time the selection covers.
   */
  async pullLog(dir: string, o: { prefix: string; from?: string; fromSkip?: number; until: Date; slackMs: number }): Promise<CommandResult> {
    const manifest = await this.manifest();
    if (!manifest) throw new AgentError(`backup ${this.config.backupPath} has no ${MANIFEST_NAME} in repo ${this.backend.location}: nothing was archived`);
    const files = manifest.files.map((f) => ({ name: f.name, stopTime: f.stopTime ?? "" }));
    const sel = selectLogObjects(files, o);
    if (sel.missingFrom) {
      throw new AgentError(`backup ${this.config.backupPath} no longer holds log file ${o.from}, where the base backup starts (oldest archived: ${sel.missingFrom.oldest ?? "none"}): pruned by retention or never archived; restore from a newer base backup`);
    }
    if (sel.fetch.length === 0) throw new AgentError(`backup ${this.config.backupPath} holds no log object under "${o.prefix}": nothing to recover from`);
    // Chunk threads kept across segments; each file written straight from the verified chunks (no
    // copy), under a temporary name until it is whole. LOG_FETCHES segments at a time: one is
    // bound by waits (reads, writes, renames), not by the threads (~1.4 s -> ~0.9 s for 1 GiB).
    const pools = new PoolLender();
    const fetchOne = async (f: { object: string; file: string }): Promise<void> => {
      const target = join(dir, f.file);
      const tmp = `${target}.dp-tmp`;
      const out = await open(tmp, "w");
      try {
        await this.read(f.object, async (chunks) => {
          for await (const c of chunks) for (let at = 0; at < c.length; ) at += (await out.write(c, at)).bytesWritten;
        }, pools);
      } catch (err) {
        await out.close();
        await rm(tmp, { force: true });
        throw err;
      }
      await out.close();
      await rename(tmp, target);
    };
    try {
      await inOrder(sel.fetch, LOG_FETCHES, fetchOne, (f) => this.io.print(`${f.object}\t${f.file}`));
    } finally {
      await pools.close();
    }
    if (sel.coveredUntil && sel.coveredUntil.getTime() < o.until.getTime()) {
      this.io.warn(`warning: the archived log was last pushed at ${sel.coveredUntil.toISOString()}, before ${o.until.toISOString()}: recovery stops at the end of the archived log`);
    }
    return {};
  }

  /** Deletes the archived log objects under `prefix` pushed before `before` (expiredLogObjects). */
  async pruneLog(prefix: string, before: Date): Promise<CommandResult> {
    const manifest = await this.manifest();
    const names = expiredLogObjects(manifest?.files.map((f) => ({ name: f.name, stopTime: f.stopTime ?? "" })) ?? [], prefix, before);
    if (names.length === 0) return {};
    for (const n of names) this.io.print(`pruned\t${n}`);
    return this.rm(names, false);
  }

  async ls(json: boolean): Promise<CommandResult> {
    // A listing is for looking: an unauthenticated manifest is shown, with a warning.
    const m = await loadManifest(this.backend, this.config.backupPath);
    if (m) await checkManifest(m, this.config.backupPath, this.trust, "read").catch((err: unknown) => this.io.warn(`warning: ${err instanceof Error ? err.message : String(err)}`));
    const listed = new Set(m?.files.map((f) => f.name));
    const stray: string[] = [];
    for await (const o of this.backend.list(`${this.config.backupPath}/`)) {
      const name = o.key.slice(this.config.backupPath.length + 1);
      if (name !== MANIFEST_NAME && !listed.has(name)) stray.push(name);
    }
    if (json) this.io.print(JSON.stringify({ manifest: m ?? null, unlisted: stray }, null, 2));
    else {
      for (const f of m?.files ?? []) this.io.print(`${f.name}\t${f.kind}\t${f.size}\t${f.storedSize}\tsha256:${f.sha256}${f.snapshot !== undefined ? `\tsnapshot:${f.snapshot}` : ""}`);
      for (const s of stray) this.io.print(`${s}\tunlisted`);
    }
    return {};
  }

  async rm(names: string[], all: boolean): Promise<CommandResult> {
    if (all) {
      // Snapshots first: a failure leaves the manifest that names them for the next attempt.
      // Without DP_DEDUP only those the manifest names (no dedup repository is searched).
      const manifest = await this.manifestForRm();
      if (this.snapshots || manifest?.files.some((f) => f.snapshot !== undefined)) await this.forgetSnapshots(manifest, undefined, !!this.snapshots);
      await this.backend.deletePrefix(`${this.config.backupPath}/`);
      return {};
    }
    if (names.length === 0) throw new AgentError("rm needs object names or --all");
    const current = await readManifest(this.backend, this.config.backupPath, this.trust, "update");
    if (this.snapshots || current?.files.some((f) => f.snapshot !== undefined && names.includes(f.name))) await this.forgetSnapshots(current, names, false);
    let manifest: Manifest | undefined;
    for (const name of names) {
      await this.backend.delete(this.key(name));
      manifest = await removeFile(this.backend, this.config.backupPath, name, this.trust);
    }
    return { manifest };
  }

  /**
   * rm --all: the manifest whose snapshots are forgotten. One that does not authenticate (or is
   * another backup's) names nothing to forget, with a warning: the deletion goes on, and with
   * DP_BACKUP_ID the backup's snapshots are still found by their binding.
   */
  private async manifestForRm(): Promise<Manifest | undefined> {
    try {
      return await readManifest(this.backend, this.config.backupPath, this.trust);
    } catch (err) {
      if (!(err instanceof AgentError)) throw err;
      this.io.warn(`warning: ${err.message}: the snapshots it names are not forgotten`);
      return undefined;
    }
  }

  /** DP_DEDUP: forget the snapshots of `names` (every one of the backup's when undefined: rm --all); one line each. */
  private async forgetSnapshots(manifest: Manifest | undefined, names: string[] | undefined, byBinding: boolean): Promise<void> {
    const named = new Map<string, string>();
    for (const f of manifest?.files ?? []) if (f.snapshot !== undefined && (!names || names.includes(f.name))) named.set(f.snapshot, f.name);
    for (const line of await this.snapshotReader.forget(named, byBinding && names === undefined)) this.io.print(line);
  }
}

/** Log files pull-log fetches at once. */
const LOG_FETCHES = 2;

export function reportText(result: CommandResult): string | undefined {
  return result.manifest ? JSON.stringify(terminationReport(result.manifest)) : undefined;
}
