import { expect } from "chai";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { FilesystemBackend } from "@dataprotection/storage";
import { parseKey } from "./format/keys.ts";
import { readObject } from "./object-reader.ts";
import { writeObject } from "./object-writer.ts";

const CHUNK = 4096;

function sink(): { w: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { w: new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }), bytes: () => Buffer.concat(parts) };
}

describe("object format", () => {
  let root: string;
  let b: FilesystemBackend;
  const key = parseKey("ab".repeat(32));
  const plain = Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i} of the dump\n`).join(""));
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "dp-obj-"));
    b = new FilesystemBackend({ root });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  for (const algorithm of ["zstd", "gzip", "none"] as const) {
    for (const k of [undefined, key]) {
      it(`round-trips with ${algorithm}, ${k ? "encrypted" : "unencrypted"}`, async () => {
        const w = await writeObject(b, "o", "o", Readable.from([plain]), { compression: { algorithm }, key: k, chunkSize: CHUNK });
        const s = sink();
        const r = await readObject(b, "o", "o", s.w, { key: k });
        expect(s.bytes().equals(plain)).to.equal(true);
        expect(r.sha256).to.equal(w.sha256);
      });
    }
  }

  it("checksums sha256-tags by default (format v4): sha256 of the data frames' tags, encrypted or not, over the stream and the file reader", async () => {
    const data = Buffer.concat([plain, randomBytes(3 * CHUNK + 17)]);
    for (const k of [key, undefined]) {
      for (const threads of [0, 2]) {
        const w = await writeObject(b, "o", "o", Readable.from([data]), { compression: { algorithm: "zstd", threads }, key: k, chunkSize: CHUNK });
        const stored = readFileSync(join(root, "o"));
        expect(stored[4], "format version").to.equal(4);
        // The tags, read independently from the stored frames.
        const tagLen = k ? 16 : 32;
        const tags: Buffer[] = [];
        let off = 36;
        while (!(stored[off] & 1)) {
          const len = stored.readUInt32BE(off + 1);
          tags.push(stored.subarray(off + 5 + len, off + 5 + len + tagLen));
          off += 5 + len + tagLen;
        }
        expect(tags.length).to.equal(w.chunks - 1);
        expect(w.sha256).to.equal(createHash("sha256").update(Buffer.concat(tags)).digest("hex"));
        const stream: FilesystemBackend = Object.assign(Object.create(b) as FilesystemBackend, { openRead: undefined });
        for (const backend of [b, stream]) {
          const s = sink();
          const r = await readObject(backend, "o", "o", s.w, { key: k, threads, expectSha256: w.sha256 });
          expect(s.bytes().equals(data)).to.equal(true);
          expect(r.sha256).to.equal(w.sha256);
        }
        // A manifest that names another object's checksum is refused.
        const other = createHash("sha256").update("other").digest("hex");
        expect(String(await readObject(b, "o", "o", sink().w, { key: k, threads, expectSha256: other }).catch((e: unknown) => e))).to.contain("does not match manifest.json");
      }
    }
  });

  it("checksums sha256-chunked on request (format v3): sha256 of the chunk sha256s, a one-chunk object its plain sha256, over the stream and the file reader", async () => {
    const sha = (d: Uint8Array): Buffer => createHash("sha256").update(d).digest();
    const data = Buffer.concat([plain, randomBytes(3 * CHUNK + 17)]);
    const chunks: Buffer[] = [];
    for (let i = 0; i < data.length; i += CHUNK) chunks.push(sha(data.subarray(i, i + CHUNK)));
    for (const threads of [0, 2]) {
      const w = await writeObject(b, "o", "o", Readable.from([data]), { compression: { algorithm: "zstd", threads }, key, chunkSize: CHUNK, checksum: "sha256-chunked" });
      expect(readFileSync(join(root, "o"))[4], "format version").to.equal(3);
      expect(w.sha256).to.equal(sha(Buffer.concat(chunks)).toString("hex"));
      // The stream path (S3) and the positioned-read path (filesystem) agree.
      const stream: FilesystemBackend = Object.assign(Object.create(b) as FilesystemBackend, { openRead: undefined });
      for (const backend of [b, stream]) {
        const s = sink();
        const r = await readObject(backend, "o", "o", s.w, { key, threads, expectSha256: w.sha256 });
        expect(s.bytes().equals(data)).to.equal(true);
        expect(r.sha256).to.equal(w.sha256);
      }
      const one = await writeObject(b, "p", "p", Readable.from([data.subarray(0, 100)]), { compression: { algorithm: "zstd", threads }, chunkSize: CHUNK, checksum: "sha256-chunked" });
      expect(one.sha256).to.equal(sha(data.subarray(0, 100)).toString("hex"));
    }
  });

  it("round-trips many chunks on worker threads, storing incompressible chunks raw", async () => {
    const mixed = Buffer.concat([plain, randomBytes(10 * CHUNK), plain.subarray(0, 12345)]);
    // The source lends one buffer, refilled between reads: the writer must copy before asking again.
    const lent = Buffer.alloc(3000);
    async function* source(): AsyncGenerator<Buffer> {
      for (let off = 0; off < mixed.length; off += lent.length) {
        const n = mixed.copy(lent, 0, off, off + lent.length);
        yield lent.subarray(0, n);
        lent.fill(0xee);
      }
    }
    const w = await writeObject(b, "o", "o", source(), { compression: { algorithm: "zstd", threads: 2 }, key, chunkSize: CHUNK });
    const stored = readFileSync(join(root, "o"));
    let raw = 0;
    for (let off = 36; off < stored.length; off += 5 + stored.readUInt32BE(off + 1) + 16) if (stored[off] & 2) raw++;
    expect(raw, "fully random chunks are stored raw").to.be.within(9, 11);
    const s = sink();
    const r = await readObject(b, "o", "o", s.w, { key, threads: 2 });
    expect(s.bytes().equals(mixed)).to.equal(true);
    expect(r.sha256).to.equal(w.sha256);
    stored[36 + 5 + stored.readUInt32BE(37) + 16 + 5 + 7] ^= 1;
    writeFileSync(join(root, "o"), stored);
    const err = await readObject(b, "o", "o", sink().w, { key, threads: 2 }).catch((e: unknown) => e);
    expect(String(err)).to.contain('object "o" is corrupt at chunk 1');
  });

  it("detects a flipped byte anywhere, naming the object", async () => {
    await writeObject(b, "o", "dump.sql", Readable.from([plain]), { compression: { algorithm: "none" }, key, chunkSize: CHUNK });
    const good = readFileSync(join(root, "o"));
    for (let pos = 0; pos < good.length; pos += 997) {
      const bad = Buffer.from(good);
      bad[pos] ^= 0x40;
      writeFileSync(join(root, "o"), bad);
      const err = await readObject(b, "o", "dump.sql", sink().w, { key }).catch((e: unknown) => e);
      expect(err, `flip at ${pos}`).to.be.instanceOf(Error);
      expect(String(err), `flip at ${pos}`).to.contain('"dump.sql"');
    }
  });

  it("detects truncation, reordering and a rename", async () => {
    await writeObject(b, "o", "a", Readable.from([plain]), { compression: { algorithm: "none" }, key, chunkSize: CHUNK });
    const good = readFileSync(join(root, "o"));
    writeFileSync(join(root, "o"), good.subarray(0, good.length - 30));
    expect(String(await readObject(b, "o", "a", sink().w, { key }).catch((e: unknown) => e))).to.match(/truncated|corrupt/);
    const frame = 5 + CHUNK + 16;
    const swapped = Buffer.concat([good.subarray(0, 36), good.subarray(36 + frame, 36 + 2 * frame), good.subarray(36, 36 + frame), good.subarray(36 + 2 * frame)]);
    writeFileSync(join(root, "o"), swapped);
    expect(String(await readObject(b, "o", "a", sink().w, { key }).catch((e: unknown) => e))).to.contain("corrupt at chunk 0");
    writeFileSync(join(root, "o"), good);
    expect(String(await readObject(b, "o", "b", sink().w, { key }).catch((e: unknown) => e))).to.contain("corrupt at chunk 0");
  });

  it("reports a wrong key as a wrong key, and a missing key as such", async () => {
    await writeObject(b, "o", "o", Readable.from([plain]), { compression: { algorithm: "zstd" }, key: parseKey("correct horse battery staple"), chunkSize: CHUNK });
    expect(String(await readObject(b, "o", "o", sink().w, { key: parseKey("wrong horse battery staple") }).catch((e: unknown) => e))).to.contain("encryption key is not the one");
    expect(String(await readObject(b, "o", "o", sink().w, {}).catch((e: unknown) => e))).to.contain("DP_ENCRYPTION_KEY");
  });

  it("leaves no object when the input fails midway", async () => {
    const src = new Readable({ read() {} });
    src.push(plain);
    setTimeout(() => src.destroy(new Error("pg_dump died")), 20);
    const err = await writeObject(b, "ns/o", "o", src, { compression: { algorithm: "zstd" }, chunkSize: CHUNK }).catch((e: unknown) => e);
    expect(String(err)).to.contain("pg_dump died");
    expect(await b.stat("ns/o")).to.equal(undefined);
    const left = [];
    for await (const o of b.list("")) left.push(o.key);
    expect(left).to.deep.equal([]);
  });
});
