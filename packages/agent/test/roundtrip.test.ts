import { expect } from "chai";
import { createHash } from "node:crypto";
import { chmodSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, truncateSync, utimesSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dpAgent, treeDigest } from "./helpers.ts";

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
      const report = JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { totalSize: number; checksum: string; files: string[] };
      expect(report.files).to.deep.equal(["f"]);
      expect(report.checksum).to.equal(`sha256:${createHash("sha256").update(data).digest("hex")}`);
      expect(report.totalSize).to.be.greaterThan(0);
      const pull = dpAgent(["pull", "f"], env);
      expect(pull.status, pull.stderr).to.equal(0);
      expect(pull.stdout.equals(data)).to.equal(true);
      expect(dpAgent(["verify"], env).status).to.equal(0);
    });
  }

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
