import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { S3Backend } from "../src/s3.ts";
import { type S3Server, startS3Server } from "./s3-server.ts";

describe("S3Backend against a real S3-compatible server (versitygw)", function () {
  this.timeout(120_000);
  let server: S3Server;
  let b: S3Backend;
  before(async () => {
    server = await startS3Server(["repo"]);
    b = new S3Backend({ bucket: "repo", endpoint: server.endpoint, forcePathStyle: true, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey, prefix: "dp", partSize: 5 * 1024 * 1024 });
  });
  after(async () => server?.stop());

  it("probes, puts (single and multipart), gets, lists and deletes", async () => {
    await b.probe();
    const big = randomBytes(12 * 1024 * 1024 + 7);
    expect(await b.put("ns/b1/big", Readable.from([big.subarray(0, 5e6), big.subarray(5e6)]))).to.equal(big.length);
    await b.put("ns/b1/small", Buffer.from("hi"));
    const parts: Buffer[] = [];
    for await (const c of await b.get("ns/b1/big")) parts.push(c as Buffer);
    expect(Buffer.concat(parts).equals(big)).to.equal(true);
    expect((await b.stat("ns/b1/small"))?.size).to.equal(2);
    const keys: string[] = [];
    for await (const o of b.list("ns/b1/")) keys.push(o.key);
    expect(keys.sort()).to.deep.equal(["ns/b1/big", "ns/b1/small"]);
    expect(await b.deletePrefix("ns/")).to.equal(2);
    expect(await b.stat("ns/b1/big")).to.equal(undefined);
  });

  it("names a missing bucket and wrong credentials clearly", async () => {
    const nob = new S3Backend({ bucket: "nope", endpoint: server.endpoint, forcePathStyle: true, accessKeyId: server.accessKeyId, secretAccessKey: server.secretAccessKey });
    const e1 = (await nob.probe().catch((e: unknown) => e)) as Error;
    expect(e1.message).to.contain('bucket "nope"');
    const bad = new S3Backend({ bucket: "repo", endpoint: server.endpoint, forcePathStyle: true, accessKeyId: server.accessKeyId, secretAccessKey: "wrong", maxAttempts: 1 });
    const e2 = (await bad.put("k", Buffer.from("x")).catch((e: unknown) => e)) as Error;
    expect(e2.message).to.contain("access denied");
  });
});
