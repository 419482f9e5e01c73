// Hostile directory streams against unpackDir: whatever the archive and the target hold,
// nothing outside the target changes (a canary tree beside it keeps its exact digest), and
// every stream either restores inside the target or fails with an AgentError that says why.
import { expect } from "chai";
import fc from "fast-check";
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { link, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AgentError } from "../errors.ts";
import { ARCHIVE_MAGIC, S_DATA, S_END, T_DIR, T_FILE, T_SYMLINK, encodeEntry, segmentHead } from "./format.ts";
import { unpackDir } from "./unpack.ts";

type Entry =
  | { type: "dir"; p: string; m?: number }
  | { type: "file"; p: string; data?: string; m?: number }
  | { type: "link"; p: string; to: string }
  | { type: "raw"; bytes: Buffer };

const T0 = 1_600_000_000_000;
function stream(entries: Entry[]): Buffer {
  const parts: Buffer[] = [ARCHIVE_MAGIC, encodeEntry(T_DIR, { p: ".", m: 0o755, u: 0, g: 0, t: T0 })];
  for (const e of entries) {
    const base = { m: 0o777, u: 4242, g: 4242, t: T0 };
    if (e.type === "dir") parts.push(encodeEntry(T_DIR, { ...base, p: e.p, m: e.m ?? 0o777 }));
    else if (e.type === "link") parts.push(encodeEntry(T_SYMLINK, { ...base, p: e.p, l: e.to }));
    else if (e.type === "raw") parts.push(e.bytes);
    else {
      const data = Buffer.from(e.data ?? `content of ${e.p}`);
      parts.push(encodeEntry(T_FILE, { ...base, p: e.p, m: e.m ?? 0o6777, s: data.length }), segmentHead(S_DATA, data.length), data, segmentHead(S_END, 0));
    }
  }
  parts.push(Buffer.from([0]));
  return Buffer.concat(parts);
}

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  yield b;
}

/** Content, mode, owner, times and link targets of every entry under dir. */
async function digest(dir: string): Promise<string> {
  const h = createHash("sha256");
  const walk = async (rel: string): Promise<void> => {
    const path = rel ? join(dir, rel) : dir;
    const st = await lstat(path);
    h.update(`${rel}|${st.mode}|${st.uid}|${st.gid}|${st.mtimeMs}|${st.size}\n`);
    if (st.isSymbolicLink()) h.update(`-> ${await readlink(path)}\n`);
    else if (st.isFile()) h.update(await readFile(path));
    else if (st.isDirectory()) for (const n of (await readdir(path)).sort()) await walk(rel ? `${rel}/${n}` : n);
  };
  await walk("");
  return h.digest("hex");
}

interface Bed {
  root: string;
  target: string;
  canary: string;
  before: string;
}

/** A target directory and, beside it, a canary tree (a dir, a file, a nested dir) the unpack must never change. */
async function bed(): Promise<Bed> {
  const root = await mkdtemp(join(tmpdir(), "dp-unpack-"));
  const target = join(root, "target");
  const canary = join(root, "canary");
  await mkdir(join(canary, "inner"), { recursive: true, mode: 0o755 });
  await writeFile(join(canary, "secret"), "canary secret\n", { mode: 0o600 });
  await writeFile(join(canary, "inner", "deep"), "deep canary\n", { mode: 0o640 });
  await mkdir(target);
  return { root, target, canary, before: await digest(canary) };
}

async function unpackOutcome(b: Bed, entries: Entry[]): Promise<"ok" | string> {
  try {
    await unpackDir(once(stream(entries)), b.target);
    return "ok";
  } catch (err) {
    expect(err, String(err)).to.be.instanceOf(AgentError);
    return (err as Error).message;
  }
}

describe("unpackDir against hostile streams and targets", function () {
  this.timeout(120_000);
  const beds: string[] = [];
  after(async () => {
    for (const r of beds) await rm(r, { recursive: true, force: true });
  });
  const setUp = async () => {
    const b = await bed();
    beds.push(b.root);
    return b;
  };

  it("refuses '..' and absolute names before writing them", async () => {
    for (const p of ["../canary/secret", "/etc/passwd", "a/../../x", "a//b", "./x", "x\u0000y"]) {
      const b = await setUp();
      expect(await unpackOutcome(b, [{ type: "file", p }])).to.contain("unsafe path");
      expect(await digest(b.canary)).to.equal(b.before);
    }
  });

  it("symlink then directory of the same name: the link is replaced by a real directory, nothing reaches its old target", async () => {
    const b = await setUp();
    expect(await unpackOutcome(b, [{ type: "link", p: "a", to: b.canary }, { type: "dir", p: "a" }, { type: "file", p: "a/x" }])).to.equal("ok");
    expect((await lstat(join(b.target, "a"))).isDirectory()).to.equal(true);
    expect(await readFile(join(b.target, "a", "x"), "utf8")).to.equal("content of a/x");
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("refuses a file written through a symlink the stream made", async () => {
    const b = await setUp();
    expect(await unpackOutcome(b, [{ type: "link", p: "a", to: b.canary }, { type: "file", p: "a/secret", data: "pwned" }])).to.match(/through the symlink "a"/);
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("symlink then file of the same name: the file replaces the link, the link's target is untouched", async () => {
    const b = await setUp();
    expect(await unpackOutcome(b, [{ type: "link", p: "f", to: join(b.canary, "secret") }, { type: "file", p: "f", data: "mine" }])).to.equal("ok");
    expect(await readFile(join(b.target, "f"), "utf8")).to.equal("mine");
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("refuses to go through a symlink already in the target, at any depth, and replaces one where the stream has a directory", async () => {
    const b = await setUp();
    await mkdir(join(b.target, "a", "b"), { recursive: true });
    await symlink(b.canary, join(b.target, "a", "b", "c"));
    await symlink(b.canary, join(b.target, "top"));
    expect(await unpackOutcome(b, [{ type: "file", p: "a/b/c/secret", data: "pwned" }])).to.match(/through "a\/b\/c", which is a symlink in the target/);
    expect(await unpackOutcome(b, [{ type: "file", p: "top/inner/deep", data: "pwned" }])).to.match(/which is a symlink in the target/);
    expect(await unpackOutcome(b, [{ type: "dir", p: "top" }, { type: "file", p: "top/secret" }])).to.equal("ok");
    expect((await lstat(join(b.target, "top"))).isDirectory()).to.equal(true);
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("replaces a hard link to a file outside and a FIFO already in the target instead of writing into them", async () => {
    const b = await setUp();
    await link(join(b.canary, "secret"), join(b.target, "h"));
    execFileSync("mkfifo", [join(b.target, "fifo")]);
    expect(await unpackOutcome(b, [{ type: "file", p: "h", data: "pwned" }, { type: "file", p: "fifo", data: "plain" }])).to.equal("ok");
    expect(await readFile(join(b.target, "fifo"), "utf8")).to.equal("plain");
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("refuses entry types it does not know (devices, FIFOs), names too long and a root that is not a directory", async () => {
    const b = await setUp();
    const device = Buffer.concat([Buffer.from([4]), encodeEntry(T_DIR, { p: "dev", m: 0o600, u: 0, g: 0, t: T0 }).subarray(1)]);
    expect(await unpackOutcome(b, [{ type: "raw", bytes: device }])).to.contain("entry type 4");
    expect(await unpackOutcome(b, [{ type: "file", p: "x".repeat(300) }])).to.contain("too long");
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("refuses a target that is a symlink", async () => {
    const b = await setUp();
    const rootLink = join(b.root, "target-link");
    await symlink(b.canary, rootLink);
    let message = "";
    await unpackDir(once(stream([{ type: "file", p: "secret", data: "pwned" }])), rootLink).catch((e: Error) => (message = e.message));
    expect(message).to.contain("is not a directory (a symlink?)");
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("takes duplicate entries in order, inside the target", async () => {
    const b = await setUp();
    const entries: Entry[] = [{ type: "dir", p: "d" }, { type: "file", p: "d/x" }, { type: "file", p: "d", data: "now a file" }, { type: "link", p: "d", to: b.canary }, { type: "dir", p: "d" }, { type: "file", p: "d/y" }];
    expect(await unpackOutcome(b, entries)).to.equal("ok");
    expect(await readdir(join(b.target, "d"))).to.deep.equal(["y"]);
    expect(await digest(b.canary)).to.equal(b.before);
  });

  it("keeps the canary intact for 1,000 generated hostile streams over hostile targets", async () => {
    const names = fc.constantFrom("a", "b", "a/b", "a/b/c", "b/a", "..", "../canary", "a/../..", "/abs", "c", "a/c", ".", "");
    const targets = (canary: string) => fc.constantFrom(canary, `${canary}/secret`, `${canary}/inner`, "../canary", "../canary/secret", "/", ".", "a", "..");
    const entry = (canary: string) => fc.oneof(
      names.map((p): Entry => ({ type: "dir", p, m: 0o777 })),
      fc.tuple(names, fc.string({ maxLength: 8 })).map(([p, data]): Entry => ({ type: "file", p, data })),
      fc.tuple(names, targets(canary)).map(([p, to]): Entry => ({ type: "link", p, to })),
    );
    const prepared = fc.array(fc.tuple(fc.constantFrom("a", "b", "a/b", "c"), fc.constantFrom("link-out", "link-secret", "dir", "file", "hardlink")), { maxLength: 3 });
    const b = await bed();
    const root = b.root;
    let ok = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(prepared, fc.array(entry(b.canary), { minLength: 1, maxLength: 8 }), async (pre, entries) => {
        // A fresh bed each run, so a counterexample is the run that changed the canary.
        await rm(b.root, { recursive: true, force: true });
        Object.assign(b, await bed());
        for (const [p, kind] of pre) {
          const at = join(b.target, p);
          await mkdir(join(at, ".."), { recursive: true }).catch(() => undefined);
          await rm(at, { recursive: true, force: true }).catch(() => undefined);
          if (kind === "link-out") await symlink(b.canary, at).catch(() => undefined);
          else if (kind === "link-secret") await symlink(join(b.canary, "secret"), at).catch(() => undefined);
          else if (kind === "dir") await mkdir(at, { recursive: true }).catch(() => undefined);
          else if (kind === "file") await writeFile(at, "pre").catch(() => undefined);
          else await link(join(b.canary, "secret"), at).catch(() => undefined);
        }
        // The preparation itself may go through its own links: the canary as the unpack finds it.
        b.before = await digest(b.canary);
        const outcome = await unpackOutcome(b, entries);
        if (outcome === "ok") ok++;
        else refused++;
        expect(await digest(b.canary), `${JSON.stringify(pre)} ${JSON.stringify(entries)}: ${outcome}`).to.equal(b.before);
      }),
      { numRuns: 1000, seed: 20261206 },
    );
    beds.push(b.root, root);
    expect(ok, "some streams restore").to.be.greaterThan(50);
    expect(refused, "some streams are refused").to.be.greaterThan(50);
  });
});
