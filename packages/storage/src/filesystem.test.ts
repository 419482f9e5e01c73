import { expect } from "chai";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { RepoError } from "./errors.ts";
import { FilesystemBackend } from "./filesystem.ts";

async function text(r: Readable): Promise<string> {
  const parts: Buffer[] = [];
  for await (const c of r) parts.push(c as Buffer);
  return Buffer.concat(parts).toString();
}

describe("FilesystemBackend", () => {
  let root: string;
  let b: FilesystemBackend;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "dp-fs-"));
    b = new FilesystemBackend({ root });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("creates the directories of a put writable by every user (tools of one namespace run as different uids), whatever the umask", async () => {
    const old = process.umask(0o077);
    try {
      await b.put("ns/b1/obj", Buffer.from("x"));
    } finally {
      process.umask(old);
    }
    for (const d of ["ns", "ns/b1"]) expect((statSync(join(root, d)).mode & 0o777).toString(8), d).to.equal("777");
    expect(statSync(join(root, "ns/b1/obj")).mode & 0o022, "the object itself is not writable by others").to.equal(0);
  });

  it("puts, stats, gets, lists and deletes objects", async () => {
    expect(await b.put("ns/b1/a", Buffer.from("aa"))).to.equal(2);
    await b.put("ns/b1/sub/c", Readable.from([Buffer.from("c")]));
    await b.put("ns/b2/x", Buffer.from("x"));
    expect(await text(await b.get("ns/b1/a"))).to.equal("aa");
    expect((await b.stat("ns/b1/a"))?.size).to.equal(2);
    const keys: string[] = [];
    for await (const o of b.list("ns/b1/")) keys.push(o.key);
    expect(keys).to.deep.equal(["ns/b1/a", "ns/b1/sub/c"]);
    expect(await b.deletePrefix("ns/b1/")).to.equal(2);
    expect(await b.stat("ns/b1/a")).to.equal(undefined);
    expect(readdirSync(join(root, "ns"))).to.deep.equal(["b2"]);
    await b.delete("ns/b2/x");
    await b.delete("ns/b2/x");
    await b.probe();
  });

  it("leaves nothing behind when the body fails midway", async () => {
    const body = new Readable({ read() {} });
    body.push(Buffer.alloc(1000));
    setTimeout(() => body.destroy(new Error("input broke")), 10);
    let err: unknown;
    await b.put("ns/b/obj", body).catch((e: unknown) => (err = e));
    expect(String(err)).to.contain("input broke");
    expect(readdirSync(join(root, "ns/b"))).to.deep.equal([]);
  });

  it("rejects keys that escape the root and reports missing objects", async () => {
    for (const k of ["../x", "/abs", "a//b", "a/./b", ""]) {
      const e = await b.put(k, Buffer.from("x")).catch((err: unknown) => err);
      expect((e as RepoError).code, k).to.equal("InvalidKey");
    }
    const e = (await b.get("nope").catch((err: unknown) => err)) as RepoError;
    expect(e.code).to.equal("NotFound");
  });

  it("fails probe with a clear message when the root is missing", async () => {
    const e = (await new FilesystemBackend({ root: join(root, "missing") }).probe().catch((err: unknown) => err)) as RepoError;
    expect(e.code).to.equal("Unreachable");
    expect(e.message).to.contain("mounted");
  });
});
