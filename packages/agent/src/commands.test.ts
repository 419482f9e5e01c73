import { expect } from "chai";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { reportText } from "./commands.ts";
import { configFromEnv } from "./env.ts";
import type { Manifest } from "./manifest.ts";
import { agent, failure, type Run } from "./test-agent.ts";

const KEY = "0123456789abcdef".repeat(4);
const A = "4a4a4a4a-0000-4000-8000-00000000000a";
const B = "4b4b4b4b-0000-4000-8000-00000000000b";


describe("dp-agent commands with DP_BACKUP_ID", () => {
  let repo: string;
  let env: Record<string, string>;
  const data = Buffer.from("insert into t values (1);\n".repeat(3000));
  const as = (backupPath: string, extra: Record<string, string> = {}): Run => agent({ ...env, DP_BACKUP_PATH: backupPath, ...extra });
  const push = async (backupPath: string, id: string | undefined, name = "dump.sql"): Promise<Manifest> =>
    (await as(backupPath, id ? { DP_BACKUP_ID: id } : {}).agent.push(name, Readable.from([data]))).manifest!;
  const pulled = async (r: Run, name = "dump.sql"): Promise<Buffer> => {
    const parts: Buffer[] = [];
    await r.agent.pull(name, new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }));
    return Buffer.concat(parts);
  };
  const recorded = (m: Manifest): string => JSON.stringify(Object.fromEntries(m.files.map((f) => [f.name, `sha256:${f.sha256}`])));
  beforeEach(() => {
    repo = mkdtempSync(join(tmpdir(), "dp-cmd-"));
    env = { DP_REPO_PATH: repo, DP_ENCRYPTION_KEY: KEY, DP_CHUNK_SIZE: "4096", DP_COMPRESSION_THREADS: "0" };
  });
  afterEach(() => rmSync(repo, { recursive: true, force: true }));

  it("writes v5 objects and a bound manifest; verify and pull read them back and verify shows the backup", async () => {
    const m = await push("ns/b", B);
    expect(readFileSync(join(repo, "ns/b/dump.sql"))[4]).to.equal(5);
    expect(m).to.include({ backupId: B });
    const r = as("ns/b", { DP_BACKUP_ID: B });
    await r.agent.verify([]);
    expect(r.out).to.have.length(1);
    expect(r.out[0]).to.match(new RegExp(`^ok\tdump\\.sql\t${data.length}\t${m.files[0]!.storedSize}\tsha256:${m.files[0]!.sha256}\tbackup:${B}$`));
    expect((await pulled(as("ns/b", { DP_BACKUP_ID: B }))).equals(data)).to.equal(true);
    // Without DP_BACKUP_ID, as before: bound objects are readable.
    expect((await pulled(as("ns/b"))).equals(data)).to.equal(true);
    const src = join(repo, "src");
    mkdirSync(src);
    writeFileSync(join(src, "f"), data);
    await as("ns/b", { DP_BACKUP_ID: B }).agent.pushDir(src, "dir.dpar");
    const target = join(repo, "restore");
    mkdirSync(target);
    await as("ns/b", { DP_BACKUP_ID: B }).agent.pullDir(target, "dir.dpar");
    expect(readFileSync(join(target, "f")).equals(data)).to.equal(true);
  });

  it("refuses backup A's object copied into backup B's path, in verify and pull, with or without the operator's record", async () => {
    await push("ns/a", A);
    const mb = await push("ns/b", B);
    cpSync(join(repo, "ns/a/dump.sql"), join(repo, "ns/b/dump.sql"));
    const why = `object "dump.sql" belongs to another backup: it was written for backup ${A}, this is backup ${B}`;
    for (const extra of [{}, { DP_EXPECT_CHECKSUMS: recorded(mb) }] as Record<string, string>[]) {
      expect(await failure(as("ns/b", { DP_BACKUP_ID: B, ...extra }).agent.verify([]))).to.contain(why);
      expect(await failure(pulled(as("ns/b", { DP_BACKUP_ID: B, ...extra })))).to.contain(why);
    }
    // pull-dir reads objects the same way.
    const src = join(repo, "src");
    mkdirSync(src);
    writeFileSync(join(src, "f"), data);
    await as("ns/a", { DP_BACKUP_ID: A }).agent.pushDir(src, "dir.dpar");
    cpSync(join(repo, "ns/a/dir.dpar"), join(repo, "ns/b/dir.dpar"));
    const target = join(repo, "restore");
    mkdirSync(target);
    expect(await failure(as("ns/b", { DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: JSON.stringify({ "dir.dpar": `sha256:${"0".repeat(64)}` }) }).agent.pullDir(target, "dir.dpar"))).to.contain(
      'object "dir.dpar" belongs to another backup',
    );
  });

  it("refuses an older backup's objects and manifest restored over a newer one", async () => {
    await push("ns/old", A);
    await push("ns/old", A, "wal.1");
    const newer = await push("ns/new", B);
    rmSync(join(repo, "ns/new"), { recursive: true });
    cpSync(join(repo, "ns/old"), join(repo, "ns/new"), { recursive: true });
    for (const cmd of [(r: Run) => r.agent.verify([]), (r: Run) => pulled(r)]) {
      expect(await failure(cmd(as("ns/new", { DP_BACKUP_ID: B })))).to.contain(`manifest.json of ns/new belongs to another backup: it records backup ${A}, this is backup ${B}`);
      expect(await failure(cmd(as("ns/new", { DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: recorded(newer) })))).to.contain(`object "dump.sql" belongs to another backup`);
    }
    // Rolled back before binding existed: the objects carry no id, the recorded checksum catches them.
    rmSync(join(repo, "ns/old"), { recursive: true });
    await push("ns/old", undefined);
    rmSync(join(repo, "ns/new"), { recursive: true });
    cpSync(join(repo, "ns/old"), join(repo, "ns/new"), { recursive: true });
    expect(await failure(as("ns/new", { DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: recorded(newer) }).agent.verify([]))).to.contain("does not match the checksum the Backup recorded");
    expect(await failure(as("ns/new", { DP_BACKUP_ID: B }).agent.verify([]))).to.contain("manifest.json of ns/new predates backup binding");
  });

  it("refuses a manifest edited in one field, or with its mac removed, when it decides what is verified", async () => {
    await push("ns/b", B);
    await push("ns/b", B, "wal.1");
    const good = readFileSync(join(repo, "ns/b/manifest.json"), "utf8");
    const m = JSON.parse(good) as Manifest & { mac?: string };
    m.files = m.files.filter((f) => f.name !== "wal.1");
    writeFileSync(join(repo, "ns/b/manifest.json"), JSON.stringify(m));
    expect(await failure(as("ns/b", { DP_BACKUP_ID: B }).agent.verify([]))).to.contain("manifest.json of ns/b is not authenticated by this repository's key: its mac does not match");
    // Even when the operator's record decides what is checked, verify of a bound backup refuses the edited manifest.
    const record = recorded(JSON.parse(good) as Manifest);
    expect(await failure(as("ns/b", { DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: record }).agent.verify([]))).to.contain("its mac does not match");
    writeFileSync(join(repo, "ns/b/manifest.json"), good);
    expect(await failure(as("ns/b", { DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: record }).agent.verify([]))).to.equal("succeeded");
    writeFileSync(join(repo, "ns/b/manifest.json"), JSON.stringify(m));
    delete m.mac;
    writeFileSync(join(repo, "ns/b/manifest.json"), JSON.stringify(m));
    expect(await failure(pulled(as("ns/b")))).to.contain("manifest.json of ns/b is not authenticated by this repository's key: it has no mac");
    // ls shows it, with a warning.
    const ls = as("ns/b");
    await ls.agent.ls(false);
    expect(ls.warnings.join()).to.contain("it has no mac");
    expect(ls.out.join("\n")).to.contain("wal.1\tunlisted");
  });

  it("reads a v4 object (written before binding) with DP_BACKUP_ID only when DP_EXPECT_CHECKSUMS names it", async () => {
    const m = await push("ns/old", undefined);
    expect(readFileSync(join(repo, "ns/old/dump.sql"))[4]).to.equal(4);
    const withRecord = as("ns/old", { DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: recorded(m) });
    await withRecord.agent.verify([]);
    expect(withRecord.out[0]).to.match(/^ok\tdump\.sql\t/);
    expect((await pulled(as("ns/old", { DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: recorded(m) }))).equals(data)).to.equal(true);
    // The manifest (without a backup id) is not read when the operator gives its record; without the record both refuse.
    expect(await failure(as("ns/old", { DP_BACKUP_ID: B }).agent.verify(["dump.sql"]))).to.contain("predates backup binding");
    rmSync(join(repo, "ns/old/manifest.json"));
    expect(await failure(pulled(as("ns/old", { DP_BACKUP_ID: B })))).to.contain('object "dump.sql" predates backup binding (format v4, no backup id) and no recorded checksum was given');
  });

  it("takes DP_BACKUP_ID as 1 to 253 characters of [A-Za-z0-9._:/-]", () => {
    const base = { DP_BACKUP_PATH: "ns/b" };
    expect(configFromEnv({ ...base, DP_BACKUP_ID: B }).backupId).to.equal(B);
    expect(configFromEnv({ ...base, DP_BACKUP_ID: "a".repeat(253) }).backupId).to.have.length(253);
    expect(configFromEnv(base).backupId).to.equal(undefined);
    for (const bad of ["", "a".repeat(254), "a b", "ü", "x\n"]) {
      expect(() => configFromEnv({ ...base, DP_BACKUP_ID: bad }), JSON.stringify(bad)).to.throw(/^DP_BACKUP_ID=.* is not a backup id: give 1 to 253 characters/);
    }
  });

  it("prune-log deletes the finished log files pushed before a time, never a partial one nor the newest, and keeps the rest readable", async () => {
    const log = as("ns/log1", { DP_BACKUP_ID: A });
    for (const seg of ["000000010000000000000001", "000000010000000000000002", "000000010000000000000003", "000000010000000000000004.partial"]) {
      await log.agent.push(`wal/${seg}`, Readable.from([data]));
    }
    const all = (await log.agent.pruneLog("wal/", new Date(0))).manifest;
    expect(all, "nothing is older than the epoch").to.equal(undefined);
    const r = as("ns/log1", { DP_BACKUP_ID: A });
    const m = (await r.agent.pruneLog("wal/", new Date(Date.now() + 60_000))).manifest!;
    expect(r.out).to.deep.equal(["pruned\twal/000000010000000000000001", "pruned\twal/000000010000000000000002"]);
    expect(m.files.map((f) => f.name)).to.deep.equal(["wal/000000010000000000000003", "wal/000000010000000000000004.partial"]);
    expect((await pulled(as("ns/log1", { DP_BACKUP_ID: A }), "wal/000000010000000000000003")).equals(data)).to.equal(true);
  });

  it("push records a given stop time (when a finished log file's data ended) instead of the push's end, and the manifest's stop time never moves back", async () => {
    const log = as("ns/log2", { DP_BACKUP_ID: A });
    const partial = (await log.agent.push("wal/000000010000000000000002.partial", Readable.from([data]))).manifest!;
    const ended = new Date(Date.parse(partial.stopTime) - 30_000);
    const m = (await as("ns/log2", { DP_BACKUP_ID: A }).agent.push("wal/000000010000000000000001", Readable.from([data]), ended)).manifest!;
    expect(m.files.find((f) => f.name === "wal/000000010000000000000001")!.stopTime).to.equal(ended.toISOString());
    expect(m.stopTime, "the newest data pushed so far").to.equal(partial.stopTime);
  });

  it("setUserContext merges entries into the bound, authenticated manifest and the report carries them; refused before a push", async () => {
    const ctx = { "apps.3scale.net/databases": '[{"name":"system-database","backupName":"b-system-database","backupPath":"/ns/b-system-database"}]' };
    expect(await failure(as("ns/c", { DP_BACKUP_ID: B }).agent.setUserContext(ctx))).to.contain("backup ns/c has no manifest.json in repo").and.contain("nothing was pushed yet");
    const pushed = await push("ns/c", B);
    const m = (await as("ns/c", { DP_BACKUP_ID: B }).agent.setUserContext(ctx)).manifest!;
    expect(m).to.deep.include({ backupId: B, userContext: ctx, files: pushed.files });
    const onDisk = JSON.parse(readFileSync(join(repo, "ns/c/manifest.json"), "utf8")) as Manifest;
    expect(onDisk.userContext).to.deep.equal(ctx);
    expect(onDisk.mac).to.match(/^[0-9a-f]{64}$/);
    const report = JSON.parse(reportText({ manifest: m })!) as Record<string, unknown>;
    expect(report).to.deep.include({ userContext: ctx, backupId: B, filePath: "ns/c" });
    // Merged, kept by later pushes, and read back authenticated.
    await as("ns/c", { DP_BACKUP_ID: B }).agent.setUserContext({ other: "1" });
    await push("ns/c", B, "wal.1");
    const r = as("ns/c", { DP_BACKUP_ID: B });
    await r.agent.ls(true);
    expect((JSON.parse(r.out.join("\n")) as { manifest: Manifest }).manifest.userContext).to.deep.equal({ ...ctx, other: "1" });
    expect(r.warnings).to.deep.equal([]);
    await as("ns/c", { DP_BACKUP_ID: B }).agent.verify([]);
    // Another backup's manifest, and entries beyond the limits, are refused.
    expect(await failure(as("ns/c", { DP_BACKUP_ID: A }).agent.setUserContext({ k: "v" }))).to.contain("belongs to another backup");
    expect(await failure(as("ns/c", { DP_BACKUP_ID: B }).agent.setUserContext({ "bad key": "v" }))).to.contain("is not 1-63 characters");
  });
});
