// `dp-agent dedup ...`: the dedup repository's commands. cli.ts parses them, Agent.dedup()
// (commands.ts) builds them on the agent's repo, key and backup id. The repo lives under
// DP_DEDUP_PREFIX, else beside the backup's directory: <parent of DP_BACKUP_PATH>/.dedup (for
// <namespace>/<backup>, <namespace>/.dedup, shared by the namespace's backups; no Backup's name
// starts with a dot). Each command prints a one-line summary; failures are AgentErrors.
import { finished } from "node:stream/promises";
import type { RepoBackend } from "@dataprotection/storage";
import type { Io } from "../commands.ts";
import { AgentError } from "../errors.ts";
import type { KeySource } from "../format/keys.ts";
import { Layout } from "./format.ts";
import { DedupRepo } from "./repo.ts";
import type { Snapshot } from "./snapshot.ts";

export const DEDUP_PREFIX_ENV = "DP_DEDUP_PREFIX";
const DEFAULT_NAME = ".dedup";

type Env = Record<string, string | undefined>;

/** The env configFromEnv needs: with only DP_DEDUP_PREFIX set, that stands in for the backup path (the dedup commands use none). */
export function dedupEnv(env: Env): Env {
  if (env.DP_BACKUP_PATH || env.BACKUP_DIR) return env;
  const prefix = env[DEDUP_PREFIX_ENV];
  if (!prefix) throw new AgentError(`the dedup commands need ${DEDUP_PREFIX_ENV} (the repository's prefix in the repo) or DP_BACKUP_PATH (the repository is then <its parent>/${DEFAULT_NAME})`);
  return { ...env, DP_BACKUP_PATH: prefix };
}

/** The dedup repository's prefix: DP_DEDUP_PREFIX, else <parent of the backup path>/.dedup. */
export function dedupPrefix(env: Env, backupPath: string): string {
  const given = env[DEDUP_PREFIX_ENV];
  const p = given ? given.replace(/^\/+|\/+$/g, "") : backupPath.includes("/") ? `${backupPath.slice(0, backupPath.lastIndexOf("/"))}/${DEFAULT_NAME}` : DEFAULT_NAME;
  if (!p || p.split("/").some((s) => s === "" || s === "." || s === "..")) throw new AgentError(`${DEDUP_PREFIX_ENV}=${given} is not a valid relative path`);
  return p;
}

export interface DedupSettings {
  prefix: string;
  key?: KeySource;
  /** DP_BACKUP_ID: recorded by backups; restores, forget and snapshots refuse or skip other backups' snapshots. */
  backupId?: string;
  /** How long to wait for a conflicting lock, ms (default 0: fail at once). */
  lockWaitMs?: number;
  /** Threads that compress and seal a backup's new chunks (DP_COMPRESSION_THREADS; default 0: the main thread). */
  threads?: number;
}

export class DedupCommands {
  constructor(
    private readonly backend: RepoBackend,
    private readonly settings: DedupSettings,
    private readonly io: Io,
  ) {}

  private get where(): string {
    return `${this.backend.location}/${this.settings.prefix}`;
  }

  private open(): Promise<DedupRepo> {
    return DedupRepo.open(this.backend, { key: this.settings.key, prefix: this.settings.prefix, locks: { wait: this.settings.lockWaitMs }, threads: this.settings.threads });
  }

  async init(): Promise<void> {
    const repo = await DedupRepo.init(this.backend, { key: this.settings.key, prefix: this.settings.prefix });
    this.io.print(`initialized\t${this.where}\t${repo.config.encryption === "none" ? "not encrypted" : `encrypted (${repo.config.encryption}, ${repo.config.kdf} key)`}`);
  }

  /** A directory, or with `stdin` the standard input as a stream named `name`. */
  async backup(dir: string | undefined, o: { stdin?: boolean; name?: string } = {}): Promise<Snapshot> {
    if (o.stdin ? dir !== undefined : dir === undefined) throw new AgentError("dedup backup needs a directory, or --stdin (and --name), not both");
    if (o.stdin && !o.name) throw new AgentError("dedup backup --stdin needs --name <name>: what the stream is (e.g. dump.sql)");
    const repo = await this.open();
    const backupId = this.settings.backupId;
    const s = o.stdin
      ? await repo.backupStream(o.name!, this.io.stdin(), { backupId })
      : await repo.backupDir(dir!, { backupId, ...(o.name ? { target: o.name } : {}), warn: this.io.warn });
    const st = s.stats;
    this.io.print(`snapshot\t${s.id}\t${s.kind}\t${s.target}\t${st.files} files\t${st.bytes} bytes\t${st.newBytes} new\t${st.storedBytes} stored${st.patchedChunks ? `\t${st.patchedChunks} patched` : ""}`);
    return s;
  }

  /** Into `dir` (a directory snapshot), or with `stdout` a stream snapshot to the standard output. `snapshot` may be "latest". */
  async restore(snapshot: string, dir: string | undefined, o: { stdout?: boolean; name?: string } = {}): Promise<void> {
    if (o.stdout ? dir !== undefined : dir === undefined) throw new AgentError("dedup restore needs a target directory, or --stdout, not both");
    const repo = await this.open();
    const id = await this.resolve(repo, snapshot);
    const backupId = this.settings.backupId;
    if (o.stdout) {
      const sink = this.io.stdout();
      const { size } = await repo.restoreStream(id, sink, { backupId, ...(o.name !== undefined ? { name: o.name } : {}) });
      sink.end();
      await finished(sink);
      this.io.warn(`restored\t${id}\t${size} bytes`); // stdout carries the data
      return;
    }
    const r = await repo.restoreDir(id, dir!, { backupId });
    this.io.print(`restored\t${id}\t${r.entries} entries\t${r.bytes} bytes\tinto ${dir}`);
  }

  async snapshots(json = false): Promise<Snapshot[]> {
    const repo = await this.open();
    const all = await repo.listSnapshots({ backupId: this.settings.backupId });
    if (json) this.io.print(JSON.stringify(all, null, 2));
    else for (const s of all) this.io.print(`${s.id}\t${s.time}\t${s.kind}\t${s.target}\t${s.stats.bytes} bytes${s.backupId ? `\tbackup:${s.backupId}` : ""}`);
    return all;
  }

  async forget(snapshot: string): Promise<void> {
    const repo = await this.open();
    const s = await repo.forget(await this.resolve(repo, snapshot), { backupId: this.settings.backupId });
    this.io.print(`forgot\t${s ? `${s.id}\t${s.kind}\t${s.target}\t${s.time}` : `${snapshot}\t(it did not open)`}`);
  }

  async prune(o: { dryRun?: boolean; repackThreshold?: number; skipMissing?: boolean } = {}): Promise<void> {
    if (o.skipMissing && !(await this.backend.stat(new Layout(this.settings.prefix).config))) {
      this.io.print(`nothing to prune\t${this.where}\tno repository there`);
      return;
    }
    const repo = await this.open();
    const r = await repo.prune(o);
    this.io.print(
      `${r.dryRun ? "would prune" : "pruned"}\t${r.snapshots} snapshots\t${r.packsDeleted} packs deleted\t${r.packsRepacked} repacked\t${r.packsWritten} written\t${r.blobsKept} chunks kept\t${r.bytesFreed} bytes freed` +
        (r.staleLocksRemoved ? `\t${r.staleLocksRemoved} stale locks removed` : ""),
    );
  }

  /** Errors, leftovers and warnings one per line, then the summary; errors make it fail. */
  async check(o: { readData?: boolean } = {}): Promise<void> {
    const repo = await this.open();
    const r = await repo.check({ readData: o.readData ?? true });
    for (const e of r.errors) this.io.print(`error\t${e}`);
    for (const l of r.leftovers) this.io.print(`leftover\t${l}`);
    for (const w of r.warnings) this.io.print(`warning\t${w}`);
    if (!r.ok) throw new AgentError(`dedup check found ${r.errors.length} error${r.errors.length === 1 ? "" : "s"} in ${this.where}; the first: ${r.errors[0]}`);
    this.io.print(`ok\t${r.snapshots} snapshots\t${r.packs} packs\t${r.chunks} chunks\t${r.chunksRead} read\t${r.leftovers.length} leftovers`);
  }

  private async resolve(repo: DedupRepo, snapshot: string): Promise<string> {
    if (snapshot !== "latest") return snapshot;
    const all = await repo.listSnapshots({ backupId: this.settings.backupId });
    if (all.length === 0) throw new AgentError(`no snapshot in ${this.where}${this.settings.backupId ? ` of backup ${this.settings.backupId}` : ""}`);
    return all[all.length - 1]!.id;
  }
}
