import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { RepoError } from "../src/errors.ts";
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

  it("reads ranges: in the middle, at the end, empty; names a short object and maps a missing one to NotFound", async () => {
    const data = randomBytes(3 * 1024 * 1024 + 11);
    await b.put("range/obj", data);
    expect((await b.getRange("range/obj", 1_000_003, 70_000)).equals(data.subarray(1_000_003, 1_070_003))).to.equal(true);
    expect((await b.getRange("range/obj", data.length - 8, 8)).equals(data.subarray(data.length - 8))).to.equal(true);
    expect((await b.getRange("range/obj", 0, data.length)).equals(data)).to.equal(true);
    expect((await b.getRange("range/obj", data.length, 0)).length).to.equal(0);
    for (const [off, len] of [[data.length - 4, 8], [data.length, 1], [data.length + 10, 5], [data.length + 1, 0]]) {
      const err = (await b.getRange("range/obj", off!, len!).catch((e: unknown) => e)) as RepoError;
      expect(err, `${off}+${len}`).to.be.instanceOf(RepoError);
      expect(err.code).to.equal("Failed");
      expect(err.message).to.contain("s3://repo/dp/range/obj").and.contain(`shorter than ${off! + len!} bytes`);
    }
    for (const len of [10, 0]) {
      const err = (await b.getRange("range/nope", 0, len).catch((e: unknown) => e)) as RepoError;
      expect(err).to.be.instanceOf(RepoError);
      expect(err.code).to.equal("NotFound");
      expect(err.message).to.contain("s3://repo/dp/range/nope");
    }
    await b.deletePrefix("range/");
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
