// Random schedules of backups (streams and a directory, small contents sharing parts), forgets,
// prunes, restores, and a backup racing a prune or another backup, on two repo objects (two
// "processes") sharing one backend and clock. Whatever the schedule: every snapshot not forgotten
// restores byte-identical, no chunk a snapshot names is missing, check finds no error.
import { expect } from "chai";
import fc from "fast-check";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseKey } from "../format/keys.ts";
import { DedupRepo } from "./repo.ts";
import { bytesFrom } from "./testdata.ts";
import { FakeClock, MemoryBackend, PausingBackend, TEST_LEASE, TINY, collector, failure, lockOptions, pausedSource, pieces } from "./test-support.ts";

const KEY = parseKey("8b".repeat(32));
// Parts the contents are made of, so that backups share chunks.
const POOL = [0, 1, 2, 3, 4].map((i) => bytesFrom(`pool-${i}`, 1500 + 700 * i, i === 4 ? 4 : 256));

const content = fc.record({ parts: fc.array(fc.nat({ max: POOL.length - 1 }), { maxLength: 3 }), own: fc.nat({ max: 3000 }), seed: fc.nat() });
type Content = { parts: number[]; own: number; seed: number };
const bytesOf = (c: Content): Buffer => Buffer.concat([...c.parts.map((i) => POOL[i]!), bytesFrom(`own-${c.seed}`, c.own)]);

const op = fc.oneof(
  { weight: 4, arbitrary: fc.record({ t: fc.constant("stream" as const), c: content }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant("dir" as const), files: fc.array(fc.record({ f: fc.nat({ max: 2 }), c: fc.option(content) }), { minLength: 1, maxLength: 3 }) }) },
  // A file of the directory changed in place (a few bytes overwritten, or appended), then a backup:
  // its new chunks start where the parent's did, and are stored as patches of them (content.ts).
  { weight: 4, arbitrary: fc.record({ t: fc.constant("poke" as const), f: fc.nat({ max: 2 }), at: fc.nat(), n: fc.integer({ min: 1, max: 32 }), append: fc.boolean(), seed: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("forget" as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant("prune" as const), threshold: fc.constantFrom(0, 0.2, 0.5, 2), other: fc.boolean() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("restore" as const), pick: fc.nat(), other: fc.boolean() }) },
  // A backup holding its lock (its source paused) while the other process prunes, after the clock
  // moved on by `advance` (0, half a lease, into the holder's margin, past the lease), the
  // pruning host's clock `skew` ahead (past the lease: it breaks a lock its holder still trusts).
  { weight: 3, arbitrary: fc.record({ t: fc.constant("backup-vs-prune" as const), c: content, advance: fc.constantFrom(0, 0.5, 0.9, 1.01), skew: fc.constantFrom(0, 0, 1.01) }) },
  // A prune paused (holding its lock) while the other process tries a backup.
  { weight: 1, arbitrary: fc.record({ t: fc.constant("prune-vs-backup" as const), c: content, advance: fc.constantFrom(0, 1.01) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant("two-backups" as const), a: content, b: content }) },
);
type Op = typeof op extends fc.Arbitrary<infer T> ? T : never;

let patched = 0;

type Want = { kind: "stream"; data: Buffer } | { kind: "dir"; files: Record<string, Buffer> };

describe("dedup/prune: random schedules of backup, forget, prune and races (property)", function () {
  this.timeout(120_000);
  let tmp: string;
  before(() => {
    tmp = mkdtempSync(join(tmpdir(), "dp-prop-"));
  });
  after(() => rmSync(tmp, { recursive: true, force: true }));

  it("every snapshot not forgotten restores byte-identical; check finds no error", async () => {
    let run = 0;
    patched = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 8 }), async (ops: Op[]) => {
        const dir = join(tmp, `run-${run++}`);
        const src = join(dir, "src");
        mkdirSync(src, { recursive: true });
        try {
          await schedule(ops, dir, src);
        } finally {
          rmSync(dir, { recursive: true, force: true });
        }
      }),
      { numRuns: 200 },
    );
    // The schedules did exercise patches (a patch's base outliving the snapshot that stored it whole, through forgets and prunes).
    expect(patched, "chunks stored as patches over all schedules").to.be.above(50);
  });
});

async function schedule(ops: Op[], dir: string, src: string): Promise<void> {
  const mem = new MemoryBackend();
  const clock = new FakeClock();
  const main = await DedupRepo.init(mem, { key: KEY, prefix: "r", ...TINY, locks: lockOptions(clock, "one", 1) });
  const pausing = new PausingBackend(mem);
  let skew = 0;
  const other = await DedupRepo.open(pausing, { key: KEY, prefix: "r", locks: lockOptions({ now: () => clock.t + skew }, "two", 2) });
  const want = new Map<string, Want>();
  let version = 0;

  const ids = (): string[] => [...want.keys()].sort();
  const verify = async (repo: DedupRepo, id: string): Promise<void> => {
    const w = want.get(id)!;
    if (w.kind === "stream") {
      const c = collector();
      await repo.restoreStream(id, c.w);
      expect(c.bytes().equals(w.data), `stream snapshot ${id}`).to.equal(true);
      return;
    }
    const dst = join(dir, `dst-${version++}`);
    await repo.restoreDir(id, dst);
    const got = Object.fromEntries(readdirSync(dst).sort().map((n) => [n, readFileSync(join(dst, n))]));
    expect(Object.keys(got), `dir snapshot ${id}`).to.deep.equal(Object.keys(w.files).sort());
    for (const [n, b] of Object.entries(w.files)) expect(got[n]!.equals(b), `${id}: ${n}`).to.equal(true);
    rmSync(dst, { recursive: true });
  };
  const stream = async (repo: DedupRepo, c: Content, name: string): Promise<void> => {
    const data = bytesOf(c);
    const s = await repo.backupStream(name, pieces(data));
    want.set(s.id, { kind: "stream", data });
  };

  for (const o of ops) {
    switch (o.t) {
      case "stream":
        await stream(main, o.c, `s${version++}`);
        break;
      case "dir": {
        for (const { f, c } of o.files) {
          const p = join(src, `f${f}`);
          if (c === null) rmSync(p, { force: true });
          else {
            writeFileSync(p, bytesOf(c));
            // A distinct mtime per version: "unchanged since the parent" must never be a guess here.
            const t = new Date(Date.UTC(2020, 0, 1) + ++version * 1000);
            utimesSync(p, t, t);
          }
        }
        const files = Object.fromEntries(readdirSync(src).map((n) => [n, readFileSync(join(src, n))]));
        const s = await main.backupDir(src, { target: "the-dir" });
        want.set(s.id, { kind: "dir", files });
        break;
      }
      case "poke": {
        const p = join(src, `f${o.f}`);
        const t0 = new Date(Date.UTC(2020, 0, 1) + ++version * 1000);
        if (!existsSync(p) || statSync(p).size < 1024) {
          // Something to change: a file of a few chunks, backed up first.
          writeFileSync(p, bytesFrom(`poke-base-${o.seed}`, 3000 + (o.seed % 3000)));
          utimesSync(p, t0, t0);
          const s0 = await main.backupDir(src, { target: "the-dir" });
          want.set(s0.id, { kind: "dir", files: Object.fromEntries(readdirSync(src).map((n) => [n, readFileSync(join(src, n))])) });
        }
        const old = readFileSync(p);
        const bytes = bytesFrom(`poke-${o.seed}`, o.n);
        let next: Buffer;
        if (o.append) next = Buffer.concat([old, bytes]);
        else {
          next = Buffer.from(old);
          bytes.copy(next, o.at % (old.length - o.n + 1));
        }
        writeFileSync(p, next);
        const t = new Date(Date.UTC(2020, 0, 1) + ++version * 1000);
        utimesSync(p, t, t);
        const files = Object.fromEntries(readdirSync(src).map((n) => [n, readFileSync(join(src, n))]));
        const s = await main.backupDir(src, { target: "the-dir" });
        patched += s.stats.patchedChunks ?? 0;
        want.set(s.id, { kind: "dir", files });
        break;
      }
      case "forget": {
        const all = ids();
        if (all.length === 0) break;
        const id = all[o.pick % all.length]!;
        await main.forget(id);
        want.delete(id);
        break;
      }
      case "prune":
        await (o.other ? other : main).prune({ repackThreshold: o.threshold });
        break;
      case "restore": {
        const all = ids();
        if (all.length > 0) await verify(o.other ? other : main, all[o.pick % all.length]!);
        break;
      }
      case "backup-vs-prune": {
        const data = bytesOf(o.c);
        const p = pausedSource(Buffer.concat([data, bytesFrom(`race-${version++}`, 2000)]));
        const backup = main.backupStream("racing", p.source).then(
          (s) => s,
          (err: Error) => err,
        );
        await p.started;
        clock.advance(Math.round(TEST_LEASE * o.advance));
        skew = Math.round(TEST_LEASE * o.skew);
        const pruned = await failure(other.prune());
        skew = 0;
        p.release();
        const b = await backup;
        const backupOk = !(b instanceof Error);
        if (pruned !== "succeeded") expect(pruned).to.match(/in use by backup on one pid 1/);
        if (!backupOk) expect(b.message).to.match(/^backup stopped: its lock/);
        // Never both: a prune that went ahead broke the backup's lock, and the backup noticed.
        expect(pruned === "succeeded" && backupOk, "prune and the racing backup both succeeded").to.equal(false);
        if (o.advance === 0 && o.skew === 0) expect(backupOk && pruned !== "succeeded").to.equal(true);
        if (o.advance > 1 || o.skew > 1) expect(!backupOk && pruned === "succeeded").to.equal(true);
        if (backupOk) want.set(b.id, { kind: "stream", data: Buffer.concat([data, bytesFrom(`race-${version - 1}`, 2000)]) });
        break;
      }
      case "prune-vs-backup": {
        const gate = pausing.pauseAt("/snapshots/");
        const pruning = failure(other.prune());
        await gate.reached;
        clock.advance(Math.round(TEST_LEASE * o.advance));
        const data = bytesOf(o.c);
        const backup = await main.backupStream("during-prune", pieces(data)).then(
          (s) => s,
          (err: Error) => err,
        );
        gate.release();
        const pruned = await pruning;
        if (backup instanceof Error) {
          expect(o.advance).to.equal(0);
          expect(backup.message).to.match(/^backup cannot run: the repository is locked by prune on two pid 2/);
          expect(pruned).to.equal("succeeded");
        } else {
          // The prune's lock was stale: the backup went ahead, and the prune stopped.
          expect(o.advance).to.be.above(1);
          expect(pruned).to.match(/^prune stopped: its lock [0-9a-f]{32} ran out/);
          want.set(backup.id, { kind: "stream", data });
        }
        break;
      }
      case "two-backups": {
        const p = pausedSource(bytesOf(o.a));
        const first = main.backupStream("first", p.source);
        await p.started;
        await stream(other, o.b, "second");
        p.release();
        const s = await first;
        want.set(s.id, { kind: "stream", data: bytesOf(o.a) });
        break;
      }
    }
    clock.advance(1000);
  }

  const fresh = await DedupRepo.open(mem, { key: KEY, prefix: "r", locks: lockOptions(clock, "three", 3) });
  expect((await fresh.listSnapshots()).map((s) => s.id).sort()).to.deep.equal(ids());
  for (const id of ids()) await verify(fresh, id);
  const report = await fresh.check();
  expect(report.errors).to.deep.equal([]);
  expect(report.snapshots).to.equal(want.size);
  // No stray lock: every operation removed its own (stale ones a prune removed).
  expect(mem.keys("r/locks/").length).to.equal(0);
}
