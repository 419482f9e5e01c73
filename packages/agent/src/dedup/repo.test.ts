import { expect } from "chai";
import { createHash } from "node:crypto";
import { type BigIntStats, closeSync, lstatSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, unlinkSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { FilesystemBackend, type RepoBackend } from "@dataprotection/storage";
import { parseKey } from "../format/keys.ts";
import { DedupRepo } from "./repo.ts";
import { BLOB_DATA, indexAad } from "./format.ts";
import { decodeIndexFile, encodeIndexFile } from "./repo-index.ts";
import { Sealer } from "./seal.ts";
import { unchanged } from "./backup-dir.ts";
import type { TreeEntry } from "./tree.ts";
import { bytesFrom } from "./testdata.ts";
import { ByteBudget } from "../archive/byte-budget.ts";
import { Lender, slowFileWrites } from "../archive/test-support.ts";
import { unpackDir } from "../archive/unpack.ts";

// Small chunks and packs, so that small data makes many of both.
const SMALL = { chunker: { min: 16 << 10, avg: 64 << 10, max: 256 << 10 }, treeChunker: { min: 1024, avg: 4096, max: 16384 }, packSize: 256 << 10 };
const KEY = parseKey("5e".repeat(32));

async function* once(b: Buffer): AsyncGenerator<Buffer> {
  // In pieces, as stdin would come.
  for (let off = 0; off < b.length; off += 65536) yield b.subarray(off, off + 65536);
}

function collector(): { w: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { w: new Writable({ write: (c: Buffer, _e, cb) => (parts.push(Buffer.from(c)), cb()) }), bytes: () => Buffer.concat(parts) };
}

/** Everything restore promises about a tree: kinds, contents, modes, mtimes (ms), link targets. */
function describeTree(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (rel: string): void => {
    const p = rel === "." ? root : join(root, rel);
    const st = lstatSync(p);
    const mode = (st.mode & 0o7777).toString(8);
    const t = Math.floor(st.mtimeMs);
    if (st.isSymbolicLink()) out.set(rel, `l ${readlinkSync(p)} ${t}`);
    else if (st.isFile()) out.set(rel, `f ${mode} ${t} ${createHash("sha256").update(readFileSync(p)).digest("hex")}`);
    else if (st.isDirectory()) {
      if (rel !== ".") out.set(rel, `d ${mode} ${t}`);
      for (const n of readdirSync(p).sort()) walk(rel === "." ? n : `${rel}/${n}`);
    }
  };
  walk(".");
  return out;
}

/** Pack files in the repo, by size descending. */
function packs(root: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(join(root, "repo", "packs"));
  return out.sort((a, b) => statSync(b).size - statSync(a).size);
}

describe("dedup/repo: DedupRepo on the filesystem backend", () => {
  let tmp: string;
  let backend: RepoBackend;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), "dp-dedup-"));
    backend = new FilesystemBackend({ root: join(tmp, "r") });
    mkdirSync(join(tmp, "r"));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  for (const key of [KEY, undefined]) {
    const what = key ? "encrypted" : "unencrypted";

    it(`round-trips streams of 0 B, 1 B and 3 MiB byte-identical (${what}), also through a backend without positioned reads`, async () => {
      const repo = await DedupRepo.init(backend, { key, prefix: "repo", ...SMALL });
      const cases = [Buffer.alloc(0), Buffer.from("x"), Buffer.concat([bytesFrom("s", 3 << 20), Buffer.alloc(600 << 10), Buffer.from("end")])];
      const ids: string[] = [];
      for (const [i, data] of cases.entries()) ids.push((await repo.backupStream(`dump-${i}.sql`, once(data))).id);
      const streamOnly: RepoBackend = Object.assign(Object.create(backend) as RepoBackend, { openRead: undefined });
      for (const b of [backend, streamOnly]) {
        const reopened = await DedupRepo.open(b, { key, prefix: "repo" });
        for (const [i, data] of cases.entries()) {
          const c = collector();
          const { size } = await reopened.restoreStream(ids[i], c.w);
          expect(size).to.equal(data.length);
          expect(c.bytes().equals(data), `case ${i}`).to.equal(true);
        }
      }
      const snaps = await repo.listSnapshots();
      expect(snaps.map((s) => s.target)).to.deep.equal(["dump-0.sql", "dump-1.sql", "dump-2.sql"]);
      expect((await repo.check()).errors).to.deep.equal([]);
    });
  }

  it("round-trips a directory: empty, 1-byte and sparse files, symlinks, modes, mtimes, nested dirs", async () => {
    const src = join(tmp, "src");
    mkdirSync(join(src, "a/b/c"), { recursive: true });
    writeFileSync(join(src, "empty"), "");
    writeFileSync(join(src, "one"), "1");
    writeFileSync(join(src, "a/b/c/deep.txt"), "deep\n".repeat(1000));
    writeFileSync(join(src, "a.txt"), bytesFrom("a", 300_000));
    writeFileSync(join(src, "exec.sh"), "#!/bin/sh\n", { mode: 0o755 });
    // Sparse: data at 0 and at 3 MiB, a hole between, a hole at the end (5 MiB in all).
    const fd = openSync(join(src, "sparse.img"), "w");
    writeSync(fd, Buffer.from("start"), 0, 5, 0);
    writeSync(fd, bytesFrom("mid", 70_000), 0, 70_000, 3 << 20);
    closeSync(fd);
    truncateSync(join(src, "sparse.img"), 5 << 20);
    symlinkSync("a/b/c/deep.txt", join(src, "link"));
    symlinkSync("/etc/passwd", join(src, "a/abs-link"));
    utimesSync(join(src, "one"), new Date("2020-01-02T03:04:05.678Z"), new Date("2020-01-02T03:04:05.678Z"));

    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const snap = await repo.backupDir(src);
    expect(snap.stats.files).to.equal(6);
    expect(snap.stats.dirs).to.equal(4);
    const dst = join(tmp, "dst");
    await (await DedupRepo.open(backend, { key: KEY, prefix: "repo" })).restoreDir(snap.id, dst);
    expect(describeTree(dst)).to.deep.equal(describeTree(src));
    // The holes stayed holes: neither stored nor written.
    expect(statSync(join(dst, "sparse.img")).blocks * 512).to.be.below(1 << 20);
    expect(snap.stats.newBytes).to.be.below(1 << 20);
    expect((await repo.check()).errors).to.deep.equal([]);
  });

  it("round-trips 2,000 small files", async () => {
    const src = join(tmp, "many");
    for (let d = 0; d < 20; d++) {
      mkdirSync(join(src, `dir-${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) writeFileSync(join(src, `dir-${d}`, `file-${f}.txt`), `file ${d}/${f}\n`.repeat((d * 100 + f) % 37));
    }
    const repo = await DedupRepo.init(backend, { prefix: "repo", ...SMALL });
    const snap = await repo.backupDir(src);
    expect(snap.stats.files).to.equal(2000);
    const dst = join(tmp, "dst");
    await repo.restoreDir(snap.id, dst);
    expect(describeTree(dst)).to.deep.equal(describeTree(src));
  });

  it("restoreDir reports the files' total size: multi-chunk files count their first chunk once (also with holes, small and empty files)", async () => {
    const src = join(tmp, "src");
    mkdirSync(src);
    const sizes = [1 << 20, 700_000, 300_001, 90_000, 10, 0];
    for (const [i, n] of sizes.entries()) writeFileSync(join(src, `f${i}`), bytesFrom(`count-${i}`, n));
    // Data, a hole, data, a trailing hole.
    const fd = openSync(join(src, "sparse"), "w");
    writeSync(fd, bytesFrom("sp1", 200_000), 0, 200_000, 0);
    writeSync(fd, bytesFrom("sp2", 200_000), 0, 200_000, 2 << 20);
    closeSync(fd);
    truncateSync(join(src, "sparse"), 3 << 20);
    const total = sizes.reduce((a, b) => a + b, 0) + (3 << 20);
    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const snap = await repo.backupDir(src);
    expect(snap.stats.bytes).to.equal(total);
    const dst = join(tmp, "dst");
    const r = await repo.restoreDir(snap.id, dst);
    expect(r).to.deep.equal({ entries: sizes.length + 2, bytes: total });
    expect(describeTree(dst)).to.deep.equal(describeTree(src));
  });

  it("a directory snapshot's stream (restoreDir's, pull-dir's with DP_DEDUP) keeps within the unpacker's byte budget when the target is slower than the repo", async () => {
    const src = join(tmp, "src");
    mkdirSync(src);
    for (let i = 0; i < 6; i++) writeFileSync(join(src, `large-${i}`), bytesFrom(`large-${i}`, 1 << 20));
    for (let i = 0; i < 30; i++) writeFileSync(join(src, `small-${i}`), bytesFrom(`small-${i}`, 20_000));
    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const snap = await repo.backupDir(src);
    const undo = await slowFileWrites(2);
    try {
      // Chunks are at most 256 KiB (SMALL): the budget holds two of them.
      const budget = new ByteBudget(512 << 10);
      const lender = new Lender();
      // The hold restoreDir and pull-dir give: every chunk is the unpacker's own (the lender counts what it keeps).
      const r = await unpackDir(lender.from(repo.readSnapshot(snap)), join(tmp, "dst"), lender.hold, budget);
      expect(budget.peak).to.be.at.most(512 << 10);
      expect(budget.peak, "the source outran the writes: the budget stopped it").to.be.above(256 << 10);
      expect(lender.peak).to.be.at.most(512 << 10);
      expect(r.bytes).to.equal(6 * (1 << 20) + 30 * 20_000);
    } finally {
      undo();
    }
    expect(describeTree(join(tmp, "dst"))).to.deep.equal(describeTree(src));
  });

  it("stores only what changed: a stream with an insertion and an overwrite, and a directory with one file changed", async () => {
    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const day1 = bytesFrom("day1", 4 << 20);
    const first = await repo.backupStream("db.dump", once(day1));
    expect(first.stats.newBytes).to.be.at.least(day1.length); // all new (and its tree)
    const day2 = Buffer.concat([day1.subarray(0, 1 << 20), Buffer.from("a new row ".repeat(10)), day1.subarray(1 << 20)]);
    day2.write("rewritten", 3 << 20);
    const second = await repo.backupStream("db.dump", once(day2));
    // Two edits cost a few 64 KiB chunks (and a small tree), not 4 MiB.
    expect(second.stats.newBytes).to.be.below(day2.length / 10);
    expect(second.stats.storedBytes).to.be.below(day2.length / 10);
    const c = collector();
    await repo.restoreStream(second.id, c.w);
    expect(c.bytes().equals(day2)).to.equal(true);

    const src = join(tmp, "vol");
    mkdirSync(src);
    for (let i = 0; i < 20; i++) writeFileSync(join(src, `f${i}`), bytesFrom(`vol-${i}`, 100_000));
    // Files changed less than 2 s before a backup are read again by the next one (racy, see backup-dir.ts): these are older.
    await new Promise((r) => setTimeout(r, 2100));
    const d1 = await repo.backupDir(src);
    expect(d1.stats.unchanged).to.equal(0);
    writeFileSync(join(src, "f3"), bytesFrom("changed", 100_000));
    writeFileSync(join(src, "new"), "new file");
    unlinkSync(join(src, "f7"));
    const d2 = await repo.backupDir(src);
    expect(d2.parent).to.equal(d1.id);
    expect(d2.stats.files).to.equal(20);
    expect(d2.stats.unchanged).to.equal(18);
    expect(d2.stats.newBytes).to.be.below(150_000);
    const dst = join(tmp, "dst");
    await repo.restoreDir(d2.id, dst);
    expect(describeTree(dst)).to.deep.equal(describeTree(src));
    // Without a parent every file is read again, and nothing new is stored.
    const d3 = await repo.backupDir(src, { parent: false });
    expect(d3.stats.unchanged).to.equal(0);
    expect(d3.stats.newChunks).to.equal(0);
  });

  it("stores pages rewritten in place and a grown log as patches of the parent's chunks; they restore, survive the base's snapshot being forgotten and pruned, and check reads them", async () => {
    // Unencrypted, with a fixed gear seed: the same cuts on every run (they depend on the seed).
    await DedupRepo.init(backend, { prefix: "repo", ...SMALL });
    const configFile = join(tmp, "r", "repo", "config");
    writeFileSync(configFile, JSON.stringify({ ...JSON.parse(readFileSync(configFile, "utf8")), gearSeed: "42".repeat(32) }));
    const repo = await DedupRepo.open(backend, { prefix: "repo" });
    const src = join(tmp, "db");
    mkdirSync(src);
    const db = join(src, "db.bin");
    const log = join(src, "app.log");
    writeFileSync(db, bytesFrom("pages", 2 << 20));
    writeFileSync(log, "2026-12-01 level=info started\n".repeat(10_000));
    const d1 = await repo.backupDir(src);
    const page = (at: number, seed: string): void => {
      const fd = openSync(db, "r+");
      writeSync(fd, bytesFrom(seed, 8192), 0, 8192, at);
      closeSync(fd);
    };
    // Day 2: 20 KB inserted near the start (every later byte moves), five pages far apart (five
    // chunks), and lines appended to the log.
    const before = readFileSync(db);
    writeFileSync(db, Buffer.concat([before.subarray(0, 5000), bytesFrom("inserted", 20_000), before.subarray(5000)]));
    for (const [i, at] of [0.2, 0.6, 1.0, 1.4, 1.8].entries()) page(Math.floor((at * (1 << 20)) / 8192) * 8192, `day2-${i}`);
    writeFileSync(log, readFileSync(log).toString() + "2026-12-02 level=warn disk 91%\n".repeat(50));
    const d2 = await repo.backupDir(src);
    // Each page's chunk and the log's last one are patches carrying about the bytes that changed
    // (five 8 KiB pages, a block either side, and 1.6 KB of log), not whole chunks of ~64-170 KiB:
    // the pages are compared with what the parent had 20 KB before them (the shift the chunks
    // after the insertion show). The chunk holding the insertion is stored whole (CDC's part).
    // The gear seed fixes the cuts, so these are the same on every run.
    expect(d2.stats.patchedChunks).to.be.at.least(5);
    expect(d2.stats.patchBytes).to.be.below(5 * (8192 + 512 + 200) + 1600 + 2000);
    expect(d2.stats.patchedBytes).to.be.above(5 * (16 << 10));
    // Besides the patches: the insertion's chunk and the tree's chunks (1-3: where the tree is cut
    // depends on its bytes, the files' stamps and inodes among them, which differ run to run).
    expect(d2.stats.newChunks - d2.stats.patchedChunks!).to.be.within(2, 4);
    expect(d2.stats.storedBytes).to.be.below(Math.min(180_000, d2.stats.patchedBytes! / 2));
    const want2 = describeTree(src);
    // Day 3: a page of a chunk day 2 stored as a patch changes again: patched against the whole base, not the patch.
    page(Math.floor((0.2 * (1 << 20)) / 8192) * 8192 + 16384, "day3");
    const d3 = await repo.backupDir(src);
    expect(d3.stats.patchedChunks).to.be.at.least(1);
    expect(d3.stats.patchBytes).to.be.below(2 * (2 * (8192 + 512 + 100)));
    const want3 = describeTree(src);
    const restored = async (id: string, r: DedupRepo = repo): Promise<Map<string, string>> => {
      const dst = join(tmp, `dst-${id}`);
      rmSync(dst, { recursive: true, force: true });
      await r.restoreDir(id, dst);
      return describeTree(dst);
    };
    expect(await restored(d2.id)).to.deep.equal(want2);
    expect(await restored(d3.id)).to.deep.equal(want3);
    // The bases were stored by d1 only: forget it, prune everything it alone used, repacking every pack it shared.
    await repo.forget(d1.id);
    const pruned = await repo.prune({ repackThreshold: 0 });
    expect(pruned.packsRepacked + pruned.packsDeleted).to.be.above(0);
    const again = await DedupRepo.open(backend, { prefix: "repo" });
    expect(await restored(d2.id, again)).to.deep.equal(want2);
    expect(await restored(d3.id, again)).to.deep.equal(want3);
    const report = await again.check();
    expect(report.errors).to.deep.equal([]);
    expect(report.chunksRead).to.equal(report.chunks);
    // A base's blob flipped: the patch that needs it no longer restores, and check names both.
    const [biggest] = packs(join(tmp, "r"));
    const bytes = readFileSync(biggest!);
    bytes[100] ^= 1;
    writeFileSync(biggest!, bytes);
    const broken = await (await DedupRepo.open(backend, { prefix: "repo" })).check();
    expect(broken.ok).to.equal(false);
  });

  it("refuses an index entry that claims a chunk larger than the repository's chunks can be, before reading or allocating it (unencrypted: anyone may write the index)", async () => {
    const repo = await DedupRepo.init(backend, { prefix: "repo", ...SMALL });
    const s = await repo.backupStream("db.dump", once(bytesFrom("claims", 200_000)));
    const dir = join(tmp, "r", "repo", "index");
    for (const name of readdirSync(dir)) {
      const sealer = new Sealer(undefined);
      const plain = sealer.open(indexAad(name), readFileSync(join(dir, name)))!;
      const packs = decodeIndexFile(plain, name).map((p) => ({ ...p, entries: p.entries.map((e) => (e.type === BLOB_DATA ? { ...e, rawLength: 0xfffffff0 } : e)) }));
      writeFileSync(join(dir, name), sealer.seal(indexAad(name), encodeIndexFile(packs)));
    }
    const reopened = await DedupRepo.open(backend, { prefix: "repo" });
    const c = collector();
    const err = await reopened.restoreStream(s.id, c.w).then(() => undefined, (e: Error) => e);
    expect(err?.message).to.match(/its index entry claims 4294967280 bytes, more than this repository's chunks can be \(corrupt or tampered\)/);
  });

  it("reads again a file rewritten right after the parent backup read it, same size, within one timestamp tick (racy)", () => {
    const s = 1_000_000_000n;
    const started = 1_700_000_000n * s;
    const entry = (ctimeNs: bigint): TreeEntry => ({ p: "f", k: "f", m: 0o644, u: 0, g: 0, t: 0, s: 9, i: "7", mn: String(ctimeNs), cn: String(ctimeNs), c: ["ab"] });
    const stat = (ctimeNs: bigint) => ({ size: 9n, ino: 7n, mtimeNs: ctimeNs, ctimeNs }) as BigIntStats;
    const parent = { cursor: undefined as never, startedNs: started };
    const has = { has: () => true };
    expect(unchanged(entry(started - 3n * s), stat(started - 3n * s), parent, has), "changed 3 s before the parent started: trusted").to.equal(true);
    expect(unchanged(entry(started - s), stat(started - s), parent, has), "1 s before: it may have changed again within its tick").to.equal(false);
    expect(unchanged(entry(started + s), stat(started + s), parent, has), "during the parent backup").to.equal(false);
    expect(unchanged(entry(started - 3n * s), stat(started - 2n * s), parent, has), "ctime moved").to.equal(false);
  });

  it("binds snapshots to their backup: a reader of another backup is refused", async () => {
    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const snap = await repo.backupStream("x", once(Buffer.from("data")), { backupId: "uid-1" });
    const c = collector();
    await repo.restoreStream(snap.id, c.w, { backupId: "uid-1" });
    expect(c.bytes().toString()).to.equal("data");
    await repo.restoreStream(snap.id, collector().w, { backupId: "uid-2" }).then(
      () => expect.fail("restored another backup's snapshot"),
      (err: Error) => expect(err.message).to.match(/belongs to another backup/),
    );
    expect((await repo.listSnapshots({ backupId: "uid-2" })).length).to.equal(0);
  });

  for (const key of [KEY, undefined]) {
    it(`check finds a deleted pack and a flipped byte, and names what they break (${key ? "encrypted" : "unencrypted"})`, async () => {
      const repo = await DedupRepo.init(backend, { key, prefix: "repo", ...SMALL });
      await repo.backupStream("a", once(bytesFrom("check", 2 << 20)));
      expect(await repo.check()).to.include({ ok: true });
      const [big, second] = packs(join(tmp, "r"));
      // A flipped byte in the middle of a data pack (inside some blob).
      const b = readFileSync(second);
      b[Math.floor(b.length / 3)] ^= 1;
      writeFileSync(second, b);
      const flipped = await repo.check();
      expect(flipped.ok).to.equal(false);
      expect(flipped.errors.join("\n")).to.match(key ? /does not open: authentication failed .*needed by snapshot/ : /does not open: checksum mismatch .*needed by snapshot/);
      unlinkSync(big);
      const deleted = await repo.check();
      expect(deleted.errors.join("\n")).to.match(/pack [0-9a-f]{64} is missing/);
      expect(deleted.errors.length).to.be.at.least(2);
    });
  }

  it("a failed backup leaves no snapshot, only packs no index names (check: leftovers, still ok); earlier snapshots restore", async () => {
    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const kept = await repo.backupStream("a", once(Buffer.from("kept")));
    async function* failing(): AsyncGenerator<Buffer> {
      yield bytesFrom("partial", 2 << 20);
      throw new Error("pg_dump died");
    }
    await repo.backupStream("b", failing()).then(
      () => expect.fail("a failed source made a snapshot"),
      (err: Error) => expect(err.message).to.equal("pg_dump died"),
    );
    expect((await repo.listSnapshots()).map((s) => s.id)).to.deep.equal([kept.id]);
    const report = await repo.check();
    expect(report.ok).to.equal(true);
    expect(report.leftovers.join("\n")).to.match(/in no index file/);
    expect(report.errors).to.deep.equal([]);
    const c = collector();
    await repo.restoreStream(kept.id, c.w);
    expect(c.bytes().toString()).to.equal("kept");
  });

  it("keeps zero runs of a stream as holes, refuses the wrong kind of restore, and one repo per prefix", async () => {
    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const data = Buffer.concat([Buffer.from("head"), Buffer.alloc(2 << 20), Buffer.from("tail")]);
    const snap = await repo.backupStream("zeros", once(data));
    expect(snap.stats.newBytes).to.be.below(1 << 20);
    const entries = [];
    for await (const e of repo.treeOf(snap)) entries.push(e);
    expect(entries[0].c!.some((x) => typeof x === "number")).to.equal(true);
    const c = collector();
    await repo.restoreStream(snap.id, c.w);
    expect(c.bytes().equals(data)).to.equal(true);
    await repo.restoreDir(snap.id, join(tmp, "dst")).then(
      () => expect.fail("restored a stream as a directory"),
      (err: Error) => expect(err.message).to.match(/of a stream, not a directory/),
    );
    await repo.restoreStream(snap.id, collector().w, { name: "other" }).then(
      () => expect.fail("restored a stream by another name"),
      (err: Error) => expect(err.message).to.match(/no stream named "other"/),
    );
    await DedupRepo.init(backend, { key: KEY, prefix: "repo" }).then(
      () => expect.fail("made a second repo over the first"),
      (err: Error) => expect(err.message).to.match(/already there/),
    );
    await DedupRepo.open(backend, { key: KEY, prefix: "none" }).then(
      () => expect.fail("opened a repo that is not there"),
      (err: Error) => expect(err.message).to.match(/no dedup repository there/),
    );
  });
});
