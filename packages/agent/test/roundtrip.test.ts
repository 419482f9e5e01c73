import { expect } from "chai";
import { createHash } from "node:crypto";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from "node:fs";
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
    expect(readdirSync(out).sort(), "the segments before the corrupt one, nothing partial").to.deep.equal(segs.slice(0, 2).map((s) => s.name));
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
