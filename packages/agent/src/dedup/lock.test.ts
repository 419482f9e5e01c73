import { expect } from "chai";
import { parseKey } from "../format/keys.ts";
import { Layout } from "./format.ts";
import { Locks, openLock } from "./lock.ts";
import { DedupRepo } from "./repo.ts";
import { Sealer } from "./seal.ts";
import { bytesFrom } from "./testdata.ts";
import { FakeClock, MemoryBackend, PausingBackend, TEST_LEASE, TINY, WrappedBackend, collector, failure, lockOptions, pausedSource, pieces } from "./test-support.ts";
import type { PutBody } from "@dataprotection/storage";

const KEY = parseKey("6f".repeat(32));
const HOLDER = /[0-9a-f]{32}, taken \d{4}-\d\d-\d\dT[^,]+, lease until \d{4}-/;

describe("dedup/lock: backups, restores, check and prune sharing a repo", () => {
  let mem: MemoryBackend;
  let clock: FakeClock;
  let a: DedupRepo;
  const open = async (host: string, pid: number, backend = mem as import("@dataprotection/storage").RepoBackend, c = clock): Promise<DedupRepo> =>
    DedupRepo.open(backend, { key: KEY, prefix: "r", locks: lockOptions(c, host, pid) });
  const locks = (): string[] => mem.keys("r/locks/");
  const restores = async (repo: DedupRepo, id: string, want: Buffer): Promise<void> => {
    const c = collector();
    await repo.restoreStream(id, c.w);
    expect(c.bytes().equals(want), `snapshot ${id}`).to.equal(true);
  };
  const clean = async (repo: DedupRepo): Promise<void> => {
    const r = await repo.check();
    expect(r.errors).to.deep.equal([]);
  };

  beforeEach(async () => {
    mem = new MemoryBackend();
    clock = new FakeClock();
    a = await DedupRepo.init(mem, { key: KEY, prefix: "r", ...TINY, locks: lockOptions(clock, "host-a", 11) });
    await a.backupStream("base", pieces(bytesFrom("base", 12_000)));
  });

  it("shared + shared: two backups at once both write their snapshot; both restore", async () => {
    const b = await open("host-b", 22);
    const d1 = bytesFrom("one", 10_000);
    const d2 = Buffer.concat([bytesFrom("one", 5_000), bytesFrom("two", 8_000)]);
    const p = pausedSource(d1);
    const first = a.backupStream("one", p.source);
    await p.started;
    expect(locks()).to.have.length(1);
    const second = await b.backupStream("two", pieces(d2));
    // A check and a restore share the repo with the backup still running.
    await clean(b);
    await restores(b, second.id, d2);
    p.release();
    const s1 = await first;
    expect(locks()).to.deep.equal([]);
    for (const r of [a, b, await open("host-c", 33)]) {
      await restores(r, s1.id, d1);
      await restores(r, second.id, d2);
    }
    await clean(a);
  });

  it("shared then exclusive: prune refuses, naming the backup that holds the repo, and takes its own lock away again", async () => {
    const b = await open("host-b", 22);
    const p = pausedSource(bytesFrom("one", 10_000));
    const first = a.backupStream("one", p.source);
    await p.started;
    const msg = await failure(b.prune());
    expect(msg).to.match(/^prune needs the repository to itself, but it is in use by backup on host-a pid 11 \(shared lock /);
    expect(msg).to.match(HOLDER);
    expect(locks()).to.have.length(1);
    p.release();
    const s = await first;
    const report = await b.prune();
    expect(report.snapshots).to.equal(2);
    await restores(b, s.id, bytesFrom("one", 10_000));
    expect(locks()).to.deep.equal([]);
  });

  it("exclusive then shared: a backup, a restore and a check refuse while prune runs; prune then finishes", async () => {
    const pausing = new PausingBackend(mem);
    const b = await open("host-b", 22, pausing);
    const gate = pausing.pauseAt("/snapshots/");
    const pruning = b.prune();
    await gate.reached;
    const [base] = await a.listSnapshots();
    for (const op of [() => a.backupStream("x", pieces(Buffer.from("x"))), () => a.restoreStream(base.id, collector().w), () => a.check()]) {
      const msg = await failure(op());
      expect(msg).to.match(/^(backup|restore|check) cannot run: the repository is locked by prune on host-b pid 22 \(exclusive lock /);
      expect(msg).to.match(HOLDER);
    }
    expect(locks()).to.have.length(1);
    gate.release();
    expect((await pruning).snapshots).to.equal(1);
    expect(locks()).to.deep.equal([]);
    await a.backupStream("x", pieces(Buffer.from("x")));
    await clean(a);
  });

  it("with a wait, a backup that meets a running prune waits for it and then runs (as DP_DEDUP backups do); without one, or past it, it refuses", async () => {
    const pausing = new PausingBackend(mem);
    const b = await open("host-b", 22, pausing);
    const waiting = await DedupRepo.open(mem, { key: KEY, prefix: "r", locks: { ...lockOptions(clock, "host-c", 33), wait: 30_000 } });
    const gate = pausing.pauseAt("/snapshots/");
    const pruning = b.prune();
    await gate.reached;
    const backup = waiting.backupStream("after-prune", pieces(Buffer.from("written once the prune is done")));
    let done = false;
    void backup.then(() => (done = true), () => (done = true));
    await new Promise((r) => setTimeout(r, 1200));
    expect(done, "still waiting while the prune holds the repo").to.equal(false);
    gate.release();
    await pruning;
    const s = await backup;
    await restores(a, s.id, Buffer.from("written once the prune is done"));
    const short = await DedupRepo.open(mem, { key: KEY, prefix: "r", locks: { ...lockOptions(clock, "host-d", 44), wait: 600 } });
    const again = pausing.pauseAt("/snapshots/");
    const pruning2 = b.prune();
    await again.reached;
    expect(await failure(short.backupStream("x", pieces(Buffer.from("x"))))).to.match(/^backup cannot run: the repository is locked by prune on host-b pid 22 \(exclusive lock .*\(waited 1 s for it\)$/);
    again.release();
    await pruning2;
    expect(locks()).to.deep.equal([]);
  });

  it("an expired lock is ignored: prune goes ahead past a stale backup lock (removing it), a backup past a stale prune lock", async () => {
    // A backup process that stopped for longer than its lease.
    const p = pausedSource(bytesFrom("stalled", 10_000));
    const stalled = a.backupStream("stalled", p.source);
    await p.started;
    clock.advance(TEST_LEASE + 1);
    const b = await open("host-b", 22);
    const report = await b.prune();
    expect(report.staleLocksRemoved).to.equal(1);
    expect(locks()).to.deep.equal([]);
    p.release();
    expect(await failure(stalled)).to.match(/^backup stopped: its lock [0-9a-f]{32} ran out/);
    expect((await b.listSnapshots()).map((s) => s.target)).to.deep.equal(["base"]);
    await clean(b);

    // A prune that stopped (paused while it listed the snapshots) for longer than its lease.
    const pausing = new PausingBackend(mem);
    const c = await open("host-c", 33, pausing);
    const gate = pausing.pauseAt("/snapshots/");
    const pruning = c.prune();
    await gate.reached;
    clock.advance(TEST_LEASE + 1);
    const data = bytesFrom("meanwhile", 9_000);
    const s = await a.backupStream("meanwhile", pieces(data));
    gate.release();
    expect(await failure(pruning)).to.match(/^prune stopped: its lock [0-9a-f]{32} ran out/);
    await restores(b, s.id, data);
    await clean(b);
  });

  it("a prune whose lease ran out while it checked the other locks, just before deleting, deletes nothing", async () => {
    const old = await a.backupStream("old", pieces(bytesFrom("old", 10_000)));
    await a.forget(old.id);
    const pausing = new PausingBackend(mem);
    const b = await open("host-b", 22, pausing);
    const gate = pausing.pauseAt("/locks/", 1); // the first listing is the lock's taking
    const pruning = b.prune();
    await gate.reached;
    const packs = mem.keys("r/packs/");
    clock.advance(TEST_LEASE + 1);
    // A backup that took the prune's lock for stale, and finished (its lock gone) before prune looks.
    const data = bytesFrom("old", 10_000);
    const s = await a.backupStream("again", pieces(data));
    expect(s.stats.newChunks).to.be.below(3); // it reused the forgotten snapshot's chunks
    gate.release();
    expect(await failure(pruning)).to.match(/^prune stopped: its lock [0-9a-f]{32} ran out/);
    for (const p of packs) expect(mem.objects.has(p), p).to.equal(true);
    await restores(a, s.id, data);
    await clean(a);
  });

  it("a backup whose lock vanished (prune broke it as stale) writes no snapshot; one lost while the snapshot was written removes it again", async () => {
    // Prune's host clock is ahead by more than the lease: it breaks a lock its holder still trusts.
    const ahead = new FakeClock();
    ahead.t = clock.t + TEST_LEASE + 1;
    const b = await open("host-b", 22, mem, ahead);
    const p = pausedSource(bytesFrom("victim", 10_000));
    const victim = a.backupStream("victim", p.source);
    await p.started;
    expect((await b.prune()).staleLocksRemoved).to.equal(1);
    p.release();
    // (It notices before its index file: one naming packs the prune deleted would mislead the next backup.)
    expect(await failure(victim)).to.match(/^backup stopped: its lock [0-9a-f]{32} was removed while it ran \(a prune took it for stale/);
    expect(mem.keys("r/index/")).to.have.length(1); // the base backup's only
    expect((await a.listSnapshots()).map((s) => s.target)).to.deep.equal(["base"]);
    await clean(a);

    // The lock removed between the last check and the snapshot's write.
    class Breaker extends WrappedBackend {
      override async put(key: string, body: PutBody): Promise<number> {
        if (key.includes("/snapshots/")) for (const l of mem.keys("r/locks/")) await mem.delete(l);
        return this.inner.put(key, body);
      }
    }
    const c = await open("host-c", 33, new Breaker(mem));
    expect(await failure(c.backupStream("late", pieces(bytesFrom("late", 5_000))))).to.match(/^backup stopped: its lock [0-9a-f]{32} was lost while the snapshot was written: snapshot [0-9a-f]{32} was removed again$/);
    expect((await a.listSnapshots()).map((s) => s.target)).to.deep.equal(["base"]);
    await clean(a);
    await a.prune();
    await clean(a);
  });

  it("a long backup keeps its lease by renewing it as it goes; prune meanwhile sees it live", async () => {
    const b = await open("host-b", 22);
    let refused = "";
    async function* slow(): AsyncGenerator<Buffer> {
      for (let i = 0; i < 30; i++) {
        yield bytesFrom(`slow-${i}`, 2000);
        clock.advance(40_000); // 30 x 40 s: twice the lease in all
        if (i === 20) refused = await failure(b.prune());
      }
    }
    const s = await a.backupStream("slow", slow());
    expect(refused).to.match(/in use by backup on host-a pid 11/);
    expect(s.stats.bytes).to.equal(60_000);
    await clean(b);
  });

  it("a lock that does not open blocks backups and prune, and is never taken for stale; check reports it", async () => {
    const forged = `r/locks/${"ab".repeat(16)}`;
    mem.objects.set(forged, Buffer.from(JSON.stringify({ v: 1, kind: "shared", op: "backup", host: "x", pid: 1, created: "2000-01-01T00:00:00Z", expires: "2000-01-01T00:00:00Z" })));
    clock.advance(10 * TEST_LEASE);
    expect(await failure(a.prune())).to.match(new RegExp(`^prune needs the repository to itself, but it is in use by an unreadable lock ${"ab".repeat(16)} \\(it does not authenticate with this repository's key; if no dp-agent holds it, delete r/locks/${"ab".repeat(16)} by hand\\)`));
    expect(await failure(a.backupStream("x", pieces(Buffer.from("x"))))).to.match(/^backup cannot run: the repository is locked by an unreadable lock/);
    expect(mem.objects.has(forged)).to.equal(true);
    const report = await a.check({ lock: false });
    expect(report.warnings.join("\n")).to.match(/lock abab.* does not open .*it blocks every backup and prune/);
    expect(locks()).to.deep.equal([forged]);
  });

  it("locks are sealed: a lock opens only under its own id and the repo's key", async () => {
    const sealer = new Sealer(Buffer.alloc(32, 7));
    const l = new Locks({ backend: mem, layout: new Layout("z"), sealer }, lockOptions(clock, "h", 5));
    const held = await l.acquire("exclusive", "prune");
    const [key] = mem.keys("z/locks/");
    const id = key!.slice(-32);
    expect(openLock(sealer, id, mem.objects.get(key!)!)).to.include({ kind: "exclusive", op: "prune", host: "h", pid: 5 });
    expect(openLock(sealer, "0".repeat(32), mem.objects.get(key!)!)).to.equal(undefined);
    expect(openLock(new Sealer(Buffer.alloc(32, 8)), id, mem.objects.get(key!)!)).to.equal(undefined);
    await held.release();
    expect(mem.keys("z/locks/")).to.deep.equal([]);
  });

  it("renews on a timer too (refresh every 20 ms of real time here)", async () => {
    const l = new Locks({ backend: mem, layout: new Layout("t"), sealer: new Sealer(undefined) }, { now: clock.now, lease: 10_000, refresh: 20, margin: 1000, timer: true });
    const held = await l.acquire("shared", "backup");
    const expires = async (): Promise<string> => (await l.list())[0]!.info!.expires;
    const first = await expires();
    clock.advance(5000);
    const deadline = Date.now() + 10_000;
    while ((await expires()) === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(Date.parse(await expires())).to.equal(clock.t + 10_000);
    await held.ensure();
    await held.release();
    expect(await l.list()).to.deep.equal([]);
  });
});
