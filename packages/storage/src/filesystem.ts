import { randomBytes } from "node:crypto";
import { type FileHandle, chmod, lstat, mkdir, open, opendir, readdir, rename, rm, rmdir, stat, unlink } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import type { Readable } from "node:stream";
import { RepoError } from "./errors.ts";
import { checkKey, checkPrefix } from "./keys.ts";
import type { FilesystemRepoConfig, ObjectFile, ObjectInfo, PutBody, RepoBackend } from "./types.ts";

// Temp files carry this marker so list() hides them and a crashed put can be cleaned up.
const TEMP_MARK = ".dp-tmp-";
// Start a background datasync after this many bytes (one at a time).
const SYNC_EVERY = 64 << 20;

/** A repo on a mounted filesystem (a PVC): keys are paths under `root`. */
export class FilesystemBackend implements RepoBackend {
  readonly kind = "filesystem" as const;
  readonly location: string;
  private readonly root: string;

  constructor(config: Omit<FilesystemRepoConfig, "kind">) {
    if (!config.root) throw new RepoError("InvalidConfig", "filesystem repo needs a root directory");
    this.root = config.root;
    this.location = config.root;
  }

  private path(key: string): string {
    return join(this.root, ...checkKey(key).split("/"));
  }

  async put(key: string, body: PutBody): Promise<number> {
    const target = this.path(key);
    const temp = join(dirname(target), `${TEMP_MARK}${randomBytes(6).toString("hex")}`);
    let fh: FileHandle | undefined;
    let flushing: Promise<void> | undefined;
    try {
      await this.makeDirs(dirname(target));
      fh = await open(temp, "wx");
      const out = fh;
      let size = 0;
      let unsynced = 0;
      for await (const chunk of Buffer.isBuffer(body) ? [body] : (body as AsyncIterable<Buffer>)) {
        for (let off = 0; off < chunk.length; ) off += (await out.write(chunk, off, chunk.length - off, size + off)).bytesWritten;
        size += chunk.length;
        unsynced += chunk.length;
        // Write back as we go, so the fsync before the rename has little left to do.
        if (unsynced >= SYNC_EVERY && !flushing) {
          unsynced = 0;
          flushing = out.datasync().finally(() => (flushing = undefined));
        }
      }
      await flushing;
      // fsync before rename so a crash never leaves a renamed but empty object.
      await out.datasync();
      await out.close();
      fh = undefined;
      await rename(temp, target);
      return size;
    } catch (err) {
      await flushing?.catch(() => undefined);
      await fh?.close().catch(() => undefined);
      await rm(temp, { force: true }).catch(() => undefined);
      throw this.mapError(err, key, "write");
    }
  }

  /**
   * Directories a put creates are writable by every user (0777, whatever the umask): the tools of
   * one namespace share its repo volume under different uids (a root volume tool, PostgreSQL's
   * 999), and each must be able to add its backup beside the others' and write the shared
   * deduplicated storage. Files stay 0644 and are only ever replaced by rename; with encryption
   * every object is authenticated, so a writer cannot change one unnoticed (docs/security.md).
   */
  private async makeDirs(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined) return;
    for (let d = dir; ; d = dirname(d)) {
      await chmod(d, 0o777);
      if (d === first || d === dirname(d)) break;
    }
  }

  async get(key: string): Promise<Readable> {
    const path = this.path(key);
    // Open first so a missing object rejects here, not later on the stream.
    const fh = await open(path, "r").catch((err: unknown) => {
      throw this.mapError(err, key, "read");
    });
    return fh.createReadStream({ highWaterMark: 1 << 20 });
  }

  async openRead(key: string): Promise<ObjectFile> {
    const fh = await open(this.path(key), "r").catch((err: unknown) => {
      throw this.mapError(err, key, "read");
    });
    try {
      const { size } = await fh.stat();
      const read = async (buf: Uint8Array, offset: number, length: number, position: number): Promise<number> => {
        try {
          return (await fh.read(buf, offset, length, position)).bytesRead;
        } catch (err) {
          throw this.mapError(err, key, "read");
        }
      };
      return { size, read, close: () => fh.close() };
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw this.mapError(err, key, "read");
    }
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const s = await lstat(this.path(key));
      return s.isFile() ? { key, size: s.size, modified: s.mtime } : undefined;
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "ENOTDIR") return undefined;
      throw this.mapError(err, key, "stat");
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    // Walk only the deepest directory the prefix names, then filter by the rest.
    const slash = prefix.lastIndexOf("/");
    const base = slash < 0 ? "" : prefix.slice(0, slash);
    const start = base ? join(this.root, ...base.split("/")) : this.root;
    yield* this.walk(start, prefix);
  }

  private async *walk(dir: string, prefix: string): AsyncIterable<ObjectInfo> {
    let handle;
    try {
      handle = await opendir(dir);
    } catch (err) {
      if (errno(err) === "ENOENT" || errno(err) === "ENOTDIR") return;
      throw this.mapError(err, relative(this.root, dir), "list");
    }
    const subdirs: string[] = [];
    for await (const ent of handle) {
      const full = join(dir, ent.name);
      const key = relative(this.root, full).split(sep).join("/");
      if (ent.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(key + "/")) subdirs.push(full);
      } else if (ent.isFile() && !ent.name.startsWith(TEMP_MARK) && key.startsWith(prefix)) {
        const s = await stat(full).catch(() => undefined);
        if (s) yield { key, size: s.size, modified: s.mtime };
      }
    }
    subdirs.sort();
    for (const d of subdirs) yield* this.walk(d, prefix);
  }

  async delete(key: string): Promise<void> {
    try {
      await unlink(this.path(key));
    } catch (err) {
      if (errno(err) === "ENOENT") return;
      throw this.mapError(err, key, "delete");
    }
    await this.pruneEmptyDirs(dirname(this.path(key)));
  }

  async deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    const dirs = new Set<string>();
    for await (const obj of this.list(prefix)) {
      await unlink(this.path(obj.key)).catch((err: unknown) => {
        if (errno(err) !== "ENOENT") throw this.mapError(err, obj.key, "delete");
      });
      dirs.add(dirname(this.path(obj.key)));
      n++;
    }
    for (const d of [...dirs].sort().reverse()) await this.pruneEmptyDirs(d);
    return n;
  }

  async probe(): Promise<void> {
    try {
      const s = await stat(this.root);
      if (!s.isDirectory()) throw new RepoError("InvalidConfig", `repo root ${this.root} is not a directory`);
    } catch (err) {
      if (err instanceof RepoError) throw err;
      throw new RepoError("Unreachable", `repo root ${this.root} is not accessible (${errno(err) ?? String(err)}): is the volume mounted?`, { cause: err });
    }
    const key = `.dp-probe-${randomBytes(6).toString("hex")}`;
    await this.put(key, Buffer.from("probe"));
    await this.delete(key);
  }

  // Remove directories emptied by a delete, up to (not including) the root.
  private async pruneEmptyDirs(dir: string): Promise<void> {
    while (dir.startsWith(this.root + sep) && dir !== this.root) {
      const left = await readdir(dir).catch(() => ["?"]);
      if (left.length > 0) return;
      await rmdir(dir).catch(() => undefined);
      dir = dirname(dir);
    }
  }

  private mapError(err: unknown, key: string, op: string): Error {
    if (err instanceof RepoError) return err;
    const code = errno(err);
    const where = `${this.location}/${key}`;
    switch (code) {
      case "ENOENT":
        return new RepoError("NotFound", `object ${where} not found`, { cause: err });
      case "ENOSPC":
      case "EDQUOT":
        return new RepoError("NoSpace", `repo ${this.location} is full (${code}) while writing ${key}: free space or grow the volume`, { cause: err });
      case "EACCES":
      case "EPERM":
      case "EROFS":
        return new RepoError("AccessDenied", `cannot ${op} ${where} (${code}): check the volume's permissions`, { cause: err });
      default:
        return new RepoError("Failed", `cannot ${op} ${where}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  }
}

function errno(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}
