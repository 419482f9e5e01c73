import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { FilesystemBackend } from "@dataprotection/storage";
import { decodeHeader, encodeHeader, headerLength } from "./format/header.ts";
import { parseKey } from "./format/keys.ts";
import { type ReadOptions, readObject } from "./object-reader.ts";
import { writeObject } from "./object-writer.ts";

const CHUNK = 4096;
const A = "6f1c2f9e-0d3a-4c55-9b1e-0a1b2c3d4e5f";
const B = "0e9d8c7b-6a59-4847-a635-241302f1e0d9";

function sink(): { w: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { w: new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }), bytes: () => Buffer.concat(parts) };
}

describe("objects bound to their backup (format v5)", () => {
  let root: string;
  let b: FilesystemBackend;
  // The stream path (S3) next to the positioned-read path (filesystem).
  let stream: FilesystemBackend;
  const key = parseKey("cd".repeat(32));
  const data = Buffer.concat([Buffer.from("row\n".repeat(5000)), randomBytes(2 * CHUNK + 5)]);
  const read = (name: string, opts: ReadOptions, backend = b): Promise<unknown> => readObject(backend, name, name, sink().w, opts).catch((e: unknown) => e);
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "dp-bind-"));
    b = new FilesystemBackend({ root });
    stream = Object.assign(Object.create(b) as FilesystemBackend, { openRead: undefined });
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("round-trips with the backup id recorded and authenticated, both checksums, encrypted or not, over both readers", async () => {
    for (const checksum of ["sha256-tags", "sha256-chunked"] as const) {
      for (const k of [key, undefined]) {
        const w = await writeObject(b, "o", "o", Readable.from([data]), { compression: { algorithm: "zstd", threads: 1 }, key: k, chunkSize: CHUNK, checksum, backupId: A });
        const stored = readFileSync(join(root, "o"));
        expect(stored[4], "format version").to.equal(5);
        expect(headerLength(stored)).to.equal(36 + 2 + A.length);
        expect(stored.subarray(38, 38 + A.length).toString()).to.equal(A);
        expect(w.storedSize).to.equal(statSync(join(root, "o")).size);
        for (const backend of [b, stream]) {
          for (const backupId of [A, undefined]) {
            const s = sink();
            const r = await readObject(backend, "o", "o", s.w, { key: k, threads: 1, expectSha256: w.sha256, backupId });
            expect(s.bytes().equals(data), `${checksum} ${backupId}`).to.equal(true);
            expect(r).to.deep.include({ sha256: w.sha256, storedSize: w.storedSize });
            expect(r.header).to.include({ version: 5, checksum, backupId: A });
          }
        }
      }
    }
  });

  it("reads the header extension off a stream that delivers it a few bytes at a time", async () => {
    const w = await writeObject(b, "o", "o", Readable.from([data]), { compression: { algorithm: "zstd" }, key, chunkSize: CHUNK, backupId: A });
    const stored = readFileSync(join(root, "o"));
    for (const step of [1, 3, 37]) {
      // S3 bodies come in pieces of any size: the header may end up split anywhere.
      const trickle = Object.assign(Object.create(b) as FilesystemBackend, {
        openRead: undefined,
        get: () =>
          Promise.resolve(
            Readable.from(
              (async function* () {
                for (let off = 0; off < stored.length; off += off < 64 ? step : 4096) {
                  await new Promise((r) => setImmediate(r));
                  yield stored.subarray(off, off + (off < 64 ? step : 4096));
                }
              })(),
              { objectMode: false },
            ),
          ),
      });
      const s = sink();
      const r = await readObject(trickle, "o", "o", s.w, { key, backupId: A, expectSha256: w.sha256 });
      expect(s.bytes().equals(data), `step ${step}`).to.equal(true);
      expect(r.storedSize, `step ${step}`).to.equal(stored.length);
    }
  });

  it("still writes v4 (36-byte header, no id) without a backup id, and reads it without one", async () => {
    const w = await writeObject(b, "o", "o", Readable.from([data]), { compression: { algorithm: "zstd" }, key, chunkSize: CHUNK });
    const stored = readFileSync(join(root, "o"));
    expect(stored[4]).to.equal(4);
    expect(headerLength(stored)).to.equal(36);
    for (const backend of [b, stream]) {
      const r = await readObject(backend, "o", "o", sink().w, { key, expectSha256: w.sha256 });
      expect(r.header.backupId).to.equal(undefined);
      expect(r.storedSize).to.equal(stored.length);
    }
  });

  it("refuses another backup's object before opening a chunk, naming both ids", async () => {
    await writeObject(b, "o", "dump.sql", Readable.from([data]), { compression: { algorithm: "zstd" }, key, chunkSize: CHUNK, backupId: A });
    for (const backend of [b, stream]) {
      const err = await readObject(backend, "o", "dump.sql", sink().w, { key, backupId: B }).catch((e: unknown) => e);
      expect(String(err)).to.contain(`object "dump.sql" belongs to another backup: it was written for backup ${A}, this is backup ${B}`);
    }
  });

  it("refuses a relabelled id (the id is authenticated with every chunk) and a flipped byte in the header, the id extension or the data", async () => {
    await writeObject(b, "o", "o", Readable.from([data]), { compression: { algorithm: "none" }, key, chunkSize: CHUNK, backupId: A });
    const good = readFileSync(join(root, "o"));
    const relabelled = Buffer.from(good);
    relabelled.write(B, 38, "latin1");
    writeFileSync(join(root, "o"), relabelled);
    expect(String(await read("o", { key, backupId: B }))).to.contain('object "o" is corrupt at chunk 0 (authentication failed)');
    // Unencrypted: the digest covers the id just the same.
    await writeObject(b, "p", "p", Readable.from([data]), { compression: { algorithm: "none" }, chunkSize: CHUNK, backupId: A });
    const plain = readFileSync(join(root, "p"));
    plain.write(B, 38, "latin1");
    writeFileSync(join(root, "p"), plain);
    expect(String(await read("p", { backupId: B }))).to.contain('object "p" is corrupt at chunk 0 (checksum mismatch)');
    // Cut inside the id: both readers say so.
    writeFileSync(join(root, "o"), good.subarray(0, 40));
    for (const backend of [b, stream]) expect(String(await read("o", { key, backupId: A }, backend))).to.contain('object "o" is truncated inside its header');
    const where = { header: 10, "checksum byte": 36, "id length": 37, id: 38 + 5, data: 38 + A.length + 5 + 100, "a later chunk": good.length - 200 };
    for (const [what, pos] of Object.entries(where)) {
      const bad = Buffer.from(good);
      bad[pos] ^= 0x01;
      writeFileSync(join(root, "o"), bad);
      for (const backupId of [A, undefined]) {
        const err = await read("o", { key, backupId });
        expect(err, `${what} ${backupId}`).to.be.instanceOf(Error);
        expect(String(err), what).to.contain('object "o"');
      }
    }
  });

  it("reads an object from before binding (v4) with DP_BACKUP_ID only against the checksum the operator recorded", async () => {
    const w = await writeObject(b, "o", "o", Readable.from([data]), { compression: { algorithm: "zstd" }, key, chunkSize: CHUNK });
    const s = sink();
    await readObject(b, "o", "o", s.w, { key, backupId: B, expectSha256: w.sha256, recorded: true });
    expect(s.bytes().equals(data)).to.equal(true);
    const refused = "predates backup binding (format v4, no backup id) and no recorded checksum was given for it (DP_EXPECT_CHECKSUMS)";
    expect(String(await read("o", { key, backupId: B }))).to.contain(refused);
    // manifest.json's checksum is not a record: whoever swaps the object can edit it.
    expect(String(await read("o", { key, backupId: B, expectSha256: w.sha256 }))).to.contain(refused);
    expect(String(await read("o", { key, backupId: B, expectSha256: "0".repeat(64), recorded: true }))).to.contain("does not match");
  });

  it("encodes and decodes the header extension exactly, and refuses a malformed one", () => {
    const base = { compression: "zstd", encryption: "aes-256-gcm", kdf: "raw", chunkSize: CHUNK, salt: randomBytes(16), keyCheck: randomBytes(8) } as const;
    for (const checksum of ["sha256-tags", "sha256-chunked"] as const) {
      const h = encodeHeader({ ...base, checksum, backupId: A });
      expect(decodeHeader(h, "o")).to.deep.include({ version: 5, checksum, backupId: A });
    }
    expect(encodeHeader({ ...base, checksum: "sha256-chunked" })[4]).to.equal(3);
    const h = encodeHeader({ ...base, checksum: "sha256-tags", backupId: A });
    const bad = (mutate: (x: Buffer) => Buffer): string => {
      try {
        decodeHeader(mutate(Buffer.from(h)), "o");
        return "accepted";
      } catch (err) {
        return String(err);
      }
    };
    expect(bad((x) => x.subarray(0, x.length - 1))).to.contain("truncated backup id");
    expect(bad((x) => ((x[36] = 7), x))).to.contain("unknown checksum");
    expect(bad((x) => ((x[38] = 0x20), x))).to.contain("bad backup id");
    expect(bad((x) => ((x[4] = 6), x))).to.contain("unsupported version 6");
    expect(() => encodeHeader({ ...base, checksum: "sha256-tags", backupId: "a b" })).to.throw("is not 1 to 253 characters");
  });
});
