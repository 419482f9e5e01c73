// The directory walk of backupDir: pre-order, names sorted (tree.ts comparePaths order), with
// the same defence as push-dir's (archive/pack.ts): every directory is opened
// O_DIRECTORY|O_NOFOLLOW and kept open while its entries are handled, each entry is reached
// through that handle (/proc/self/fd/N/name, Linux), and files are opened O_NOFOLLOW, so a
// symlink swapped in mid-walk is stored as a symlink, never followed out of the tree.
// Unlike push-dir's it yields lstat metadata first and opens a file only when asked: a backup
// with a parent snapshot skips unchanged files without opening them. As push-dir's, directories
// stay open while any file item in them is pending, so a consumer may read files ahead.
import { type BigIntStats, constants } from "node:fs";
import { type FileHandle, lstat, open, opendir, readlink } from "node:fs/promises";
import { AgentError, errnoOf } from "../errors.ts";

export type Opened =
  | { kind: "file"; fh: FileHandle; st: BigIntStats }
  | { kind: "symlink"; st: BigIntStats; link: string }
  | { kind: "other"; st: BigIntStats }
  | { kind: "gone" };

export interface WalkItem {
  rel: string;
  kind: "dir" | "file" | "symlink" | "other";
  /** lstat (bigint: ns times, exact inode numbers). */
  st: BigIntStats;
  link?: string;
  /**
   * Files: open it (O_NOFOLLOW, through its directory's handle), and get what is there now,
   * which may have become a symlink or something else since the lstat. A file item keeps its
   * directory open until exactly one of open() or skip() has been called, so the walk may run
   * ahead of the files it yields.
   */
  open?: () => Promise<Opened>;
  skip?: () => Promise<void>;
}

const DIR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

/** An open directory, closed once the walk and every file item in it are done with it. */
class PinnedDir {
  private refs = 1;

  constructor(readonly fh: FileHandle) {}

  /** The path of `name` inside this very directory, whatever its path has become. */
  entry(name: string): string {
    return `/proc/self/fd/${this.fh.fd}/${name}`;
  }

  hold(): void {
    this.refs++;
  }

  async release(): Promise<void> {
    if (--this.refs === 0) await this.fh.close();
  }
}

async function openDir(path: string, rel: string): Promise<PinnedDir | undefined> {
  try {
    return new PinnedDir(await open(path, DIR_FLAGS));
  } catch (err) {
    const code = errnoOf(err);
    if (code === "ELOOP" || code === "ENOTDIR" || code === "ENOENT") return undefined;
    throw new AgentError(`cannot read ${rel}: ${code ?? String(err)}`);
  }
}

export async function* walkDir(root: string): AsyncGenerator<WalkItem> {
  const st = await lstat(root).catch((err: unknown) => {
    throw new AgentError(`cannot read directory ${root}: ${errnoOf(err) ?? String(err)}`);
  });
  if (!st.isDirectory()) throw new AgentError(`${root} is not a directory`);
  const dir = await openDir(root, root);
  if (!dir) throw new AgentError(`${root} is not a directory`);
  yield* walkIn(dir, ".");
}

async function* walkIn(dir: PinnedDir, rel: string): AsyncGenerator<WalkItem> {
  try {
    yield { rel, kind: "dir", st: await dir.fh.stat({ bigint: true }) };
    const names: string[] = [];
    try {
      for await (const d of await opendir(dir.entry("."), { bufferSize: 256 })) names.push(d.name);
    } catch (err) {
      throw new AgentError(`cannot list ${rel}: ${errnoOf(err) ?? String(err)}`);
    }
    names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
    for (const name of names) {
      const r = rel === "." ? name : `${rel}/${name}`;
      const path = dir.entry(name);
      let st: BigIntStats;
      try {
        st = await lstat(path, { bigint: true });
        if (st.isDirectory()) {
          const sub = await openDir(path, r);
          if (sub) {
            yield* walkIn(sub, r);
            continue;
          }
          // Replaced since the lstat: take it as what it is now.
          st = await lstat(path, { bigint: true });
        }
      } catch (err) {
        if (errnoOf(err) === "ENOENT") continue; // deleted while we walk
        throw err instanceof AgentError ? err : new AgentError(`cannot read ${r}: ${errnoOf(err) ?? String(err)}`);
      }
      if (st.isSymbolicLink()) yield { rel: r, kind: "symlink", st, link: await readlink(path) };
      else if (st.isFile()) {
        dir.hold();
        let held = true;
        const done = (): Promise<void> => {
          if (!held) return Promise.resolve();
          held = false;
          return dir.release();
        };
        yield { rel: r, kind: "file", st, open: () => openFile(path, r).finally(done), skip: done };
      } else yield { rel: r, kind: st.isDirectory() ? "dir" : "other", st };
    }
  } finally {
    await dir.release();
  }
}
async function openFile(path: string, rel: string): Promise<Opened> {
  try {
    let fh: FileHandle;
    try {
      fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (err) {
      // Swapped for a symlink after the lstat: store the link, never what it points to.
      if (errnoOf(err) === "ELOOP") return { kind: "symlink", st: await lstat(path, { bigint: true }), link: await readlink(path) };
      if (errnoOf(err) === "ENOENT") return { kind: "gone" }; // deleted since the lstat
      throw err;
    }
    const st = await fh.stat({ bigint: true });
    if (st.isFile()) return { kind: "file", fh, st };
    await fh.close();
    return { kind: "other", st };
  } catch (err) {
    throw new AgentError(`cannot read ${rel}: ${errnoOf(err) ?? String(err)}`);
  }
}

/**
 * A file's bytes in pieces of two reused buffers, taking turns: the next piece is read while the
 * consumer has the one before (each valid until the next is asked for). Closes the file.
 */
export async function* fileBytes(fh: FileHandle, bufs: readonly [Buffer, Buffer]): AsyncGenerator<Buffer> {
  const read = (b: Buffer): Promise<number> => {
    const p = fh.read(b, 0, b.length, null).then((r) => r.bytesRead);
    p.catch(() => undefined); // awaited below, maybe after it failed
    return p;
  };
  let turn = 0;
  let reading: Promise<number> | undefined = read(bufs[0]);
  try {
    for (;;) {
      const n = await reading;
      reading = undefined;
      if (n === 0) return;
      const piece = bufs[turn]!.subarray(0, n);
      turn ^= 1;
      reading = read(bufs[turn]!);
      yield piece;
    }
  } finally {
    await reading?.catch(() => undefined); // not closed under a read
    await fh.close();
  }
}
