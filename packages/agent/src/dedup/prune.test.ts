import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FilesystemBackend, type RepoBackend } from "@dataprotection/storage";
import { parseKey } from "../format/keys.ts";
import { DedupRepo } from "./repo.ts";
import { bytesFrom } from "./testdata.ts";
import { FakeClock, MemoryBackend, TINY, collector, failure, lockOptions, pieces } from "./test-support.ts";

const SMALL = { chunker: { min: 4096, avg: 16384, max: 65536 }, treeChunker: { min: 1024, avg: 4096, max: 16384 }, packSize: 64 << 10 };
const KEY = parseKey("5e".repeat(32));

function files(root: string, sub: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(p);
    }
  };
  walk(join(root, sub));
  return out;
}
const bytesUnder = (root: string, sub: string): number => files(root, sub).reduce((n, f) => n + statSync(f).size, 0);

function digestDir(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = statSync(join(root, r));
      if (st.isDirectory()) walk(r);
      else out[r] = createHash("sha256").update(readFileSync(join(root, r))).digest("hex");
    }
  };
  walk("");
  return out;
}

async function restored(repo: DedupRepo, id: string): Promise<Buffer> {
  const c = collector();
  await repo.restoreStream(id, c.w);
  return c.bytes();
}

describe("dedup/prune: forget and prune", () => {
  let tmp: string;
  let backend: RepoBackend;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), "dp-prune-"));
    mkdirSync(join(tmp, "r"));
    backend = new FilesystemBackend({ root: join(tmp, "r") });
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it("after forgetting snapshots: frees bytes, the rest restore byte-identical (streams and directories), check is clean", async () => {
    const repo = await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
    const shared = bytesFrom("shared", 300_000);
    const streams = [0, 1, 2].map((i) => Buffer.concat([bytesFrom(`own-${i}`, 200_000), shared, bytesFrom(`tail-${i}`, 100_000, 4)]));
    const ids: string[] = [];
    for (const [i, s] of streams.entries()) ids.push((await repo.backupStream(`db-${i}.dump`, pieces(s))).id);
    const src = join(tmp, "src");
    mkdirSync(join(src, "sub"), { recursive: true });
    writeFileSync(join(src, "a"), bytesFrom("dir-a", 150_000));
    writeFileSync(join(src, "sub/b"), shared);
    const d1 = await repo.backupDir(src);
    const want1 = digestDir(src);
    writeFileSync(join(src, "a"), bytesFrom("dir-a2", 150_000));
    writeFileSync(join(src, "c"), "small file\n");
    const d2 = await repo.backupDir(src);
    const want2 = digestDir(src);
    expect((await repo.check()).leftovers).to.deep.equal([]);

    const before = bytesUnder(join(tmp, "r"), "repo/packs");
    expect((await repo.forget(ids[0]))!.id).to.equal(ids[0]);
    await repo.forget(ids[2]);
    await repo.forget(d1.id);
    const report = await repo.prune();
    expect(report).to.include({ snapshots: 2, dryRun: false });
    expect(report.bytesFreed).to.be.above(0);
    expect(report.packsDeleted + report.packsRepacked).to.be.above(0);
    const after = bytesUnder(join(tmp, "r"), "repo/packs");
    expect(after).to.be.below(before);
    // What is left: the two snapshots' bytes, and not much more (repacking left little unused).
    expect(after).to.be.below(before - 350_000);

    for (const r of [repo, await DedupRepo.open(backend, { key: KEY, prefix: "repo" })]) {
      expect((await restored(r, ids[1])).equals(streams[1])).to.equal(true);
      const dst = join(tmp, `dst-${Math.random()}`);
      await r.restoreDir(d2.id, dst);
      expect(digestDir(dst)).to.deep.equal(want2);
    }
    expect(want1).to.not.deep.equal(want2);
    const check = await repo.check();
    expect(check.errors).to.deep.equal([]);
    expect(check.leftovers).to.deep.equal([]);
    expect(check.snapshots).to.equal(2);
    // Nothing more to do, and the repo's own index sees the new packs: a backup dedups against them.
    const again = await repo.prune();
    expect(again).to.include({ packsDeleted: 0, packsRepacked: 0, bytesFreed: 0 });
    const dup = await repo.backupStream("db-1.dump", pieces(streams[1]));
    expect(dup.stats.newChunks).to.equal(0);
  });

  it("a dry run changes nothing; threshold > 1 only deletes wholly unused packs; threshold 0 repacks every partly used one", async () => {
    const mem = new MemoryBackend();
    const repo = await DedupRepo.init(mem, { prefix: "r", ...TINY });
    const a = await repo.backupStream("a", pieces(bytesFrom("a", 20_000)));
    const b = await repo.backupStream("b", pieces(Buffer.concat([bytesFrom("a", 10_000), bytesFrom("b", 20_000)])));
    await repo.forget(a.id);
    const objects = new Map(mem.objects);
    const dry = await repo.prune({ dryRun: true });
    expect(dry.dryRun).to.equal(true);
    expect(dry.packsDeleted).to.be.above(0);
    expect([...mem.objects.keys()]).to.deep.equal([...objects.keys()]);
    const never = await repo.prune({ repackThreshold: 2 });
    expect(never.packsRepacked).to.equal(0);
    expect(never.packsDeleted).to.equal(dry.packsDeleted);
    const all = await repo.prune({ repackThreshold: 0 });
    expect(all.packsDeleted).to.equal(0);
    const check = await repo.check();
    expect(check.errors).to.deep.equal([]);
    // Every blob left is one b uses (the index holds no unused blob after threshold 0).
    expect((await repo.prune({ repackThreshold: 0, dryRun: true })).blobsRemoved).to.equal(0);
    expect((await restored(repo, b.id)).equals(Buffer.concat([bytesFrom("a", 10_000), bytesFrom("b", 20_000)]))).to.equal(true);
  });

  it("forget: only snapshot ids, only existing ones, only this backup's (DP_BACKUP_ID); a snapshot that does not open only without an id", async () => {
    const mem = new MemoryBackend();
    const repo = await DedupRepo.init(mem, { key: KEY, prefix: "r", ...TINY });
    const mine = await repo.backupStream("x", pieces(Buffer.from("mine")), { backupId: "uid-1" });
    const theirs = await repo.backupStream("y", pieces(Buffer.from("theirs")), { backupId: "uid-2" });
    expect(await failure(repo.forget("nope"))).to.match(/not a snapshot id/);
    expect(await failure(repo.forget("0".repeat(32)))).to.match(/not found/);
    expect(await failure(repo.forget(theirs.id, { backupId: "uid-1" }))).to.match(/belongs to another backup/);
    expect((await repo.forget(mine.id, { backupId: "uid-1" }))!.id).to.equal(mine.id);
    expect((await repo.listSnapshots()).map((s) => s.id)).to.deep.equal([theirs.id]);
    // Corrupt the other one: with an id it cannot show whose it is; without one it may go.
    const key = `r/snapshots/${theirs.id}`;
    mem.objects.get(key)![20] ^= 1;
    expect(await failure(repo.forget(theirs.id, { backupId: "uid-2" }))).to.match(/does not authenticate.*refusing to forget it/);
    expect(await failure(repo.prune())).to.match(/prune refused: snapshot .* does not authenticate.*forget it/);
    expect(await repo.forget(theirs.id)).to.equal(undefined);
    expect(mem.objects.has(key)).to.equal(false);
    // Forgetting deletes the snapshot only: the chunks stay until prune.
    expect(mem.keys("r/packs/").length).to.be.above(0);
    const report = await repo.prune();
    expect(report.snapshots).to.equal(0);
    expect(mem.keys("r/packs/")).to.deep.equal([]);
    expect(mem.keys("r/index/")).to.deep.equal([]);
  });

  it("refuses to prune a damaged repo (a chunk a snapshot needs is in no pack) and deletes nothing", async () => {
    const mem = new MemoryBackend();
    const repo = await DedupRepo.init(mem, { prefix: "r", ...TINY });
    await repo.backupStream("a", pieces(bytesFrom("a", 20_000)));
    await repo.backupStream("b", pieces(bytesFrom("b", 20_000)));
    mem.objects.delete(mem.keys("r/packs/")[0]!); // every pack holds chunks of a or b
    const before = [...mem.objects.keys()];
    expect(await failure(repo.prune())).to.match(/prune refused: snapshot [0-9a-f]{32} .* names chunk [0-9a-f]{16}, which is in no pack.*run check/);
    expect([...mem.objects.keys()]).to.deep.equal(before);
    expect((await repo.check()).errors.join("\n")).to.match(/pack [0-9a-f]{64} is missing/);
  });

  it("indexes again a pack no index names when a snapshot needs it (index file lost); check: errors before, clean after", async () => {
    const mem = new MemoryBackend();
    const repo = await DedupRepo.init(mem, { key: KEY, prefix: "r", ...TINY });
    const data = bytesFrom("adopt", 30_000);
    const s = await repo.backupStream("a", pieces(data));
    for (const k of mem.keys("r/index/")) mem.objects.delete(k);
    const broken = await repo.check();
    expect(broken.errors.join("\n")).to.match(/is missing/);
    expect(broken.leftovers.join("\n")).to.match(/in no index file/);
    const report = await repo.prune();
    expect(report.packsAdopted).to.be.above(0);
    expect(report.packsDeleted).to.equal(0);
    const check = await repo.check();
    expect(check.errors).to.deep.equal([]);
    expect(check.leftovers).to.deep.equal([]);
    expect((await restored(await DedupRepo.open(mem, { key: KEY, prefix: "r" }), s.id)).equals(data)).to.equal(true);
  });

  it("check tells leftovers (unindexed packs, chunks stored twice, stale locks) from errors; prune removes them", async () => {
    const mem = new MemoryBackend();
    const clock = new FakeClock();
    const repo = await DedupRepo.init(mem, { prefix: "r", ...TINY, locks: lockOptions(clock) });
    const data = bytesFrom("left", 12_000);
    await repo.backupStream("a", pieces(data));
    const other = await DedupRepo.open(mem, { prefix: "r", locks: lockOptions(clock) });
    // Chunks stored twice: a backup that did not see the first one's index stores them again.
    const racing = new MemoryBackend(new Map([...mem.objects].filter(([k]) => k === "r/config")));
    await (await DedupRepo.open(racing, { prefix: "r" })).backupStream("a", pieces(data));
    for (const [k, v] of racing.objects) if (k.startsWith("r/packs/") || k.startsWith("r/index/")) mem.objects.set(k, v);
    // An unindexed pack, and a stale lock.
    const somePack = mem.keys("r/packs/")[0]!;
    mem.objects.set(somePack.replace(/[0-9a-f]{64}$/, "e".repeat(64)).replace(/packs\/[0-9a-f]{2}\//, "packs/ee/"), mem.objects.get(somePack)!);
    const p = pausedLockHolder(other);
    await p.started;
    clock.advance(10 * 60_000 + 1);
    const report = await repo.check();
    expect(report.errors).to.deep.equal([]);
    expect(report.ok).to.equal(true);
    const text = report.leftovers.join("\n");
    expect(text).to.match(/chunks are stored in more than one pack/);
    expect(text).to.match(/pack e{64} is in no index file/);
    expect(text).to.match(/stale lock: backup on test-host pid 1/);
    p.release();
    await p.done.catch(() => undefined);
    await repo.prune({ repackThreshold: 0 });
    const clean = await repo.check();
    expect(clean.errors).to.deep.equal([]);
    expect(clean.leftovers).to.deep.equal([]);
  });
});

function pausedLockHolder(repo: DedupRepo): { started: Promise<void>; release: () => void; done: Promise<unknown> } {
  let started!: () => void;
  let release!: () => void;
  const s = new Promise<void>((r) => (started = r));
  const gate = new Promise<void>((r) => (release = r));
  async function* src(): AsyncGenerator<Buffer> {
    started();
    await gate;
    yield Buffer.from("late");
  }
  return { started: s, release, done: repo.backupStream("late", src()) };
}
