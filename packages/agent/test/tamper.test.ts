import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { dpAgent, storedTagChecksum } from "./helpers.ts";

const KEY = "0123456789abcdef".repeat(4);
const CHUNK = 65536;

describe("dp-agent integrity, encryption and bad input (must show 2, 3)", function () {
  this.timeout(120_000);
  let work: string;
  let env: Record<string, string>;
  const obj = (): string => join(env.DP_REPO_PATH, "ns/b1/dump.sql");
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "dp-tamper-"));
    mkdirSync(join(work, "repo"));
    env = { DP_REPO_PATH: join(work, "repo"), DP_BACKUP_PATH: "ns/b1", DP_ENCRYPTION_KEY: KEY, DP_TERMINATION_MESSAGE_PATH: join(work, "term"), DP_CHUNK_SIZE: String(CHUNK), DP_COMPRESSION: "none" };
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it("fails pull and verify naming the object when one byte flips; stdout stops before the bad chunk", () => {
    const data = randomBytes(10 * CHUNK);
    expect(dpAgent(["push", "dump.sql"], env, data).status).to.equal(0);
    const stored = readFileSync(obj());
    const badChunk = 4;
    const pos = 36 + badChunk * (5 + CHUNK + 16) + 100;
    stored[pos] ^= 1;
    writeFileSync(obj(), stored);
    const pull = dpAgent(["pull", "dump.sql"], env);
    expect(pull.status, "corrupt data: 1, not the retry status 75").to.equal(1);
    expect(pull.stderr.trim().split("\n")).to.have.length(1);
    expect(pull.stderr).to.contain('object "dump.sql" is corrupt at chunk 4');
    expect(pull.stdout.length).to.be.at.most(badChunk * CHUNK);
    expect(pull.stdout.equals(data.subarray(0, pull.stdout.length))).to.equal(true);
    const verify = dpAgent(["verify"], env);
    expect(verify.status, "corrupt data: 1, not the retry status 75").to.equal(1);
    expect(verify.stderr).to.contain('"dump.sql"');
  });

  it("with zstd, a flipped byte still fails and stdout is only a prefix of the data", () => {
    const text = Buffer.from(Array.from({ length: 40000 }, (_, i) => `row ${i} ${i * 7}\n`).join(""));
    const e = { ...env, DP_COMPRESSION: "zstd", DP_CHUNK_SIZE: "4096" };
    expect(dpAgent(["push", "dump.sql"], e, text).status).to.equal(0);
    const stored = readFileSync(obj());
    stored[Math.floor(stored.length / 2)] ^= 0x10;
    writeFileSync(obj(), stored);
    const pull = dpAgent(["pull", "dump.sql"], e);
    expect(pull.status).to.not.equal(0);
    expect(pull.stderr).to.match(/object "dump.sql" is corrupt at chunk \d+/);
    expect(pull.stdout.length).to.be.lessThan(text.length);
    expect(pull.stdout.equals(text.subarray(0, pull.stdout.length))).to.equal(true);
  });

  it("stores no 64-byte run of the plaintext, and a wrong key fails", () => {
    const text = Buffer.from(Array.from({ length: 5000 }, (_, i) => `secret customer ${i % 50} card 4111-1111-1111-${String(i % 10000).padStart(4, "0")}\n`).join(""));
    for (const compression of ["none", "zstd"]) {
      const e = { ...env, DP_COMPRESSION: compression };
      expect(dpAgent(["push", "dump.sql"], e, text).status).to.equal(0);
      const stored = readFileSync(obj());
      for (let i = 0; i + 64 <= text.length; i += 16) {
        if (stored.includes(text.subarray(i, i + 64))) throw new Error(`plaintext run at ${i} found in the stored object (${compression})`);
      }
      const wrong = dpAgent(["pull", "dump.sql"], { ...e, DP_ENCRYPTION_KEY: "ff".repeat(32) });
      expect(wrong.status).to.not.equal(0);
      expect(wrong.stderr).to.contain("encryption key is not the one");
      expect(wrong.stdout.length).to.equal(0);
    }
  });

  it("fails with one clear line on a missing object, a truncated object, a full disk and an unreachable repo", () => {
    const missing = dpAgent(["pull", "nope"], env);
    expect(missing.status).to.not.equal(0);
    expect(missing.stderr.trim()).to.match(/^dp-agent: object "nope" not found in backup ns\/b1/);

    expect(dpAgent(["push", "dump.sql"], env, randomBytes(3 * CHUNK)).status).to.equal(0);
    writeFileSync(obj(), readFileSync(obj()).subarray(0, 36 + 2 * (5 + CHUNK + 16) + 10));
    const truncated = dpAgent(["pull", "dump.sql"], env);
    expect(truncated.status).to.not.equal(0);
    expect(truncated.stderr.trim().split("\n")).to.have.length(1);
    expect(truncated.stderr).to.contain('object "dump.sql" is truncated');

    expect(dpAgent(["push", "x"], env, randomBytes(CHUNK)).status).to.equal(0);
    const full = spawnToDevFull(env);
    expect(full.status).to.not.equal(0);
    expect(full.stderr.trim().split("\n")).to.have.length(1);
    expect(full.stderr).to.match(/no space left on device/);

    const s3 = { ...env, DP_REPO_KIND: "s3", DP_S3_BUCKET: "b", DP_S3_ENDPOINT: "http://127.0.0.1:1", DP_S3_FORCE_PATH_STYLE: "true", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b", DP_S3_MAX_ATTEMPTS: "1" };
    const unreachable = dpAgent(["push", "y"], s3, "data");
    expect(unreachable.status).to.not.equal(0);
    expect(unreachable.stderr.trim().split("\n")).to.have.length(1);
    expect(unreachable.stderr).to.contain("cannot reach S3 endpoint http://127.0.0.1:1");
    expect(readdirSync(join(env.DP_REPO_PATH, "ns/b1")).sort()).to.deep.equal(["dump.sql", "manifest.json", "x"]);
  });

  it("with a key, refuses an unencrypted object and the manifest that someone without the key wrote (pull, verify)", () => {
    const forged = { ...env, DP_ENCRYPTION_KEY: "" };
    expect(dpAgent(["push", "dump.sql"], forged, "DROP TABLE users;").status).to.equal(0);
    const sum = (JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { checksum: string }).checksum;
    for (const args of [["pull", "dump.sql"], ["verify"]]) {
      // For a bound backup (DP_BACKUP_ID), the unauthenticated manifest is refused first.
      const r = dpAgent(args, { ...env, DP_BACKUP_ID: "uid-b1" });
      expect(r.status, args.join(" ")).to.equal(1);
      expect(r.stderr).to.contain("manifest.json of ns/b1 is not authenticated by this repository's key: it has no mac");
      expect(r.stdout.length).to.equal(0);
      // For a backup from before binding, the manifest is taken as such (with a warning) and the object is refused.
      const unbound = dpAgent(args, env);
      expect(unbound.status, args.join(" ")).to.equal(1);
      expect(unbound.stderr).to.contain('object "dump.sql" is not encrypted, but this repo has an encryption key');
      expect(unbound.stdout.length).to.equal(0);
      // Even named by a record (the manifest is not read then), the object itself is refused.
      const pinned = dpAgent(args, { ...env, DP_EXPECT_CHECKSUMS: JSON.stringify({ "dump.sql": sum }) });
      expect(pinned.status, args.join(" ")).to.equal(1);
      expect(pinned.stderr).to.contain('object "dump.sql" is not encrypted, but this repo has an encryption key');
      expect(pinned.stdout.length).to.equal(0);
    }
  });

  it("with DP_BACKUP_ID, refuses another backup's objects and manifest copied over this one's, with no recorded checksum", () => {
    const [idA, idB] = ["uid-a", "uid-b"];
    const envB = { ...env, DP_BACKUP_PATH: "ns/b2" };
    expect(dpAgent(["push", "dump.sql"], { ...env, DP_BACKUP_ID: idA }, "the data of b1\n").status).to.equal(0);
    expect(dpAgent(["push", "dump.sql"], { ...envB, DP_BACKUP_ID: idB }, "the data of b2, written later\n").status).to.equal(0);
    const stored = readFileSync(join(env.DP_REPO_PATH, "ns/b2/dump.sql"));
    expect(stored[4], "format version").to.equal(5);
    const report = JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { checksum: string; totalSize: number };
    expect(report.checksum).to.equal(`sha256:${storedTagChecksum(stored)}`);
    const ok = dpAgent(["verify"], { ...envB, DP_BACKUP_ID: idB });
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout.toString()).to.contain(`\tbackup:${idB}`);
    // Rolled back: b1's object and manifest copied over b2's.
    for (const f of ["dump.sql", "manifest.json"]) writeFileSync(join(env.DP_REPO_PATH, "ns/b2", f), readFileSync(join(env.DP_REPO_PATH, "ns/b1", f)));
    for (const args of [["verify"], ["pull", "dump.sql"]]) {
      const r = dpAgent(args, { ...envB, DP_BACKUP_ID: idB });
      expect(r.status, args.join(" ")).to.equal(1);
      expect(r.stderr).to.contain(`manifest.json of ns/b2 belongs to another backup: it records backup ${idA}, this is backup ${idB}`);
      expect(r.stdout.length).to.equal(0);
    }
    // The object alone, with no manifest to give it away: refused before a byte is released.
    rmSync(join(env.DP_REPO_PATH, "ns/b2/manifest.json"));
    const pull = dpAgent(["pull", "dump.sql"], { ...envB, DP_BACKUP_ID: idB });
    expect(pull.status).to.equal(1);
    expect(pull.stderr).to.contain(`object "dump.sql" belongs to another backup: it was written for backup ${idA}, this is backup ${idB}`);
    expect(pull.stdout.length).to.equal(0);
  });

  it("refuses an object swapped in from another backup, or rolled back with its manifest, when given the checksums the Backup recorded", () => {
    const envB = { ...env, DP_BACKUP_PATH: "ns/b2" };
    expect(dpAgent(["push", "dump.sql"], env, "the data of b1\n").status).to.equal(0);
    const recorded = (JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { checksum: string }).checksum;
    expect(dpAgent(["push", "dump.sql"], envB, "the data of b2, written later\n").status).to.equal(0);
    const recordedB = (JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { checksum: string }).checksum;
    // A repo writer copies b2's object and manifest over b1's: every chunk authenticates (same key, same name).
    for (const f of ["dump.sql", "manifest.json"]) writeFileSync(join(env.DP_REPO_PATH, "ns/b1", f), readFileSync(join(env.DP_REPO_PATH, "ns/b2", f)));
    expect(dpAgent(["verify"], env).status, "manifest.json alone cannot tell").to.equal(0);
    const pinned = { ...env, DP_EXPECT_CHECKSUMS: JSON.stringify({ "dump.sql": recorded }) };
    for (const args of [["verify"], ["pull", "dump.sql"]]) {
      const r = dpAgent(args, pinned);
      expect(r.status, args.join(" ")).to.equal(1);
      expect(r.stderr).to.contain('object "dump.sql" does not match the checksum the Backup recorded');
    }
    // An object the Backup never recorded is refused by name.
    expect(dpAgent(["pull", "extra.sql"], pinned).stderr).to.contain('object "extra.sql" is not one the Backup recorded');
    // An edited manifest no longer matters: the record decides.
    writeFileSync(join(env.DP_REPO_PATH, "ns/b2", "manifest.json"), "{}");
    const intact = dpAgent(["pull", "dump.sql"], { ...envB, DP_EXPECT_CHECKSUMS: JSON.stringify({ "dump.sql": recordedB }) });
    expect(intact.status, intact.stderr).to.equal(0);
    expect(intact.stdout.toString()).to.equal("the data of b2, written later\n");
  });

});

function spawnToDevFull(env: Record<string, string>): { status: number | null; stderr: string } {
  // stdout is /dev/full: every write fails with ENOSPC, like a full target disk.
  const r = dpAgentShell(`exec "$0" pull x > /dev/full`, env);
  return r;
}

import { spawnSync } from "node:child_process";
import { agentBin } from "./helpers.ts";
function dpAgentShell(script: string, env: Record<string, string>): { status: number | null; stderr: string } {
  const r = spawnSync("sh", ["-c", script, agentBin], { env: { PATH: process.env.PATH ?? "", ...env } });
  return { status: r.status, stderr: r.stderr.toString() };
}
