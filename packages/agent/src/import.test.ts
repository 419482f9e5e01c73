import { expect } from "chai";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { reportText } from "./commands.ts";
import { DedupRepo } from "./dedup/repo.ts";
import { MemoryBackend, TINY } from "./dedup/test-support.ts";
import { configFromEnv } from "./env.ts";
import type { Manifest } from "./manifest.ts";
import type { TerminationReport } from "./termination.ts";
import { agent, failure, type Run } from "./test-agent.ts";

const KEY = "0123456789abcdef".repeat(4);
const A = "uid-a";
const B = "uid-b";
const TOOL = "pg-basebackup";


const report = (m: Manifest | undefined): TerminationReport => JSON.parse(reportText({ manifest: m })!) as TerminationReport;

/** What the report must say of the manifest's objects: each with its stored size and checksum. */
const filesOf = (m: Manifest): { name: string; size: number; checksum: string }[] => m.files.map((f) => ({ name: f.name, size: f.storedSize, checksum: `sha256:${f.sha256}` }));

describe("dp-agent import", () => {
  const data = Buffer.from("insert into t values (1);\n".repeat(3000));

  describe("over a filesystem repo", () => {
    let repo: string;
    let env: Record<string, string>;
    const as = (backupPath: string, extra: Record<string, string> = {}): Run => agent({ ...env, DP_BACKUP_PATH: backupPath, ...extra });
    const push = async (backupPath: string, id: string | undefined, name = "dump.sql", extra: Record<string, string> = {}): Promise<Manifest> =>
      (await as(backupPath, { ...(id ? { DP_BACKUP_ID: id } : {}), ...extra }).agent.push(name, Readable.from([data]))).manifest!;
    const pushDir = async (backupPath: string, id: string, extra: Record<string, string> = {}): Promise<Manifest> => {
      const src = mkdtempSync(join(repo, "src-"));
      writeFileSync(join(src, "f"), data);
      mkdirSync(join(src, "sub"));
      writeFileSync(join(src, "sub", "g"), "g\n");
      return (await as(backupPath, { DP_BACKUP_ID: id, ...extra }).agent.pushDir(src, "dir.dpar")).manifest!;
    };
    const manifestAt = (backupPath: string): Manifest & Record<string, unknown> => JSON.parse(readFileSync(join(repo, backupPath, "manifest.json"), "utf8")) as Manifest & Record<string, unknown>;
    const rewrite = (backupPath: string, m: Manifest): void => writeFileSync(join(repo, backupPath, "manifest.json"), JSON.stringify(m, null, 2));
    beforeEach(() => {
      repo = mkdtempSync(join(tmpdir(), "dp-import-"));
      env = { DP_REPO_PATH: repo, DP_ENCRYPTION_KEY: KEY, DP_CHUNK_SIZE: "4096", DP_COMPRESSION_THREADS: "0" };
    });
    afterEach(() => rmSync(repo, { recursive: true, force: true }));

    it("verifies a bound, authenticated backup with no DP_BACKUP_ID and reports it with its backup id, tool and files", async () => {
      await push("ns-a/b1", A, "dump.sql", { DP_TOOL: TOOL });
      const written = await pushDir("ns-a/b1", A, { DP_TOOL: TOOL });
      const r = as("ns-a/b1");
      const m = (await r.agent.importBackup()).manifest;
      expect(m).to.deep.equal(written);
      expect(m).to.include({ backupId: A, tool: TOOL, backupPath: "ns-a/b1" });
      expect(r.warnings).to.deep.equal([]);
      expect(r.out).to.have.length(3);
      const [dir, dump] = written.files;
      expect(r.out[0]).to.match(new RegExp(`^ok\tdir\\.dpar\t${dir!.size}\t${dir!.storedSize}\tsha256:${dir!.sha256}\tbackup:${A}$`));
      expect(r.out[1]).to.equal(`ok\tdump.sql\t${data.length}\t${dump!.storedSize}\tsha256:${dump!.sha256}\tbackup:${A}`);
      expect(r.out[2]).to.equal(`imported\tns-a/b1\tbackup:${A}\t2 objects\t${written.storedSize} bytes`);
      const rep = report(m);
      expect(rep).to.deep.equal({
        totalSize: written.storedSize,
        dataSize: written.totalSize,
        checksum: rep.checksum,
        files: filesOf(written),
        filePath: "ns-a/b1",
        backupId: A,
        tool: TOOL,
      });
      expect(rep.checksum).to.match(/^sha256:[0-9a-f]{64}$/);
      // DP_BACKUP_PATH as the operator may spell it; DP_BACKUP_ID when set must be the manifest's.
      expect(await failure(as("/ns-a/b1/").agent.importBackup())).to.equal("succeeded");
      expect(await failure(as("ns-a/b1", { DP_BACKUP_ID: A }).agent.importBackup())).to.equal("succeeded");
      expect(await failure(as("ns-a/b1", { DP_BACKUP_ID: B }).agent.importBackup())).to.contain(`manifest.json of ns-a/b1 belongs to another backup: it records backup ${A}, this is backup ${B}`);
    });

    it("reports the user context the writer recorded, authenticated", async () => {
      await push("ns-a/b1", A, "dump.sql", { DP_TOOL: TOOL });
      const ctx = { "apps.3scale.net/databases": '[{"name":"zync-database","backupName":"b-zync-database","backupPath":"/ns-a/b-zync-database"}]' };
      await as("ns-a/b1", { DP_BACKUP_ID: A }).agent.setUserContext(ctx);
      const m = (await as("ns-a/b1").agent.importBackup()).manifest;
      expect(m?.userContext).to.deep.equal(ctx);
      expect(report(m)).to.deep.include({ userContext: ctx, backupId: A, tool: TOOL });
      // Edited: the mac no longer matches.
      rewrite("ns-a/b1", { ...manifestAt("ns-a/b1"), userContext: { ...ctx, "apps.3scale.net/databases": "[]" } });
      expect(await failure(as("ns-a/b1").agent.importBackup())).to.contain("its mac does not match");
    });

    it("reports no tool when the writer had no DP_TOOL", async () => {
      await push("ns-a/b1", A);
      const rep = report((await as("ns-a/b1").agent.importBackup()).manifest);
      expect(rep).to.not.have.property("tool");
      expect(rep).to.include({ backupId: A, filePath: "ns-a/b1" });
    });

    it("refuses a path with no manifest: nothing to import", async () => {
      await push("ns-a/b1", A);
      rmSync(join(repo, "ns-a/b1/manifest.json"));
      for (const path of ["ns-a/b1", "ns-a/none"]) {
        expect(await failure(as(path).agent.importBackup())).to.contain(`no backup at ${path} in repo ${repo}`).and.to.contain("nothing to import");
      }
    });

    it("refuses a manifest copied to another path, even with its objects", async () => {
      await push("ns-a/b1", A);
      cpSync(join(repo, "ns-a/b1"), join(repo, "ns-b/b1"), { recursive: true });
      expect(await failure(as("ns-b/b1").agent.importBackup())).to.contain('manifest.json of ns-b/b1 records backup path "ns-a/b1", not ns-b/b1: it was copied from another backup\'s path');
    });

    it("refuses a manifest edited in one field, or with its mac removed, with a key", async () => {
      await push("ns-a/b1", A, "dump.sql", { DP_TOOL: TOOL });
      const good = manifestAt("ns-a/b1");
      rewrite("ns-a/b1", { ...good, tool: "other-tool" });
      expect(await failure(as("ns-a/b1").agent.importBackup())).to.contain("manifest.json of ns-a/b1 is not authenticated by this repository's key: its mac does not match");
      // Moved to another path, with backupPath rewritten to match: the mac no longer does.
      cpSync(join(repo, "ns-a/b1"), join(repo, "ns-b/b1"), { recursive: true });
      rewrite("ns-b/b1", { ...good, backupPath: "ns-b/b1" });
      expect(await failure(as("ns-b/b1").agent.importBackup())).to.contain("its mac does not match");
      const { mac: _, ...stripped } = good;
      rewrite("ns-a/b1", stripped as Manifest);
      expect(await failure(as("ns-a/b1").agent.importBackup())).to.contain("manifest.json of ns-a/b1 is not authenticated by this repository's key: it has no mac");
      // Another key.
      rewrite("ns-a/b1", good);
      expect(await failure(as("ns-a/b1", { DP_ENCRYPTION_KEY: "fe".repeat(32) }).agent.importBackup())).to.contain("it was written with another key");
      expect(await failure(as("ns-a/b1").agent.importBackup())).to.equal("succeeded");
    });

    it("refuses a manifest that records no backup id (written before backup binding), authenticated or from before authentication", async () => {
      await push("ns-old/b1", undefined);
      const m = manifestAt("ns-old/b1");
      expect(m.mac).to.be.a("string");
      expect(m).to.not.have.property("backupId");
      const why = "manifest.json of ns-old/b1 predates backup binding (it records no backup id), so its objects cannot show they belong to it: it cannot be imported; restore it where it was made";
      expect(await failure(as("ns-old/b1").agent.importBackup())).to.contain(why);
      // From before authenticated manifests too (no mac, macSalt, macKeyCheck): refused, without the warning that trusts it for a restore.
      const { mac: _m, macSalt: _s, macKeyCheck: _k, ...legacy } = m;
      rewrite("ns-old/b1", legacy as Manifest);
      const r = as("ns-old/b1");
      expect(await failure(r.agent.importBackup())).to.contain(why);
      expect(r.warnings).to.deep.equal([]);
      // Unencrypted too.
      await push("ns-old/b2", undefined, "dump.sql", { DP_ENCRYPTION_KEY: "" });
      expect(await failure(as("ns-old/b2", { DP_ENCRYPTION_KEY: "" }).agent.importBackup())).to.contain("manifest.json of ns-old/b2 predates backup binding");
    });

    it("refuses an object of another backup swapped in under the same name", async () => {
      await push("ns-a/b1", A);
      await push("ns-a/b1", A, "wal.1");
      await push("ns-x/b2", B);
      cpSync(join(repo, "ns-x/b2/dump.sql"), join(repo, "ns-a/b1/dump.sql"));
      const r = as("ns-a/b1");
      const err = await failure(r.agent.importBackup());
      expect(err).to.contain(`cannot import backup ns-a/b1 (backup ${A}, as its manifest.json records): object "dump.sql" belongs to another backup: it was written for backup ${B}, this is backup ${A}`);
      expect(r.out.some((l) => l.startsWith("imported"))).to.equal(false);
      // A push-dir object too.
      await pushDir("ns-a/b3", A);
      await pushDir("ns-x/b4", B);
      cpSync(join(repo, "ns-x/b4/dir.dpar"), join(repo, "ns-a/b3/dir.dpar"));
      expect(await failure(as("ns-a/b3").agent.importBackup())).to.contain(`object "dir.dpar" belongs to another backup: it was written for backup ${B}`);
      // And a missing one.
      rmSync(join(repo, "ns-x/b2/dump.sql"));
      expect(await failure(as("ns-x/b2").agent.importBackup())).to.contain('object "dump.sql" not found in backup ns-x/b2');
    });

    it("refuses DP_EXPECT_CHECKSUMS: the manifest is what an import checks against", async () => {
      const m = await push("ns-a/b1", A);
      const record = JSON.stringify({ "dump.sql": `sha256:${m.files[0]!.sha256}` });
      expect(await failure(as("ns-a/b1", { DP_EXPECT_CHECKSUMS: record }).agent.importBackup())).to.contain("DP_EXPECT_CHECKSUMS");
    });

    it("imports from an unencrypted repo with a warning that its manifest cannot prove who wrote it, and still checks path and objects", async () => {
      env = { ...env, DP_ENCRYPTION_KEY: "" };
      await push("ns-a/b1", A, "dump.sql", { DP_TOOL: TOOL });
      const r = as("ns-a/b1");
      const m = (await r.agent.importBackup()).manifest;
      expect(m).to.include({ backupId: A, tool: TOOL });
      expect(r.warnings).to.have.length(1);
      expect(r.warnings[0]).to.contain("the repository is not encrypted").and.to.contain("manifest.json of ns-a/b1 cannot prove who wrote it");
      expect(r.out.at(-1)).to.equal(`imported\tns-a/b1\tbackup:${A}\t1 objects\t${m!.storedSize} bytes`);
      expect(report(m)).to.include({ backupId: A, tool: TOOL, filePath: "ns-a/b1" });
      cpSync(join(repo, "ns-a/b1"), join(repo, "ns-b/b1"), { recursive: true });
      expect(await failure(as("ns-b/b1").agent.importBackup())).to.contain('records backup path "ns-a/b1", not ns-b/b1');
      await push("ns-x/b2", B);
      cpSync(join(repo, "ns-x/b2/dump.sql"), join(repo, "ns-a/b1/dump.sql"));
      expect(await failure(as("ns-a/b1").agent.importBackup())).to.contain(`object "dump.sql" belongs to another backup: it was written for backup ${B}`);
    });

    it("refuses an unencrypted manifest that is not what a writer records", async () => {
      env = { ...env, DP_ENCRYPTION_KEY: "" };
      const good = await push("ns-a/b1", A);
      const cases: [Manifest, string][] = [
        [{ ...good, files: [] }, "lists no objects: nothing to import"],
        [{ ...good, files: [{ ...good.files[0]!, sha256: "x" }] }, 'has no sha256 checksum for object "dump.sql"'],
        [{ ...good, files: [good.files[0]!, good.files[0]!] }, 'lists object "dump.sql" twice'],
        [{ ...good, storedSize: good.storedSize + 1 }, "has totals that are not the sums of its objects'"],
        [{ ...good, files: [{ ...good.files[0]!, name: "../x" }], backupId: A }, 'invalid object name "../x"'],
        [{ ...good, backupId: "a b" }, 'records backup id "a b", which is not a backup id'],
        [{ ...good, userContext: "k=v" } as unknown as Manifest, "records a user context that is not a map of strings"],
        [{ ...good, userContext: ["v"] } as unknown as Manifest, "records a user context that is not a map of strings"],
        [{ ...good, userContext: { k: 1 } } as unknown as Manifest, "records a user context that is not a map of strings"],
        [{ ...good, userContext: { k: { v: "x" } } } as unknown as Manifest, "records a user context that is not a map of strings"],
        [{ ...good, userContext: null } as unknown as Manifest, "records a user context that is not a map of strings"],
      ];
      for (const [m, why] of cases) {
        rewrite("ns-a/b1", m);
        expect(await failure(as("ns-a/b1").agent.importBackup()), why).to.contain(why);
      }
      // A string map is taken.
      rewrite("ns-a/b1", { ...good, userContext: { k: "v" } });
      expect(report((await as("ns-a/b1").agent.importBackup()).manifest).userContext).to.deep.equal({ k: "v" });
    });
  });

  describe("dedup snapshots (DP_DEDUP)", () => {
    let backend: MemoryBackend;
    const env = (backupPath: string, extra: Record<string, string> = {}): Record<string, string> => ({ DP_REPO_PATH: "/unused", DP_BACKUP_PATH: backupPath, DP_ENCRYPTION_KEY: KEY, DP_DEDUP: "true", ...extra });
    const run = (backupPath: string, extra: Record<string, string> = {}): Run => agent(env(backupPath, extra), backend);
    const init = async (key: boolean): Promise<void> => {
      backend = new MemoryBackend();
      // Created beforehand, so the agents below open it without the creators' settle time.
      await DedupRepo.init(backend, { key: key ? configFromEnv(env("ns/x")).key : undefined, prefix: "ns/.dedup", ...TINY });
    };
    const push = async (backupPath: string, id: string, extra: Record<string, string> = {}): Promise<Manifest> => {
      await run(backupPath, { DP_BACKUP_ID: id, DP_TOOL: TOOL, ...extra }).agent.push("dump.sql", Readable.from([data]));
      return (await run(backupPath, { DP_BACKUP_ID: id, DP_TOOL: TOOL, ...extra }).agent.push("wal.1", Readable.from([data.subarray(0, 1000)]))).manifest!;
    };

    it("verifies every snapshot the manifest names as the manifest's backup's, with DP_DEDUP or without", async () => {
      await init(true);
      const written = await push("ns/b1", A);
      expect(written.files.every((f) => f.snapshot !== undefined)).to.equal(true);
      for (const extra of [{}, { DP_DEDUP: "" }] as Record<string, string>[]) {
        const r = run("ns/b1", extra);
        const m = (await r.agent.importBackup()).manifest;
        expect(m).to.deep.equal(written);
        expect(r.out.slice(0, 2)).to.deep.equal(written.files.map((f) => `ok\t${f.name}\t${f.size}\t${f.storedSize}\tsha256:${f.sha256}\tbackup:${A}`));
        expect(r.out[2]).to.equal(`imported\tns/b1\tbackup:${A}\t2 objects\t${written.storedSize} bytes`);
        expect(report(m)).to.deep.include({ backupId: A, tool: TOOL, filePath: "ns/b1", files: filesOf(written) });
      }
    });

    it("refuses another backup's snapshot named in an unencrypted manifest", async () => {
      await init(false);
      const noKey = { DP_ENCRYPTION_KEY: "" };
      const mine = await push("ns/b1", A, noKey);
      const theirs = await push("ns/b2", B, noKey);
      const swapped: Manifest = { ...mine, files: [theirs.files.find((f) => f.name === "dump.sql")!, mine.files.find((f) => f.name === "wal.1")!] };
      swapped.totalSize = swapped.files.reduce((s, f) => s + f.size, 0);
      swapped.storedSize = swapped.files.reduce((s, f) => s + f.storedSize, 0);
      await backend.put("ns/b1/manifest.json", Buffer.from(JSON.stringify(swapped)));
      const err = await failure(run("ns/b1", noKey).agent.importBackup());
      expect(err).to.contain(`cannot import backup ns/b1 (backup ${A}, as its manifest.json records)`).and.to.contain(`belongs to another backup: it records backup ${B}, this is backup ${A}`);
    });
  });
});
