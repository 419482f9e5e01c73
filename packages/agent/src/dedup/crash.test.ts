// A crash at every write of a prune and of a backup (the process stops: that write and every
// later one fail), then the next operation run normally: every snapshot restores throughout,
// check finds only leftovers after the crash and nothing wrong after the next prune.
import { expect } from "chai";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseKey } from "../format/keys.ts";
import { DedupRepo } from "./repo.ts";
import type { Snapshot } from "./snapshot.ts";
import { bytesFrom } from "./testdata.ts";
import { CrashError, CrashingBackend, FakeClock, MemoryBackend, TEST_LEASE, TINY, collector, lockOptions, pieces } from "./test-support.ts";

const KEY = parseKey("7a".repeat(32));
// A fixed salt, so the same chunk cuts (they follow the derived keys) and so the same leftovers on every run.
const SALT = Buffer.from("01".repeat(16), "hex");

type Want = Map<string, Buffer | Record<string, string>>; // snapshot target -> stream bytes or file digests

function digests(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const n of readdirSync(root).sort()) out[n] = createHash("sha256").update(readFileSync(join(root, n))).digest("hex");
  return out;
}

describe("dedup/crash: a crash at every write of prune and of backup", function () {
  this.timeout(60_000);
  let tmp: string;
  let clock: FakeClock;
  const open = (b: import("@dataprotection/storage").RepoBackend): Promise<DedupRepo> => DedupRepo.open(b, { key: KEY, prefix: "r", locks: lockOptions(clock) });
  const leftoverKinds = new Set<string>();

  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "dp-crash-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));
  beforeEach(() => {
    clock = new FakeClock();
  });

  /** Every snapshot restores as `want` says its target should. */
  async function allRestore(repo: DedupRepo, want: Want): Promise<Snapshot[]> {
    const snaps = await repo.listSnapshots();
    for (const s of snaps) {
      const w = want.get(s.target);
      expect(w, `a snapshot of ${s.target}`).to.not.equal(undefined);
      if (Buffer.isBuffer(w)) {
        const c = collector();
        await repo.restoreStream(s.id, c.w);
        expect(c.bytes().equals(w), s.target).to.equal(true);
      } else {
        const dst = join(tmp, `dst-${s.id}-${Math.random().toString(36).slice(2)}`);
        await repo.restoreDir(s.id, dst);
        expect(digests(dst)).to.deep.equal(w);
        rmSync(dst, { recursive: true });
      }
    }
    return snaps;
  }

  async function checkAfterCrash(repo: DedupRepo): Promise<void> {
    const report = await repo.check();
    expect(report.errors).to.deep.equal([]);
    for (const l of report.leftovers) leftoverKinds.add(l.replace(/[0-9a-f]{32,64}/g, "X").replace(/^\d+ /, "N ").replace(/named by \d+/, "named by N").replace(/\d{4}-\d\d-\d\dT[0-9:.]+Z/g, "T"));
  }

  async function checkClean(repo: DedupRepo): Promise<void> {
    const report = await repo.check();
    expect(report.errors).to.deep.equal([]);
    // After a full prune only copies of a chunk in kept packs may remain (below the repack threshold).
    expect(report.leftovers.filter((l) => !/stored in more than one pack/.test(l))).to.deep.equal([]);
  }

  /** A repo with live and forgotten snapshots, shared chunks, and packs a failed backup left. */
  async function baseRepo(want: Want): Promise<MemoryBackend> {
    const mem = new MemoryBackend();
    const repo = await DedupRepo.init(mem, { key: KEY, prefix: "r", ...TINY, salt: SALT, locks: lockOptions(clock) });
    const shared = bytesFrom("shared", 12_000);
    const streams: Record<string, Buffer> = {
      s1: Buffer.concat([bytesFrom("s1", 15_000), shared]),
      s2: Buffer.concat([shared, bytesFrom("s2", 10_000, 4)]),
      s3: Buffer.concat([bytesFrom("s3", 8000), shared.subarray(0, 6000), bytesFrom("s3b", 8000)]),
    };
    const ids: Record<string, string> = {};
    for (const [name, data] of Object.entries(streams)) {
      ids[name] = (await repo.backupStream(name, pieces(data))).id;
      want.set(name, data);
    }
    const src = join(tmp, "src");
    mkdirSync(src, { recursive: true });
    writeFileSync(join(src, "f1"), bytesFrom("f1", 5000));
    writeFileSync(join(src, "f2"), shared);
    await repo.backupDir(src, { target: "dir" });
    want.set("dir", digests(src));
    async function* dies(): AsyncGenerator<Buffer> {
      yield bytesFrom("dies", 9000);
      throw new Error("source died");
    }
    await repo.backupStream("failed", dies()).catch(() => undefined);
    await repo.forget(ids.s1!);
    await repo.forget(ids.s3!);
    return mem;
  }

  async function writesOf(op: (repo: DedupRepo) => Promise<unknown>, base: MemoryBackend): Promise<number> {
    const counting = new CrashingBackend(base.clone());
    await op(await open(counting));
    return counting.writes;
  }

  async function crashAt(n: number, base: MemoryBackend, op: (repo: DedupRepo) => Promise<unknown>): Promise<MemoryBackend> {
    const mem = base.clone();
    const crashing = new CrashingBackend(mem, n);
    const outcome = await op(await open(crashing)).then(
      () => undefined,
      (err: unknown) => err,
    );
    // Crashes at the very end (the lock's removal) go unnoticed; any other failure is the crash.
    if (outcome !== undefined) expect(outcome).to.be.instanceOf(CrashError);
    expect(crashing.crashed || n >= crashing.writes).to.equal(true);
    clock.advance(TEST_LEASE + 1); // the dead process's lock is stale now
    return mem;
  }

  let runs = 0;

  for (const repackThreshold of [0.2, 0]) {
    it(`prune (repack threshold ${repackThreshold}): crashed at each of its writes, then prune again`, async () => {
      const want: Want = new Map();
      const base = await baseRepo(want);
      const writes = await writesOf((r) => r.prune({ repackThreshold }), base);
      expect(writes).to.be.above(15);
      for (let n = 0; n < writes; n++, runs++) {
        const mem = await crashAt(n, base, (r) => r.prune({ repackThreshold }));
        const repo = await open(mem);
        await checkAfterCrash(repo);
        await allRestore(repo, want);
        await repo.prune();
        await checkClean(repo);
        expect((await allRestore(await open(mem), want)).map((s) => s.target).sort()).to.deep.equal(["dir", "s2"]);
      }
    });
  }

  // "patched": the base repo's directory changed in place, backed up against its snapshot: patch blobs.
  for (const kind of ["stream", "dir", "patched"] as const) {
    it(`backup (${kind}): crashed at each of its writes, then a backup and a prune`, async () => {
      const want: Want = new Map();
      const base = await baseRepo(want);
      const src = join(tmp, `src-${kind}`);
      mkdirSync(src, { recursive: true });
      if (kind === "patched") {
        const f1 = bytesFrom("f1", 5000);
        bytesFrom("poked", 40).copy(f1, 2000);
        writeFileSync(join(src, "f1"), f1);
        writeFileSync(join(src, "f2"), Buffer.concat([bytesFrom("shared", 12_000), bytesFrom("grown", 50)]));
      } else {
        writeFileSync(join(src, "g1"), Buffer.concat([bytesFrom("shared", 12_000), bytesFrom("g1", 20_000)]));
        writeFileSync(join(src, "g2"), bytesFrom("g2", 16_000, 3));
      }
      const data = Buffer.concat([bytesFrom("new", 30_000), bytesFrom("shared", 12_000)]);
      const backup = async (r: DedupRepo): Promise<Snapshot> => {
        if (kind === "stream") return r.backupStream("new", pieces(data));
        if (kind === "dir") return r.backupDir(src, { target: "new" });
        const parent = (await r.listSnapshots()).find((x) => x.target === "dir")!.id;
        return r.backupDir(src, { target: "new", parent });
      };
      want.set("new", kind === "stream" ? data : digests(src));
      want.set("next", bytesFrom("next", 7000));
      if (kind === "patched") {
        const s = await backup(await open(base.clone()));
        expect(s.stats.patchedChunks).to.be.at.least(1);
      }
      const writes = await writesOf(backup, base);
      expect(writes).to.be.above(kind === "patched" ? 5 : 8);
      for (let n = 0; n < writes; n++, runs++) {
        const mem = await crashAt(n, base, backup);
        const repo = await open(mem);
        await checkAfterCrash(repo);
        await allRestore(repo, want);
        await repo.backupStream("next", pieces(bytesFrom("next", 7000)));
        await repo.prune();
        await checkClean(repo);
        const targets = (await allRestore(await open(mem), want)).map((s) => s.target);
        expect(targets).to.include.members(["dir", "s2", "next"]);
      }
    });
  }

  it("covered at least 50 crash points, and they left the leftovers check tells apart", () => {
    const kinds = [...leftoverKinds].join("\n");
    expect(runs).to.be.at.least(50);
    expect(kinds).to.match(/in no index file/);
    expect(kinds).to.match(/is named by N index files/);
    expect(kinds).to.match(/chunks are stored in more than one pack/);
    expect(kinds).to.match(/stale lock: prune/);
    expect(kinds).to.match(/stale lock: backup/);
  });
});
