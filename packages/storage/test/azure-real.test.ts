import { expect } from "chai";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { connect, type Socket } from "node:net";
import { Readable } from "node:stream";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { AzureBackend } from "../src/azure.ts";
import { RepoError } from "../src/errors.ts";
import { backendFromConfig } from "../src/registry.ts";
import { type AzuriteServer, startAzurite } from "./azurite.ts";

const MiB = 1024 * 1024;

async function rejection(p: Promise<unknown>): Promise<RepoError> {
  try {
    await p;
  } catch (err) {
    expect(err).to.be.instanceOf(RepoError);
    return err as RepoError;
  }
  throw new Error("expected a rejection");
}

async function bytes(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe("AzureBackend against a real Blob endpoint (Azurite)", function () {
  this.timeout(120_000);
  let server: AzuriteServer;
  let b: AzureBackend;
  let raw: ContainerClient;
  const backend = (extra: Partial<ConstructorParameters<typeof AzureBackend>[0]> = {}) =>
    new AzureBackend({ container: "repo", endpoint: server.endpoint, accountName: server.accountName, accountKey: server.accountKey, prefix: "dp", blockSize: MiB, maxAttempts: 2, ...extra });
  before(async () => {
    server = await startAzurite(["repo"]);
    b = backend();
    raw = new ContainerClient(`${server.endpoint}/repo`, new StorageSharedKeyCredential(server.accountName, server.accountKey));
  });
  after(async () => server?.stop());

  it("probes, puts, gets, stats, lists and deletes under the prefix", async () => {
    await b.probe();
    expect(await b.put("ns/b1/small", Buffer.from("hi"))).to.equal(2);
    expect(await b.put("ns/b1/empty", Buffer.alloc(0))).to.equal(0);
    await b.put("ns/b2/x", Buffer.from("x"));
    expect((await bytes(await b.get("ns/b1/small"))).toString()).to.equal("hi");
    expect((await b.stat("ns/b1/small"))?.size).to.equal(2);
    expect((await b.stat("ns/b1/empty"))?.size).to.equal(0);
    const keys: string[] = [];
    for await (const o of b.list("ns/b1/")) keys.push(o.key);
    expect(keys.sort()).to.deep.equal(["ns/b1/empty", "ns/b1/small"]);
    // The blobs live under the repo's prefix in the container.
    const names: string[] = [];
    for await (const x of raw.listBlobsFlat({ prefix: "dp/ns/" })) names.push(x.name);
    expect(names.sort()).to.deep.equal(["dp/ns/b1/empty", "dp/ns/b1/small", "dp/ns/b2/x"]);
    await b.delete("ns/b2/x");
    await b.delete("ns/b2/x"); // absent: not an error
    expect(await b.deletePrefix("ns/")).to.equal(2);
    expect(await b.stat("ns/b1/small")).to.equal(undefined);
  });

  it("stores an object of several blocks byte for byte, from lent buffers reused by the producer", async () => {
    const big = randomBytes(5 * MiB + 12_345);
    // The producer lends one buffer and refills it after each yield, as dp-agent does.
    const lent = Buffer.alloc(300_000);
    async function* produce(): AsyncGenerator<Buffer> {
      for (let off = 0; off < big.length; off += lent.length) {
        const n = big.copy(lent, 0, off, Math.min(big.length, off + lent.length));
        yield lent.subarray(0, n);
      }
    }
    expect(await b.put("big/obj", produce())).to.equal(big.length);
    const props = await raw.getBlockBlobClient("dp/big/obj").getBlockList("committed");
    expect(props.committedBlocks?.length, "committed as blocks").to.equal(6);
    expect((await bytes(await b.get("big/obj"))).equals(big)).to.equal(true);
    expect((await b.stat("big/obj"))?.size).to.equal(big.length);
    await b.deletePrefix("big/");
  });

  it("leaves no visible blob when the body fails after blocks were staged", async () => {
    async function* failing(): AsyncGenerator<Buffer> {
      yield randomBytes(MiB);
      yield randomBytes(MiB);
      throw new Error("producer died");
    }
    const err = await rejection(b.put("half/obj", failing()));
    expect(err.message).to.contain("producer died");
    expect(await b.stat("half/obj")).to.equal(undefined);
    const listed: string[] = [];
    for await (const o of b.list("half/")) listed.push(o.key);
    expect(listed).to.deep.equal([]);
  });

  it("pages through listings longer than one page", async () => {
    const n = 1030;
    const keys = Array.from({ length: n }, (_, i) => `many/k${String(i).padStart(5, "0")}`);
    for (let i = 0; i < n; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => b.put(k, Buffer.from(k))));
    let seen = 0;
    for await (const o of b.list("many/")) {
      expect(o.size).to.equal(o.key.length);
      seen++;
    }
    expect(seen).to.equal(n);
    expect(await b.deletePrefix("many/")).to.equal(n);
  });

  it("reads ranges: in the middle, at the end, empty; names a short object and maps a missing one to NotFound", async () => {
    const data = randomBytes(3 * MiB + 11);
    await b.put("range/obj", data);
    expect((await b.getRange("range/obj", 1_000_003, 70_000)).equals(data.subarray(1_000_003, 1_070_003))).to.equal(true);
    expect((await b.getRange("range/obj", data.length - 8, 8)).equals(data.subarray(data.length - 8))).to.equal(true);
    expect((await b.getRange("range/obj", 0, data.length)).equals(data)).to.equal(true);
    expect((await b.getRange("range/obj", data.length, 0)).length).to.equal(0);
    for (const [off, len] of [[data.length - 4, 8], [data.length, 1], [data.length + 10, 5], [data.length + 1, 0]]) {
      const err = await rejection(b.getRange("range/obj", off!, len!));
      expect(err.code, `${off}+${len}`).to.equal("Failed");
      expect(err.message).to.contain("azure://dpaccount/repo/dp/range/obj").and.contain(`shorter than ${off! + len!} bytes`);
    }
    for (const len of [10, 0]) {
      const err = await rejection(b.getRange("range/nope", 0, len));
      expect(err.code).to.equal("NotFound");
      expect(err.message).to.contain("azure://dpaccount/repo/dp/range/nope");
    }
    await b.deletePrefix("range/");
  });

  it("maps a missing object to NotFound and stat() to undefined", async () => {
    const err = await rejection(b.get("nope/x"));
    expect(err.code).to.equal("NotFound");
    expect(err.message).to.contain("azure://dpaccount/repo/dp/nope/x");
    expect(await b.stat("nope/x")).to.equal(undefined);
  });

  it("names a wrong account key as access denied and says what to check", async () => {
    const bad = backend({ accountKey: randomBytes(64).toString("base64"), maxAttempts: 1 });
    for (const p of [bad.probe(), bad.put("k", Buffer.from("x"))]) {
      const err = await rejection(p);
      expect(err.code).to.equal("AccessDenied");
      expect(err.message).to.match(/^access denied to .* azure:\/\/dpaccount\/repo.*: check the repo's accountName and accountKey/);
    }
  });

  it("names a missing container", async () => {
    const err = await rejection(backend({ container: "nope" }).probe());
    expect(err.code).to.equal("NoSuchBucket");
    expect(err.message).to.contain('container "nope" does not exist').and.contain(server.endpoint);
  });

  it("fails fast on a refused connection and on a connect that never completes", async () => {
    const t0 = Date.now();
    const refused = await rejection(backend({ endpoint: "http://127.0.0.1:1/dpaccount", maxAttempts: 1 }).probe());
    expect(refused.code).to.equal("Unreachable");
    expect(refused.message).to.contain("http://127.0.0.1:1/dpaccount").and.contain("ECONNREFUSED");
    expect(Date.now() - t0).to.be.below(5000);

    // A listener whose accept queue is full: the kernel drops further SYNs, so connect hangs.
    const py = spawn("python3", ["-c", "import socket,sys,time\ns=socket.socket(); s.bind(('127.0.0.1',0)); s.listen(0)\nprint(s.getsockname()[1], flush=True); time.sleep(60)"], { stdio: ["ignore", "pipe", "inherit"] });
    const fillers: Socket[] = [];
    try {
      const port = await new Promise<number>((resolve) => py.stdout.once("data", (c: Buffer) => resolve(Number(c.toString().trim()))));
      for (let i = 0; i < 4; i++) fillers.push(connect(port, "127.0.0.1").on("error", () => undefined));
      await new Promise((r) => setTimeout(r, 300));
      const t1 = Date.now();
      const hung = await rejection(backend({ endpoint: `http://127.0.0.1:${port}/dpaccount`, maxAttempts: 1, connectTimeoutMs: 700 }).probe());
      expect(hung.code).to.equal("Unreachable");
      expect(hung.message).to.contain("ETIMEDOUT");
      expect(Date.now() - t1).to.be.within(600, 5000);
    } finally {
      for (const s of fillers) s.destroy();
      py.kill("SIGKILL");
    }
  });

  it("is what the registry builds for an azure config: a lazily loaded backend whose location is known up front", async () => {
    const repo = backendFromConfig({ kind: "azure", container: "repo", endpoint: server.endpoint, accountName: server.accountName, accountKey: server.accountKey, prefix: "lazy/" });
    expect(repo.location).to.equal("azure://dpaccount/repo/lazy");
    await repo.put("a", Readable.from([Buffer.from("lazy")]));
    expect((await bytes(await repo.get("a"))).toString()).to.equal("lazy");
    expect(await repo.deletePrefix("")).to.equal(1);
  });
});
