// dp-agent against a real S3 server (versitygw) through a real fault-injecting proxy (Toxiproxy):
// slow and narrow links complete byte-identical; connections reset mid-upload either recover
// through the retries or fail naming the storage error; a server that stops answering fails
// within the idle timeout instead of hanging. In every case no multipart upload or partial
// object stays behind (listed), and a restore never writes a partial target.
import { expect } from "chai";
import { spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ListMultipartUploadsCommand, ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3";
import { startToxiproxy, type ToxiProxy, type ToxiproxyServer } from "@dataprotection/testenv";
// eslint-disable-next-line no-restricted-imports -- storage's S3 test server, shared by its tests, these and e2e; its home would be testenv.
import { type S3Server, startS3Server } from "../../storage/test/s3-server.ts";
import { agentBin, type AgentRun } from "./helpers.ts";

const MiB = 1 << 20;
const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** The real CLI, asynchronously, so the test can change the faults while it runs. */
function dpAgent(args: string[], env: Record<string, string>, input?: Buffer, stdoutFile?: string): Promise<AgentRun> {
  return new Promise((resolve) => {
    const child = spawn(agentBin, args, { env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env }, stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (c: Buffer) => out.push(c));
    child.stderr.on("data", (c: Buffer) => (err += c.toString()));
    child.stdin.on("error", () => undefined); // the agent may exit before reading everything
    child.stdin.end(input ?? Buffer.alloc(0));
    child.on("close", (status) => {
      const stdout = Buffer.concat(out);
      if (stdoutFile) writeFileSync(stdoutFile, stdout);
      resolve({ status, stdout, stderr: err });
    });
  });
}

// The proxy below, run as its own node process: an HTTP client in the test process would go
// through nock, which the unit tests sharing this mocha process load, and nock's pass-through
// does not carry these requests faithfully (Expect: 100-continue, streamed bodies).
const SLOWDOWN_PROXY = `
const http = require("node:http");
const [upstream, failParts] = [new URL(process.argv[1]), Number(process.argv[2])];
let refused = 0;
const server = http.createServer((req, res) => {
  if (req.method === "PUT" && /[?&]partNumber=/.test(req.url || "") && refused < failParts) {
    refused++;
    console.log("refused " + refused);
    req.resume();
    req.on("end", () => res.writeHead(503, { "content-type": "application/xml" }).end("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"));
    return;
  }
  const headers = { ...req.headers };
  delete headers.expect; // answered here already; hop-by-hop
  const fwd = http.request({ host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers }, (r) => {
    res.writeHead(r.statusCode || 502, r.headers);
    r.pipe(res);
  });
  fwd.on("error", () => res.destroy());
  req.pipe(fwd);
});
server.listen(0, "127.0.0.1", () => console.log("listening " + server.address().port));
`;

/**
 * An HTTP proxy in front of the S3 server that answers the first `failParts` part uploads (PUT
 * with partNumber) with 503 SlowDown, as S3 does when throttling, and forwards everything else
 * unchanged (the Host header too, so signatures still verify).
 */
async function slowDownProxy(upstream: string, failParts: number): Promise<{ endpoint: string; refused: () => number; close: () => Promise<void> }> {
  const child = spawn(process.execPath, ["-e", SLOWDOWN_PROXY, upstream, String(failParts)], { stdio: ["ignore", "pipe", "inherit"] });
  let refused = 0;
  const port = await new Promise<number>((resolve, reject) => {
    let buf = "";
    child.stdout.on("data", (c: Buffer) => {
      buf += c.toString();
      for (;;) {
        const nl = buf.indexOf("\n");
        if (nl < 0) break;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const m = /^(listening|refused) (\d+)$/.exec(line);
        if (m?.[1] === "listening") resolve(Number(m[2]));
        if (m?.[1] === "refused") refused = Number(m[2]);
      }
    });
    child.once("exit", (code) => reject(new Error(`the SlowDown proxy exited (${code})`)));
  });
  return {
    endpoint: `http://127.0.0.1:${port}`,
    refused: () => refused,
    close: async () => {
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      await exited;
    },
  };
}

describe("dp-agent under storage faults: versitygw behind Toxiproxy", function () {
  this.timeout(300_000);
  let s3: S3Server;
  let toxi: ToxiproxyServer;
  let proxy: ToxiProxy;
  let client: S3Client;
  let work: string;
  let n = 0;

  before(async () => {
    s3 = await startS3Server(["repo"]);
    toxi = await startToxiproxy();
    proxy = await toxi.proxy("s3", s3.endpoint);
    client = new S3Client({ endpoint: s3.endpoint, region: "us-east-1", forcePathStyle: true, credentials: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } });
  });
  after(async () => {
    client?.destroy();
    await toxi?.stop();
    await s3?.stop();
  });
  beforeEach(() => (work = mkdtempSync(join(tmpdir(), "dp-agent-faults-"))));
  afterEach(async () => {
    await proxy.clear();
    rmSync(work, { recursive: true, force: true });
  });

  /** A fresh backup path's env, through the proxy. */
  const envFor = (extra: Record<string, string> = {}) => ({
    DP_REPO_KIND: "s3",
    DP_S3_ENDPOINT: proxy.endpoint,
    DP_S3_BUCKET: "repo",
    DP_S3_FORCE_PATH_STYLE: "true",
    DP_S3_PART_SIZE: String(5 * MiB),
    AWS_ACCESS_KEY_ID: s3.accessKeyId,
    AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
    DP_BACKUP_PATH: `ns/b${++n}`,
    DP_BACKUP_ID: "0b5c3a8e-1d2f-4e6a-9c7b-8a9d0e1f2a3b",
    DP_ENCRYPTION_KEY: "correct horse battery staple",
    ...extra,
  });
  /** What is left in the bucket under a backup path: objects and unfinished multipart uploads (straight to the server). */
  const leftovers = async (path: string) => {
    const objects = (await client.send(new ListObjectsV2Command({ Bucket: "repo", Prefix: `${path}/` }))).Contents?.map((o) => o.Key!) ?? [];
    const uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket: "repo", Prefix: `${path}/` }))).Uploads?.map((u) => u.Key!) ?? [];
    return { objects: objects.sort(), uploads };
  };

  it("completes byte-identical through 150 ms latency each way and 4 MiB/s each way (multipart push, pull)", async () => {
    await proxy.add({ name: "lat-up", type: "latency", stream: "upstream", attributes: { latency: 150, jitter: 50 } });
    await proxy.add({ name: "lat-down", type: "latency", stream: "downstream", attributes: { latency: 150, jitter: 50 } });
    await proxy.add({ name: "bw-up", type: "bandwidth", stream: "upstream", attributes: { rate: 4096 } });
    await proxy.add({ name: "bw-down", type: "bandwidth", stream: "downstream", attributes: { rate: 4096 } });
    const env = envFor();
    const data = randomBytes(12 * MiB);
    const push = await dpAgent(["push", "dump.sql"], env, data);
    expect(push.status, push.stderr).to.equal(0);
    const pull = await dpAgent(["pull", "dump.sql"], env);
    expect(pull.status, pull.stderr).to.equal(0);
    expect(sha(pull.stdout)).to.equal(sha(data));
    expect((await leftovers(env.DP_BACKUP_PATH)).uploads).to.deep.equal([]);
  });

  it("connections reset mid-upload: the push either recovers through its retries byte-identical or fails naming the storage error; nothing partial stays, and the next attempt completes", async () => {
    // Every connection is reset 400 ms into it while the toxic is on; at 2 MiB/s a 5 MiB part never gets through.
    await proxy.add({ name: "bw", type: "bandwidth", stream: "upstream", attributes: { rate: 2048 } });
    await proxy.add({ name: "reset", type: "reset_peer", stream: "upstream", attributes: { timeout: 400 } });
    const env = envFor();
    const data = randomBytes(11 * MiB);
    const running = dpAgent(["push", "dump.sql"], env, data);
    // The fault heals while the agent may still be retrying (or after it gave up): either outcome is allowed.
    await new Promise((r) => setTimeout(r, 1_500));
    await proxy.remove("reset");
    const push = await running;
    const left = await leftovers(env.DP_BACKUP_PATH);
    expect(left.uploads, "no unfinished multipart upload").to.deep.equal([]);
    if (push.status !== 0) {
      expect(push.stderr).to.match(/dp-agent: .*s3:\/\/repo\/ns\/b\d+\/dump\.sql.*(ECONNRESET|socket hang up|reset|EPIPE)/i);
      expect(left.objects, "no partial object").to.not.include(`${env.DP_BACKUP_PATH}/dump.sql`);
      // The next attempt, once the link is healthy, completes.
      const again = await dpAgent(["push", "dump.sql"], env, data);
      expect(again.status, again.stderr).to.equal(0);
    }
    const pull = await dpAgent(["pull", "dump.sql"], env);
    expect(pull.status, pull.stderr).to.equal(0);
    expect(sha(pull.stdout)).to.equal(sha(data));
    expect((await leftovers(env.DP_BACKUP_PATH)).uploads).to.deep.equal([]);
  });

  it("a server that stops answering mid-upload fails the push within the idle timeout and bounded retries, naming the storage error; the next attempt aborts the upload the outage left and completes", async () => {
    const env = envFor({ DP_S3_IDLE_TIMEOUT_SECONDS: "2", DP_S3_MAX_ATTEMPTS: "2" });
    const data = randomBytes(6 * MiB);
    // Data stops flowing (no close): without an idle timeout the agent would wait for ever.
    await proxy.add({ name: "bw", type: "bandwidth", stream: "upstream", attributes: { rate: 2048 } });
    const running = dpAgent(["push", "dump.sql"], env, data);
    await new Promise((r) => setTimeout(r, 1_000));
    await proxy.add({ name: "stall", type: "timeout", stream: "upstream", attributes: { timeout: 0 } });
    await proxy.add({ name: "stall-down", type: "timeout", stream: "downstream", attributes: { timeout: 0 } });
    const push = await running;
    expect(push.status, "the push failed with the storage-unreachable status (EX_TEMPFAIL: retry)").to.equal(75);
    expect(push.stderr).to.match(/dp-agent: .*s3:\/\/repo\/ns\/b\d+\/dump\.sql/);
    expect(push.stderr).to.match(/time(d)? ?out|ETIMEDOUT|socket/i);
    await proxy.clear();
    // The outage kept the agent's abort from reaching the server: the upload is still there...
    expect((await leftovers(env.DP_BACKUP_PATH)).uploads, "the upload the outage left").to.deep.equal([`${env.DP_BACKUP_PATH}/dump.sql`]);
    // ...and the next attempt aborts it before it writes.
    const again = await dpAgent(["push", "dump.sql"], env, data);
    expect(again.status, again.stderr).to.equal(0);
    expect((await leftovers(env.DP_BACKUP_PATH)).uploads, "no unfinished multipart upload").to.deep.equal([]);
    const pull = await dpAgent(["pull", "dump.sql"], env);
    expect(sha(pull.stdout)).to.equal(sha(data));
  });

  it("verify of a whole backup through a repo that resets every connection exits 75 (retry later), not 1 (the backup is bad); once reachable it verifies", async () => {
    const env = envFor({ DP_S3_MAX_ATTEMPTS: "2" });
    expect((await dpAgent(["push", "dump.sql"], env, randomBytes(64 * 1024))).status).to.equal(0);
    await proxy.add({ name: "resets", type: "reset_peer", stream: "upstream", attributes: { timeout: 0 } });
    const cut = await dpAgent(["verify"], env);
    await proxy.clear();
    expect(cut.status, cut.stderr).to.equal(75);
    expect(cut.stderr).to.match(/cannot reach S3 endpoint/);
    const ok = await dpAgent(["verify"], env);
    expect(ok.status, ok.stderr).to.equal(0);
  });

  it("503 SlowDown on part uploads: retried and completed byte-identical; answered on every attempt, the push fails naming it and leaves no upload", async () => {
    const some = await slowDownProxy(s3.endpoint, 2);
    try {
      const env = envFor({ DP_S3_ENDPOINT: some.endpoint });
      const data = randomBytes(11 * MiB);
      const push = await dpAgent(["push", "dump.sql"], env, data);
      expect(push.status, push.stderr).to.equal(0);
      expect(some.refused(), "part uploads answered 503").to.equal(2);
      const pull = await dpAgent(["pull", "dump.sql"], env);
      expect(sha(pull.stdout)).to.equal(sha(data));
    } finally {
      await some.close();
    }
    const always = await slowDownProxy(s3.endpoint, Number.MAX_SAFE_INTEGER);
    try {
      const env = envFor({ DP_S3_ENDPOINT: always.endpoint, DP_S3_MAX_ATTEMPTS: "2" });
      const push = await dpAgent(["push", "dump.sql"], env, randomBytes(11 * MiB));
      expect(push.status, "the push failed").to.not.equal(0);
      expect(push.stderr).to.match(/dp-agent: .*s3:\/\/repo\/ns\/b\d+\/dump\.sql.*(SlowDown|503)/);
      const left = await leftovers(env.DP_BACKUP_PATH);
      expect(left.uploads, "the failed upload was aborted").to.deep.equal([]);
      expect(left.objects).to.not.include(`${env.DP_BACKUP_PATH}/dump.sql`);
    } finally {
      await always.close();
    }
  });

  it("a download cut mid-way never leaves a partial target: pull-dir into a new directory fails and leaves nothing there", async () => {
    const env = envFor();
    const src = join(work, "src");
    const big = randomBytes(9 * MiB);
    mkdirSync(src);
    writeFileSync(join(src, "big.bin"), big);
    expect((await dpAgent(["push-dir", src], env)).status).to.equal(0);
    await proxy.add({ name: "bw-down", type: "bandwidth", stream: "downstream", attributes: { rate: 2048 } });
    await proxy.add({ name: "cut", type: "limit_data", stream: "downstream", attributes: { bytes: 3 * MiB } });
    const dst = join(work, "dst");
    const pulled = await dpAgent(["pull-dir", dst], { ...env, DP_S3_MAX_ATTEMPTS: "1" });
    expect(pulled.status, "the pull failed").to.not.equal(0);
    expect(existsSync(join(dst, "big.bin")) && readFileSync(join(dst, "big.bin")).length > 0, "no partial file at the target").to.equal(false);
    await proxy.clear();
    const ok = await dpAgent(["pull-dir", join(work, "dst2")], env);
    expect(ok.status, ok.stderr).to.equal(0);
    expect(sha(readFileSync(join(work, "dst2", "big.bin")))).to.equal(sha(big));
  });
});
