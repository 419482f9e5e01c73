import { expect } from "chai";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import type { PutBody } from "@dataprotection/storage";
import { Agent, type Io } from "../commands.ts";
import { configFromEnv } from "../env.ts";
import { AgentError } from "../errors.ts";
import type { Manifest } from "../manifest.ts";
import { DedupRepo } from "./repo.ts";
import { MemoryBackend, TINY, collector, failure } from "./test-support.ts";
import { bytesFrom } from "./testdata.ts";
import { snapshotTarget } from "./transparent.ts";

const KEY = "0123456789abcdef".repeat(4);
const A = "uid-a";
const B = "uid-b";
const PREFIX = "ns/.dedup";

describe("DP_DEDUP: the usual commands on the dedup repository (in process)", () => {
  let backend: MemoryBackend;
  const env = (backupPath: string, id?: string, extra: Record<string, string> = {}): Record<string, string> => ({
    DP_REPO_PATH: "/unused", DP_BACKUP_PATH: backupPath, DP_ENCRYPTION_KEY: KEY, DP_DEDUP: "true", ...(id ? { DP_BACKUP_ID: id } : {}), ...extra,
  });
  const agent = (e: Record<string, string>): { agent: Agent; out: string[]; warnings: string[] } => {
    const out: string[] = [];
    const warnings: string[] = [];
    const io: Io = { stdin: () => Readable.from([]), stdout: () => collector().w, print: (l) => out.push(l), warn: (l) => warnings.push(l) };
    return { agent: new Agent(configFromEnv(e), io, backend), out, warnings };
  };
  const data = bytesFrom("dump", 50_000);
  const push = async (backupPath: string, id: string, name = "dump.sql"): Promise<Manifest> =>
    (await agent(env(backupPath, id)).agent.push(name, Readable.from([data]))).manifest!;
  const pull = async (e: Record<string, string>, name = "dump.sql"): Promise<Buffer> => {
    const c = collector();
    await agent(e).agent.pull(name, c.w);
    return c.bytes();
  };
  const snapshotKeys = (): string[] => backend.keys(`${PREFIX}/snapshots/`);
  beforeEach(async () => {
    backend = new MemoryBackend();
    // Created beforehand, so the agents below open it without the creators' settle time.
    await DedupRepo.init(backend, { key: configFromEnv(env("ns/x")).key, prefix: PREFIX, ...TINY });
  });

  it("reads DP_DEDUP strictly: true or 1 on (the repository beside the backup, or DP_DEDUP_PREFIX), empty, false or 0 off, anything else an error naming it", () => {
    expect(configFromEnv(env("ns/b1")).dedup).to.deep.equal({ prefix: "ns/.dedup" });
    expect(configFromEnv(env("ns/b1", undefined, { DP_DEDUP: "1", DP_DEDUP_PREFIX: "/shared/dedup/" })).dedup).to.deep.equal({ prefix: "shared/dedup" });
    for (const off of ["", "false", "0"]) expect(configFromEnv(env("ns/b1", undefined, { DP_DEDUP: off })).dedup, off).to.equal(undefined);
    expect(() => configFromEnv(env("ns/b1", undefined, { DP_DEDUP: "TRUE" }))).to.throw(AgentError, /^DP_DEDUP=TRUE is not true or false/);
  });

  it("targets a snapshot at the object name under the backup path's parent, so the next Backup of the same object finds it as parent", () => {
    expect(snapshotTarget("ns/b1", "dir.dpar")).to.equal("ns/dir.dpar");
    expect(snapshotTarget("ns/prefix/b2", "wal/0001")).to.equal("ns/prefix/wal/0001");
    expect(snapshotTarget("b3", "x")).to.equal("x");
  });

  it("creates the repository once when several pushes find none at the same time: every pod opens the same config", async () => {
    let configWrites = 0;
    const fresh = new (class extends MemoryBackend {
      override put(k: string, body: PutBody): Promise<number> {
        if (k === `${PREFIX}/config`) configWrites++;
        return super.put(k, body);
      }
    })();
    const key = configFromEnv(env("ns/x")).key;
    const repos = await Promise.all([0, 1, 2].map(() => DedupRepo.openOrInit(fresh, { key, prefix: PREFIX, settleMs: 50, ...TINY })));
    expect(configWrites, "every creator found no config and wrote its own").to.equal(3);
    const snaps = await Promise.all(repos.map((r, i) => r.backupStream("s", Readable.from([bytesFrom(i, 10_000)]))));
    const reader = await DedupRepo.open(fresh, { key, prefix: PREFIX });
    for (const [i, s] of snaps.entries()) {
      const c = collector();
      await reader.restoreStream(s.id, c.w);
      expect(c.bytes().equals(bytesFrom(i, 10_000)), `backup ${i}`).to.equal(true);
    }
    expect((await reader.check()).ok).to.equal(true);
  });

  it("rm --all forgets the backup's snapshots, also one no manifest names (a push that died before the manifest), and leaves another backup's", async () => {
    await push("ns/b1", A);
    await push("ns/b2", B);
    // A push of backup A that wrote its snapshot and died before manifest.json.
    const repo = await DedupRepo.open(backend, { key: configFromEnv(env("ns/x")).key, prefix: PREFIX });
    const orphan = await repo.backupStream("dump.sql", Readable.from([bytesFrom("orphan", 5000)]), { backupId: A, target: "ns/dump.sql" });
    expect(snapshotKeys()).to.have.length(3);
    const rm = agent(env("ns/b1", A));
    await rm.agent.rm([], true);
    expect(rm.out).to.have.length(2);
    expect(rm.out.join("\n")).to.contain(`forgot\tsnapshot:${orphan.id}\tns/dump.sql`).and.contain("\tdump.sql\tstream\t");
    expect(backend.keys("ns/b1/")).to.deep.equal([]);
    const left = await DedupRepo.open(backend, { key: configFromEnv(env("ns/x")).key, prefix: PREFIX });
    expect((await left.listSnapshots()).map((s) => s.backupId)).to.deep.equal([B]);
    expect((await pull(env("ns/b2", B))).equals(data)).to.equal(true);
  });

  it("rm NAMES forgets the named objects' snapshots and updates the manifest", async () => {
    await push("ns/b1", A, "a");
    const m = await push("ns/b1", A, "b");
    const r = agent(env("ns/b1", A));
    const res = await r.agent.rm(["a"], false);
    expect(r.out).to.have.length(1);
    expect(r.out[0]).to.match(/^forgot\tsnapshot:[0-9a-f]{32}\ta\t/);
    expect(res.manifest!.files.map((f) => f.name)).to.deep.equal(["b"]);
    expect(snapshotKeys()).to.deep.equal([`${PREFIX}/snapshots/${m.files.find((f) => f.name === "b")!.snapshot}`]);
  });

  it("names the object and its snapshot when the snapshot or a chunk is missing, and without the repository", async () => {
    const m = await push("ns/b1", A);
    const id = m.files[0]!.snapshot!;
    const packs = backend.keys(`${PREFIX}/packs/`);
    const saved = new Map(packs.map((k) => [k, backend.objects.get(k)!]));
    for (const k of packs) backend.objects.delete(k);
    const verify = agent(env("ns/b1", A));
    const chunk = await failure(verify.agent.verify([]));
    expect(chunk).to.match(new RegExp(`^object "dump.sql" \\(dedup snapshot ${id} in memory:/${PREFIX}\\): pack [0-9a-f]{64} is missing`));
    for (const [k, v] of saved) backend.objects.set(k, v);
    backend.objects.delete(`${PREFIX}/snapshots/${id}`);
    expect(await failure(pull(env("ns/b1", A)))).to.equal(`object "dump.sql" (dedup snapshot ${id} in memory:/${PREFIX}): snapshot ${id} not found`);
    await backend.deletePrefix(`${PREFIX}/`);
    expect(await failure(pull(env("ns/b1", A)))).to.match(new RegExp(`^object "dump.sql" is dedup snapshot ${id}, but there is no dedup repository at memory:/${PREFIX}`));
  });

  it("pull-log and prune-log work on archived log files stored as snapshots", async () => {
    const segs = ["000000010000000000000001", "000000010000000000000002", "000000010000000000000003"];
    for (const [i, n] of segs.entries()) {
      await agent(env("ns/log", A)).agent.push(`wal/${n}`, Readable.from([bytesFrom(n, 20_000)]), new Date(Date.UTC(2026, 0, 1, 0, i)));
    }
    const dir = mkdtempSync(join(tmpdir(), "dp-dedup-log-"));
    try {
      await agent(env("ns/log", A)).agent.pullLog(dir, { prefix: "wal/", from: segs[0], until: new Date(Date.UTC(2026, 0, 1, 0, 1, 30)), slackMs: 0 });
      expect(readdirSync(dir).sort()).to.deep.equal(segs);
      for (const n of segs) expect(readFileSync(join(dir, n)).equals(bytesFrom(n, 20_000)), n).to.equal(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    const pruned = agent(env("ns/log", A));
    await pruned.agent.pruneLog("wal/", new Date(Date.UTC(2026, 0, 1, 0, 1, 30)));
    expect(pruned.out.filter((l) => l.startsWith("forgot\t")).map((l) => l.split("\t")[2])).to.deep.equal(segs.slice(0, 2).map((n) => `wal/${n}`));
    expect(snapshotKeys()).to.have.length(1);
  });

  it("checks the sealed snapshot against manifest.json: a manifest pointing at another snapshot of the same backup is refused", async () => {
    await push("ns/b1", A, "a");
    const b = (await agent(env("ns/b1", A)).agent.push("b", Readable.from([bytesFrom("other", 3000)]))).manifest!;
    // Someone who can write the repo points "a" at b's snapshot: the manifest's mac no longer matches,
    // and where the operator's record decides (manifest.json then only says where), the checksum refuses it.
    const raw = JSON.parse(backend.objects.get("ns/b1/manifest.json")!.toString()) as Manifest;
    raw.files.find((f) => f.name === "a")!.snapshot = b.files.find((f) => f.name === "b")!.snapshot;
    backend.objects.set("ns/b1/manifest.json", Buffer.from(JSON.stringify(raw)));
    expect(await failure(pull(env("ns/b1", A), "a"))).to.contain("its mac does not match");
    const recorded = JSON.stringify({ a: `sha256:${raw.files.find((f) => f.name === "a")!.sha256}` });
    expect(await failure(pull({ ...env("ns/b1", A), DP_EXPECT_CHECKSUMS: recorded }, "a"))).to.match(/^object "a" does not match the checksum the Backup recorded \(DP_EXPECT_CHECKSUMS\): sha256 [0-9a-f]{64}, expected [0-9a-f]{64} \(dedup snapshot [0-9a-f]{32}\)$/);
  });
});
