import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { agentBin, dpAgent, storedTagChecksum, treeDigest } from "./helpers.ts";

const KEY = "0123456789abcdef".repeat(4);

describe("dp-agent round trips (must show 1)", function () {
  this.timeout(600_000);
  let work: string;
  let env: Record<string, string>;
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "dp-agent-"));
    mkdirSync(join(work, "repo"));
    env = { DP_REPO_PATH: join(work, "repo"), DP_BACKUP_PATH: "ns/b1", DP_ENCRYPTION_KEY: KEY, DP_TERMINATION_MESSAGE_PATH: join(work, "term") };
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  for (const size of [0, 1]) {
    it(`pushes and pulls ${size} B byte-identically and reports it in the termination message`, () => {
      const data = Buffer.alloc(size, 7);
      const push = dpAgent(["push", "f"], env, data);
      expect(push.status, push.stderr).to.equal(0);
      const report = JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { totalSize: number; checksum: string; files: unknown[] };
      const stored = readFileSync(join(env.DP_REPO_PATH, "ns/b1/f"));
      expect(report.files).to.deep.equal([{ name: "f", size: stored.length, checksum: report.checksum }]);
      expect(stored[4], "format version").to.equal(4);
      expect(report.checksum).to.equal(`sha256:${storedTagChecksum(stored)}`);
      // No data frame, no tag: the checksum of nothing.
      if (size === 0) expect(report.checksum).to.equal(`sha256:${createHash("sha256").digest("hex")}`);
      expect(report.totalSize).to.equal(stored.length);
      const pull = dpAgent(["pull", "f"], env);
      expect(pull.status, pull.stderr).to.equal(0);
      expect(pull.stdout.equals(data)).to.equal(true);
      expect(dpAgent(["verify"], env).status).to.equal(0);
    });
  }

  it("pull-log writes each archived segment byte-identical, leaves no temporary file, and removes the one it was writing when a segment is corrupt", () => {
    const segs = Array.from({ length: 5 }, (_, i) => ({ name: `00000001000000000000000${i + 1}`, data: Buffer.from(`wal record ${i} `.repeat(120_000 + i)) }));
    for (const [i, s] of segs.entries()) {
      const push = dpAgent(["push", `wal/${s.name}`, "--stop-time", `2026-01-01T00:0${i}:00Z`], env, s.data);
      expect(push.status, push.stderr).to.equal(0);
    }
    const out = join(work, "out");
    mkdirSync(out);
    const pull = dpAgent(["pull-log", out, "--from", segs[0]!.name, "--until", "2026-01-01T00:03:30Z", "--slack", "10"], env);
    expect(pull.status, pull.stderr).to.equal(0);
    // Up to the first segment that ends after the target.
    expect(readdirSync(out).sort()).to.deep.equal(segs.slice(0, 5).map((s) => s.name));
    for (const s of segs) expect(readFileSync(join(out, s.name)).equals(s.data), s.name).to.equal(true);
    const stored = join(env.DP_REPO_PATH, "ns/b1/wal", segs[2]!.name);
    const bytes = readFileSync(stored);
    bytes[bytes.length - 200] ^= 1;
    writeFileSync(stored, bytes);
    rmSync(out, { recursive: true });
    mkdirSync(out);
    const bad = dpAgent(["pull-log", out, "--from", segs[0]!.name, "--until", "2026-01-01T00:03:30Z", "--slack", "10"], env);
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.contain(`wal/${segs[2]!.name}`);
    // Two are fetched at once: the one after the corrupt one may be there too; nothing partial is.
    const left = readdirSync(out).sort();
    expect(left.slice(0, 2), "the segments before the corrupt one").to.deep.equal(segs.slice(0, 2).map((s) => s.name));
    expect(left, "not the corrupt one, nothing partial").to.not.include(segs[2]!.name);
    expect(left.filter((n) => n.endsWith(".dp-tmp"))).to.deep.equal([]);
  });

  it("ends quietly with status 141 when its reader goes away, as tools ended by SIGPIPE do", () => {
    expect(dpAgent(["push", "f"], env, Buffer.alloc(8 << 20, 1)).status).to.equal(0);
    const r = spawnSync("bash", ["-c", `"$0" pull f | head -c 10 >/dev/null; echo "\${PIPESTATUS[0]}"`, agentBin], { env: { ...process.env, ...env }, encoding: "utf8" });
    expect(r.stdout.trim()).to.equal("141");
    expect(r.stderr).to.equal("");
  });

  it("writes format v3 with DP_CHECKSUM=sha256-chunked (1 B: its plain sha256), reads it back, and refuses an unknown checksum", () => {
    const data = Buffer.from("x");
    const push = dpAgent(["push", "f"], { ...env, DP_CHECKSUM: "sha256-chunked" }, data);
    expect(push.status, push.stderr).to.equal(0);
    expect(readFileSync(join(env.DP_REPO_PATH, "ns/b1/f"))[4], "format version").to.equal(3);
    const report = JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { checksum: string };
    expect(report.checksum).to.equal(`sha256:${createHash("sha256").update(data).digest("hex")}`);
    const manifest = JSON.parse(readFileSync(join(env.DP_REPO_PATH, "ns/b1/manifest.json"), "utf8")) as { files: { checksumAlgorithm: string }[] };
    expect(manifest.files[0].checksumAlgorithm).to.equal("sha256-chunked");
    const pull = dpAgent(["pull", "f"], env);
    expect(pull.status, pull.stderr).to.equal(0);
    expect(pull.stdout.equals(data)).to.equal(true);
    expect(dpAgent(["verify"], env).status).to.equal(0);
    const bad = dpAgent(["push", "g"], { ...env, DP_CHECKSUM: "md5" }, data);
    expect(bad.status).to.not.equal(0);
    expect(bad.stderr).to.contain("DP_CHECKSUM=md5 is not supported: use sha256-tags or sha256-chunked");
  });

  it("round-trips a 1 GiB sparse file with modes and symlinks, keeping it sparse", () => {
    const src = join(work, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    const sparse = join(src, "d/sparse.img");
    const fd = openSync(sparse, "w");
    writeSync(fd, Buffer.from("head"), 0, 4, 0);
    writeSync(fd, Buffer.from("middle"), 0, 6, 512 * 1024 * 1024 + 3);
    closeSync(fd);
    truncateSync(sparse, 1024 ** 3);
    chmodSync(sparse, 0o600);
    symlinkSync("d/sparse.img", join(src, "link"));
    const pushed = dpAgent(["push-dir", src], env);
    expect(pushed.status, pushed.stderr).to.equal(0);
    expect(statSync(join(env.DP_REPO_PATH, "ns/b1/dir.dpar")).size).to.be.lessThan(1 << 20);
    const dst = join(work, "dst");
    const pulled = dpAgent(["pull-dir", dst], env);
    expect(pulled.status, pulled.stderr).to.equal(0);
    const restored = statSync(join(dst, "d/sparse.img"));
    expect(restored.size).to.equal(1024 ** 3);
    expect(restored.blocks * 512, "restored file stays sparse").to.be.lessThan(8 << 20);
    expect(treeDigest(dst)).to.equal(treeDigest(src));
  });

  it("round-trips 100,000 small files with modes, mtimes and symlinks", () => {
    const src = join(work, "src");
    for (let d = 0; d < 100; d++) {
      const dir = join(src, `d${d}`);
      mkdirSync(dir, { recursive: true });
      for (let f = 0; f < 1000; f++) {
        const p = join(dir, `f${f}`);
        if (f % 100 === 99) symlinkSync(`f${f - 1}`, p);
        else {
          writeFileSync(p, `file ${d}/${f}\n`.repeat(f % 7), { mode: f % 3 === 0 ? 0o755 : 0o640 });
          utimesSync(p, 1_700_000_000 + f, 1_700_000_000 + f);
        }
      }
      chmodSync(dir, d % 2 ? 0o750 : 0o555);
    }
    const pushed = dpAgent(["push-dir", src, "--name", "files"], env);
    expect(pushed.status, pushed.stderr).to.equal(0);
    const dst = join(work, "dst");
    const pulled = dpAgent(["pull-dir", dst, "--name", "files"], env);
    expect(pulled.status, pulled.stderr).to.equal(0);
    expect(readdirSync(join(dst, "d7")).length).to.equal(1000);
    expect(treeDigest(dst)).to.equal(treeDigest(src));
    for (let d = 0; d < 100; d++) chmodSync(join(src, `d${d}`), 0o755);
    for (let d = 0; d < 100; d++) chmodSync(join(dst, `d${d}`), 0o755);
  });
});

describe("dp-agent with DP_DEDUP=true: the usual commands on the dedup repository", function () {
  this.timeout(600_000);
  const A = "4a4a4a4a-0000-4000-8000-00000000000a";
  const B = "4b4b4b4b-0000-4000-8000-00000000000b";
  let work: string;
  let repo: string;
  let base: Record<string, string>;
  const envA = (): Record<string, string> => ({ ...base, DP_BACKUP_PATH: "ns/b1", DP_BACKUP_ID: A });
  const envB = (): Record<string, string> => ({ ...base, DP_BACKUP_PATH: "ns/b2", DP_BACKUP_ID: B });
  const ok = (r: { status: number | null; stderr: string }): void => {
    expect(r.status, r.stderr).to.equal(0);
  };
  type Entry = { name: string; size: number; storedSize: number; sha256: string; checksumAlgorithm: string; snapshot?: string };
  const manifestOf = (path: string): { files: Entry[] } => JSON.parse(readFileSync(join(repo, path, "manifest.json"), "utf8")) as { files: Entry[] };
  const entry = (path: string, name: string): Entry => manifestOf(path).files.find((f) => f.name === name)!;
  const recorded = (path: string): string => JSON.stringify(Object.fromEntries(manifestOf(path).files.map((f) => [f.name, `sha256:${f.sha256}`])));
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "dp-agent-dedup-"));
    repo = join(work, "repo");
    mkdirSync(repo);
    base = { DP_REPO_PATH: repo, DP_ENCRYPTION_KEY: KEY, DP_DEDUP: "true", DP_TERMINATION_MESSAGE_PATH: join(work, "term") };
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  /** A tree of six 4 MiB random files, small files with modes and mtimes, a symlink and an empty directory. */
  function makeTree(src: string): void {
    mkdirSync(join(src, "d"), { recursive: true });
    mkdirSync(join(src, "empty"), { mode: 0o700 });
    for (let i = 0; i < 6; i++) writeFileSync(join(src, `big${i}.bin`), randomBytes(4 << 20));
    writeFileSync(join(src, "d/conf.txt"), "max_connections = 100\n", { mode: 0o600 });
    writeFileSync(join(src, "d/run.sh"), "#!/bin/sh\nexec db\n", { mode: 0o755 });
    symlinkSync("d/conf.txt", join(src, "conf"));
    utimesSync(join(src, "d/conf.txt"), 1_700_000_000, 1_700_000_000);
  }

  it("stores push and push-dir as snapshots, dedups the next backup, restores both byte-identical, refuses a wrong checksum or backup, and rm --all + prune keep the other backup whole", () => {
    const src = join(work, "src");
    makeTree(src);
    const streamA = Buffer.concat([randomBytes(3 << 20), Buffer.from("-- end of dump\n")]);

    // Backup A.
    ok(dpAgent(["push", "dump.sql"], envA(), streamA));
    ok(dpAgent(["push-dir", src, "--name", "files"], envA()));
    const digestA = treeDigest(src);
    const files = entry("ns/b1", "files");
    const entry0A = { dump: entry("ns/b1", "dump.sql").snapshot! };
    expect(files).to.include({ checksumAlgorithm: "dedup-snapshot" });
    expect(files.snapshot).to.match(/^[0-9a-f]{32}$/);
    expect(existsSync(join(repo, "ns/b1/files")), "no object: the data is in the dedup repository").to.equal(false);
    // The termination message carries the sha256 of the sealed snapshot object, as for any object.
    const sealed = readFileSync(join(repo, "ns/.dedup/snapshots", files.snapshot!));
    const report = JSON.parse(readFileSync(base.DP_TERMINATION_MESSAGE_PATH!, "utf8")) as { files: { name: string; checksum: string }[] };
    expect(report.files.find((f) => f.name === "files")!.checksum).to.equal(`sha256:${createHash("sha256").update(sealed).digest("hex")}`);
    expect(dpAgent(["ls"], envA()).stdout.toString()).to.contain(`files\tdirectory\t`).and.contain(`snapshot:${files.snapshot}`);

    // Backup B: the same data slightly changed.
    writeFileSync(join(src, "d/conf.txt"), "max_connections = 200\n");
    const fd = openSync(join(src, "big3.bin"), "r+");
    writeSync(fd, Buffer.from("changed"), 0, 7, 2 << 20);
    closeSync(fd);
    writeFileSync(join(src, "d/new.txt"), "a new file\n");
    const streamB = Buffer.from(streamA);
    streamB.write("changed", 1 << 20);
    ok(dpAgent(["push", "dump.sql"], envB(), streamB));
    ok(dpAgent(["push-dir", src, "--name", "files"], envB()));
    const digestB = treeDigest(src);
    expect(entry("ns/b2", "files").storedSize, "B stores far fewer new bytes").to.be.lessThan(entry("ns/b1", "files").storedSize * 0.2);

    // Both restore byte-identical; verify reads every chunk.
    const restore = (env: Record<string, string>, stream: Buffer, digest: string, dst: string): void => {
      const pull = dpAgent(["pull", "dump.sql"], env);
      ok(pull);
      expect(pull.stdout.equals(stream)).to.equal(true);
      ok(dpAgent(["pull-dir", join(work, dst), "--name", "files"], env));
      expect(treeDigest(join(work, dst))).to.equal(digest);
      const verify = dpAgent(["verify"], env);
      ok(verify);
      expect(verify.stdout.toString().trim().split("\n").map((l) => l.split("\t")[0])).to.deep.equal(["ok", "ok"]);
    };
    restore(envA(), streamA, digestA, "dstA");
    restore(envB(), streamB, digestB, "dstB1");

    // The operator's record decides: the right one reads, a wrong one is refused before a byte is written.
    const expectA = recorded("ns/b1");
    ok(dpAgent(["verify"], { ...envA(), DP_EXPECT_CHECKSUMS: expectA }));
    const pulled = dpAgent(["pull", "dump.sql"], { ...envA(), DP_EXPECT_CHECKSUMS: expectA });
    ok(pulled);
    expect(pulled.stdout.equals(streamA)).to.equal(true);
    const wrong = dpAgent(["pull", "dump.sql"], { ...envA(), DP_EXPECT_CHECKSUMS: JSON.stringify({ "dump.sql": `sha256:${"0".repeat(64)}` }) });
    expect(wrong.status).to.equal(1);
    expect(wrong.stderr).to.contain('object "dump.sql" does not match the checksum the Backup recorded (DP_EXPECT_CHECKSUMS)');
    expect(wrong.stdout.length, "nothing released").to.equal(0);
    // B's record for A's objects (the snapshots are A's, not B's): refused on the checksum.
    const swapped = dpAgent(["pull-dir", join(work, "dstX"), "--name", "files"], { ...envA(), DP_EXPECT_CHECKSUMS: recorded("ns/b2") });
    expect(swapped.stderr).to.contain("does not match");
    // Another backup's id: refused on the manifest, and on the snapshot's binding when the record decides.
    expect(dpAgent(["pull", "dump.sql"], { ...envA(), DP_BACKUP_ID: B }).stderr).to.contain("belongs to another backup");
    const bound = dpAgent(["verify", "files"], { ...envA(), DP_BACKUP_ID: B, DP_EXPECT_CHECKSUMS: expectA });
    expect(bound.status).to.equal(1);
    expect(bound.stderr).to.match(/object "files" \(dedup snapshot [0-9a-f]{32} in .*\): snapshot [0-9a-f]{32} belongs to another backup/);

    // rm --all forgets A's snapshots; prune frees what only they used; B stays whole.
    const rm = dpAgent(["rm", "--all"], envA());
    ok(rm);
    const forgot = rm.stdout.toString().trim().split("\n");
    expect(forgot.map((l) => l.split("\t").slice(0, 3).join("\t")).sort()).to.deep.equal([`forgot\tsnapshot:${entry0A.dump}\tdump.sql`, `forgot\tsnapshot:${files.snapshot}\tfiles`].sort());
    expect(existsSync(join(repo, "ns/b1"))).to.equal(false);
    const dedupEnv = { ...base, DP_BACKUP_PATH: "ns/b1" };
    const prune = dpAgent(["dedup", "prune", "--repack-threshold", "0"], dedupEnv);
    ok(prune);
    expect(prune.stdout.toString()).to.match(/^pruned\t2 snapshots\t/);
    const check = dpAgent(["dedup", "check"], dedupEnv);
    ok(check);
    expect(check.stdout.toString()).to.match(/^ok\t2 snapshots\t.*\t0 leftovers\n$/);
    restore(envB(), streamB, digestB, "dstB2");
  });

  it("reads a backup made without DP_DEDUP as before, creating no dedup repository", () => {
    const src = join(work, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    writeFileSync(join(src, "d/f"), "plain object\n", { mode: 0o640 });
    symlinkSync("d/f", join(src, "l"));
    const data = randomBytes(100_000);
    const { DP_DEDUP: _, ...plain } = envA();
    ok(dpAgent(["push", "dump.sql"], plain, data));
    ok(dpAgent(["push-dir", src], plain));
    expect(entry("ns/b1", "dump.sql").snapshot).to.equal(undefined);
    const pull = dpAgent(["pull", "dump.sql"], envA());
    ok(pull);
    expect(pull.stdout.equals(data)).to.equal(true);
    ok(dpAgent(["pull-dir", join(work, "dst")], envA()));
    expect(treeDigest(join(work, "dst"))).to.equal(treeDigest(src));
    ok(dpAgent(["verify"], envA()));
    ok(dpAgent(["verify"], { ...envA(), DP_EXPECT_CHECKSUMS: recorded("ns/b1") }));
    const rm = dpAgent(["rm", "--all"], envA());
    ok(rm);
    expect(rm.stdout.toString()).to.equal("");
    expect(existsSync(join(repo, "ns/.dedup")), "reads and rm create no repository").to.equal(false);
  });

  it("refuses a DP_DEDUP that is neither true nor false", () => {
    const r = dpAgent(["ls"], { ...envA(), DP_DEDUP: "yes" });
    expect(r.status).to.equal(1);
    expect(r.stderr).to.equal("dp-agent: DP_DEDUP=yes is not true or false: set it to true (or 1) to store backups in the deduplicating repository, or unset it\n");
  });
});
