import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
// eslint-disable-next-line no-restricted-imports -- storage's S3 test server, shared by its tests, these and e2e; its home would be testenv.
import { type S3Server, startS3Server } from "../../storage/test/s3-server.ts";
import { dpAgent, treeDigest } from "./helpers.ts";

describe("dp-agent against a real S3-compatible server (versitygw)", function () {
  this.timeout(300_000);
  let server: S3Server;
  let work: string;
  let env: Record<string, string>;
  before(async () => {
    server = await startS3Server(["repo"]);
  });
  after(async () => server?.stop());
  beforeEach(() => {
    work = mkdtempSync(join(tmpdir(), "dp-agent-s3-"));
    env = {
      DP_REPO_KIND: "s3",
      DP_S3_ENDPOINT: server.endpoint,
      DP_S3_BUCKET: "repo",
      DP_S3_PREFIX: "dp",
      DP_S3_FORCE_PATH_STYLE: "true",
      DP_S3_PART_SIZE: String(5 << 20),
      AWS_ACCESS_KEY_ID: server.accessKeyId,
      AWS_SECRET_ACCESS_KEY: server.secretAccessKey,
      DP_BACKUP_PATH: "ns/b1",
      // Format v5: the header's backup id is read off the stream.
      DP_BACKUP_ID: "0b5c3a8e-1d2f-4e6a-9c7b-8a9d0e1f2a3b",
      DP_ENCRYPTION_KEY: "correct horse battery staple",
      DP_TERMINATION_MESSAGE_PATH: join(work, "term"),
    };
  });
  afterEach(() => rmSync(work, { recursive: true, force: true }));

  it("pushes and pulls a multipart stream and a directory byte-identically, then deletes the backup", () => {
    // Half compressible, half random, over several multipart parts.
    const text = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `row ${i} ${i % 97}\n`).join(""));
    const data = Buffer.concat([text, randomBytes(12 << 20)]);
    const push = dpAgent(["push", "dump.sql"], env, data);
    expect(push.status, push.stderr).to.equal(0);
    const pull = dpAgent(["pull", "dump.sql"], env);
    expect(pull.status, pull.stderr).to.equal(0);
    expect(createHash("sha256").update(pull.stdout).digest("hex")).to.equal(createHash("sha256").update(data).digest("hex"));

    const src = join(work, "src");
    mkdirSync(join(src, "d"), { recursive: true });
    writeFileSync(join(src, "d/big.bin"), randomBytes(7 << 20));
    for (let i = 0; i < 50; i++) writeFileSync(join(src, `f${i}.txt`), `file ${i}\n`.repeat(i));
    expect(dpAgent(["push-dir", src], env).status).to.equal(0);
    const dst = join(work, "dst");
    const pulled = dpAgent(["pull-dir", dst], env);
    expect(pulled.status, pulled.stderr).to.equal(0);
    expect(treeDigest(dst)).to.equal(treeDigest(src));

    const verify = dpAgent(["verify"], env);
    expect(verify.status, verify.stderr).to.equal(0);
    expect(verify.stdout.toString().trim().split("\n")).to.have.length(2);
    expect(dpAgent(["rm", "--all"], env).status).to.equal(0);
    expect(dpAgent(["ls", "--json"], env).stdout.toString()).to.contain('"unlisted": []');
  });
});
