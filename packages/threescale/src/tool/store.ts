// Where the upstream layout is written: plain files in a directory (an APIManagerBackup's
// PVC, readable by the upstream operator) or dp-agent objects in a repo (compressed, encrypted).
import { createHash } from "node:crypto";
import { cp, mkdir, readFile, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable, Writable } from "node:stream";
import { Agent, configFromEnv, type Manifest } from "@dataprotection/agent";

export interface BackupStore {
  readonly description: string;
  putFile(path: string, data: Buffer): Promise<void>;
  /** Copies a directory tree (modes, mtimes, symlinks) to `path`. */
  putDir(path: string, dir: string): Promise<void>;
  getFile(path: string): Promise<Buffer | undefined>;
  /** Restores the tree stored at `path` into `dest`; false when nothing is stored there. */
  getDir(path: string, dest: string): Promise<boolean>;
  /**
   * Merges entries into the backup's userContext (dp-agent's authenticated manifest): agent stores
   * only, after the objects were written. The PVC layout (PlainStore) is upstream's and has none.
   */
  setUserContext?(entries: Record<string, string>): Promise<void>;
  /** A summary for the termination message (agent stores: the dp-agent report). */
  report(): Record<string, unknown>;
}

/** What AgentStore.report may take of the 4096-byte termination message (the CLI adds its result). */
export const AGENT_REPORT_BUDGET = 3584;

const exists = (p: string) => stat(p).then(() => true, () => false);

export class PlainStore implements BackupStore {
  private files = 0;
  constructor(readonly root: string) {}
  get description(): string {
    return `directory ${this.root}`;
  }
  async putFile(path: string, data: Buffer): Promise<void> {
    const p = join(this.root, path);
    await mkdir(dirname(p), { recursive: true });
    await writeFile(p, data);
    this.files++;
  }
  async putDir(path: string, dir: string): Promise<void> {
    await mkdir(join(this.root, path), { recursive: true });
    await cp(dir, join(this.root, path), { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: true });
    this.files++;
  }
  async getFile(path: string): Promise<Buffer | undefined> {
    return readFile(join(this.root, path)).catch((e: NodeJS.ErrnoException) => {
      if (e.code === "ENOENT") return undefined;
      throw e;
    });
  }
  async getDir(path: string, dest: string): Promise<boolean> {
    const src = join(this.root, path);
    if (!(await exists(src))) return false;
    await cp(src, dest, { recursive: true, preserveTimestamps: true, verbatimSymlinks: true, force: true });
    return true;
  }
  report(): Record<string, unknown> {
    return { plainFiles: true, filePath: this.root, objects: this.files };
  }
}

function collect(): { sink: Writable; data: () => Buffer } {
  const chunks: Buffer[] = [];
  const sink = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c); cb(); } });
  return { sink, data: () => Buffer.concat(chunks) };
}

/** Directory trees become one dp-agent directory object named after the layout directory. */
export class AgentStore implements BackupStore {
  private manifest?: Manifest;
  constructor(private readonly agent: Agent) {}
  static fromEnv(env: NodeJS.ProcessEnv): AgentStore {
    return new AgentStore(new Agent(configFromEnv(env)));
  }
  get description(): string {
    return `backup ${this.agent.config.backupPath} in repo ${this.agent.backend.location}`;
  }
  async putFile(path: string, data: Buffer): Promise<void> {
    this.manifest = (await this.agent.push(path, Readable.from([data]))).manifest ?? this.manifest;
  }
  async putDir(path: string, dir: string): Promise<void> {
    this.manifest = (await this.agent.pushDir(dir, path)).manifest ?? this.manifest;
  }
  async setUserContext(entries: Record<string, string>): Promise<void> {
    this.manifest = (await this.agent.setUserContext(entries)).manifest ?? this.manifest;
  }
  private async has(path: string): Promise<boolean> {
    return (await this.agent.backend.stat(`${this.agent.config.backupPath}/${path}`)) !== undefined;
  }
  async getFile(path: string): Promise<Buffer | undefined> {
    if (!(await this.has(path))) return undefined;
    const c = collect();
    await this.agent.pull(path, c.sink);
    return c.data();
  }
  async getDir(path: string, dest: string): Promise<boolean> {
    if (!(await this.has(path))) return false;
    await mkdir(dest, { recursive: true });
    await this.agent.pullDir(dest, path);
    return true;
  }
  /**
   * The manifest's totals, checksum, file names (at most 40), path, and its backupId and userContext
   * when it records them; within AGENT_REPORT_BUDGET bytes: file names are cut first
   * (`filesTruncated`), the user context is what a restore elsewhere needs.
   */
  report(): Record<string, unknown> {
    const m = this.manifest;
    if (!m) return {};
    const lines = m.files.map((f) => `${f.sha256}  ${f.name}\n`).sort().join("");
    const r: Record<string, unknown> & { files: string[] } = {
      totalSize: m.storedSize,
      dataSize: m.totalSize,
      checksum: `sha256:${createHash("sha256").update(lines).digest("hex")}`,
      files: m.files.map((f) => f.name).slice(0, 40),
      filePath: m.backupPath,
      ...(typeof m.backupId === "string" && m.backupId ? { backupId: m.backupId } : {}),
      ...(m.userContext && typeof m.userContext === "object" && Object.keys(m.userContext).length > 0 ? { userContext: m.userContext } : {}),
    };
    const fits = (): boolean => Buffer.byteLength(JSON.stringify(r)) <= AGENT_REPORT_BUDGET;
    while (!fits() && r.files.length > 0) {
      r.files = r.files.slice(0, Math.floor(r.files.length / 2));
      r.filesTruncated = true;
    }
    // Beyond dp-agent's limits only: dropped rather than the CLI cutting the JSON.
    if (!fits()) delete r.userContext;
    return r;
  }
}

/** THREESCALE_STORE=plain writes files under THREESCALE_DIR (default BACKUP_DIR); otherwise dp-agent. */
export function storeFromEnv(env: NodeJS.ProcessEnv): BackupStore {
  if (env.THREESCALE_STORE === "plain") return new PlainStore(env.THREESCALE_DIR || env.BACKUP_DIR || "/backupdata");
  return AgentStore.fromEnv(env);
}
