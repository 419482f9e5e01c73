// What pull-dir knows of its target, so that nothing outside it is ever written: entry headers
// checked before use, directories made or lstat-checked before anything goes through them,
// metadata set without following links (see unpack.ts).
import { constants } from "node:fs";
import { lstat, mkdir, open, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { AgentError } from "../errors.ts";
import { type EntryMeta, safeRelPath } from "./format.ts";

export function parseMeta(b: Buffer): EntryMeta {
  let m: EntryMeta;
  try {
    m = JSON.parse(b.toString("utf8")) as EntryMeta;
  } catch {
    throw new AgentError("directory stream is corrupt (an entry header is not JSON)");
  }
  if (!m || typeof m !== "object" || typeof m.p !== "string" || !safeRelPath(m.p)) throw new AgentError(`directory stream has an unsafe path ${JSON.stringify(m?.p)}`);
  if (Buffer.byteLength(m.p) > 4096 || m.p.split("/").some((s) => Buffer.byteLength(s) > 255)) throw new AgentError(`directory stream has a path too long ${JSON.stringify(m.p.slice(0, 80))}...`);
  for (const k of ["m", "u", "g", "t"] as const) {
    if (typeof m[k] !== "number" || !Number.isFinite(m[k]) || m[k] < 0) throw new AgentError(`directory stream is corrupt (${k} of ${JSON.stringify(m.p)} is not a number)`);
  }
  if (m.l !== undefined && (typeof m.l !== "string" || m.l.includes("\0"))) throw new AgentError(`directory stream is corrupt (link target of ${JSON.stringify(m.p)})`);
  return m;
}

export async function setDirMeta(path: string, d: EntryMeta, asRoot: boolean): Promise<void> {
  const fh = await open(path, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  try {
    if (asRoot) await fh.chown(d.u, d.g);
    await fh.chmod(d.m);
    await fh.utimes(d.t / 1000, d.t / 1000);
  } finally {
    await fh.close();
  }
}

/**
 * What the unpack knows of the target: directories it made or checked to be real ones, and
 * symlinks it made. A path is written only when every directory above it is known real.
 */
export class TargetTree {
  private readonly dirs = new Set<string>(["."]);
  private readonly links = new Set<string>();

  constructor(private readonly root: string) {}

  async checkRoot(): Promise<void> {
    const st = await lstat(this.root);
    if (!st.isDirectory()) throw new AgentError(`restore target ${this.root} is not a directory (a symlink?): refusing to restore through it`);
  }

  isDir(p: string): boolean {
    return this.dirs.has(p);
  }

  async checkParents(p: string): Promise<void> {
    const parents: string[] = [];
    for (let d = dirname(p); d !== "." && p !== "."; d = dirname(d)) parents.unshift(d);
    for (const d of parents) {
      if (this.dirs.has(d)) continue;
      if (this.links.has(d)) throw new AgentError(`directory stream writes ${JSON.stringify(p)} through the symlink ${JSON.stringify(d)}`);
      const st = await lstat(join(this.root, d)).catch(() => undefined);
      if (!st?.isDirectory()) {
        throw new AgentError(`directory stream writes ${JSON.stringify(p)} through ${JSON.stringify(d)}, which is ${st ? (st.isSymbolicLink() ? "a symlink" : "not a directory") : "missing"} in the target`);
      }
      this.dirs.add(d);
    }
  }

  /** mkdir, or keep a real directory that is there; anything else in the way is removed first. */
  async makeDir(p: string): Promise<void> {
    const path = join(this.root, p);
    const st = await lstat(path).catch(() => undefined);
    if (!st?.isDirectory()) {
      if (st) await this.replace(p);
      await mkdir(path, { mode: 0o700 });
    }
    this.links.delete(p);
    this.dirs.add(p);
  }

  /** Removes whatever is at p (never following a link) and forgets what was known below it. */
  async replace(p: string): Promise<void> {
    await rm(join(this.root, p), { force: true, recursive: true });
    this.forget(p);
  }

  forget(p: string): void {
    this.links.delete(p);
    for (const d of [...this.dirs]) if (d === p || d.startsWith(`${p}/`)) this.dirs.delete(d);
    for (const l of [...this.links]) if (l.startsWith(`${p}/`)) this.links.delete(l);
  }

  linked(p: string): void {
    this.links.add(p);
  }
}
