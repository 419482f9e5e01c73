import { expect } from "chai";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FilesystemBackend, type RepoBackend } from "@dataprotection/storage";
import { parseKey } from "../format/keys.ts";
import { BlobCodec } from "./blob.ts";
import { Chunker, chunkLengths } from "./cdc.ts";
import { maxChunk } from "./config.ts";
import { ContentStore } from "./content.ts";
import { BlobEncoders, type Encoding } from "./encoders.ts";
import { BLOB_DATA, BLOB_PATCH, BLOB_TREE } from "./format.ts";
import { chunkId } from "./ids.ts";
import { PackWriter } from "./pack-writer.ts";
import { DedupRepo } from "./repo.ts";
import { Sealer } from "./seal.ts";
import { bytesFrom } from "./testdata.ts";
import { collector, failure } from "./test-support.ts";

const KEY = parseKey("3c".repeat(32));
const RAW = Buffer.from("3c".repeat(32), "hex");
const ID_KEY = Buffer.alloc(32, 0x1d);
const SMALL = { chunker: { min: 16 << 10, avg: 64 << 10, max: 256 << 10 }, treeChunker: { min: 1024, avg: 4096, max: 16384 }, packSize: 256 << 10 };

async function* pieces(b: Buffer): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += 65536) yield b.subarray(off, off + 65536);
}

describe("dedup/encoders: new blobs compressed and sealed on worker threads", function () {
  this.timeout(60_000);

  for (const key of [RAW, undefined]) {
    it(`each blob opens to its plaintext, as the main thread's encoding does (${key ? "encrypted" : "unencrypted"}): text, random bytes, empty, larger than the threads take`, async () => {
      const codec = new BlobCodec(new Sealer(key), 3);
      const encoders = new BlobEncoders(new BlobCodec(new Sealer(key), 3), key, ID_KEY, 2, 64 << 10);
      const blobs = [
        bytesFrom("text", 60_000, 8),
        bytesFrom("rand", 64 << 10),
        Buffer.alloc(0),
        bytesFrom("large", 200_000, 4),
        ...Array.from({ length: 12 }, (_, i) => bytesFrom(`b${i}`, 1000 + i * 5000, i % 2 ? 256 : 16)),
      ];
      try {
        const encodings: Encoding[] = [];
        for (const [i, plain] of blobs.entries()) {
          const source = Buffer.from(plain);
          const type = i % 3 === 0 ? BLOB_TREE : i % 3 === 1 ? BLOB_DATA : BLOB_PATCH;
          const e = await encoders.submit(type, Buffer.alloc(32, i), source);
          source.fill(0xee); // the caller may reuse its buffer once submit resolved
          const { sealed, flags } = await e.done;
          expect(codec.decode({ type, flags, id: Buffer.alloc(32, i), rawLength: plain.length }, Buffer.from(sealed)).equals(plain), `blob ${i}`).to.equal(true);
          expect(flags, `blob ${i}'s flags`).to.equal(codec.encode(type, Buffer.alloc(32, i), plain).flags);
          encodings.push(e);
          e.release();
        }
      } finally {
        await encoders.close();
      }
    });
  }

  it("holds a caller back while its shared memory is full, and fails what is in flight once closed", async () => {
    // Unencrypted, a sealed blob is its plaintext and a 32-byte digest: room for two of 4,000 bytes.
    const encoders = new BlobEncoders(new BlobCodec(new Sealer(undefined), 3), undefined, ID_KEY, 1, 4096, { bytes: 2 * (4000 + 32), here: 0 });
    const held: Encoding[] = [];
    for (let i = 0; i < 3; i++) held.push(await encoders.submit(BLOB_DATA, Buffer.alloc(32, i), bytesFrom(i, 4000, 4))); // the first inline, two in shared memory
    let fourth = false;
    const next = encoders.submit(BLOB_DATA, Buffer.alloc(32, 9), bytesFrom(9, 4000, 4)).then((e) => ((fourth = true), e));
    await Promise.all(held.map((e) => e.done));
    await new Promise((r) => setTimeout(r, 50));
    expect(fourth, "no room: the fourth waits").to.equal(false);
    held[2]!.release();
    await new Promise((r) => setTimeout(r, 50));
    expect(fourth, "the newer blob's memory is back, the older's not: still no room").to.equal(false);
    held[1]!.release();
    const e = await next;
    expect(fourth).to.equal(true);
    await encoders.close();
    expect(await failure(e.done)).to.match(/closed/);
    expect(await failure(encoders.submit(BLOB_DATA, Buffer.alloc(32, 10), Buffer.from("x")))).to.match(/closed/);
  });

  it("names a blob sent without an id (on the thread, or here), as chunkId does, and seals it under that id", async () => {
    const codec = new BlobCodec(new Sealer(RAW), 3);
    const encoders = new BlobEncoders(new BlobCodec(new Sealer(RAW), 3), RAW, ID_KEY, 1, 64 << 10, { bytes: 2 * ((40 << 10) + 28), here: 1 });
    try {
      const blobs = Array.from({ length: 6 }, (_, i) => bytesFrom(`u${i}`, 30_000 + i * 1000, i % 2 ? 8 : 256));
      const held: Encoding[] = [];
      // Held, so the ring fills: the first is encoded inline, two on the thread, one here; the last waits for room.
      for (const plain of blobs.slice(0, 4)) held.push(await encoders.submit(BLOB_DATA, undefined, Buffer.from(plain)));
      const last = encoders.submit(BLOB_DATA, undefined, Buffer.from(blobs[4]!));
      const check = async (i: number, e: Encoding): Promise<void> => {
        const { sealed, flags, id } = await e.done;
        expect(id.equals(chunkId(ID_KEY, blobs[i]!)), `blob ${i}'s id`).to.equal(true);
        expect(codec.decode({ type: BLOB_DATA, flags, id, rawLength: blobs[i]!.length }, Buffer.from(sealed)).equals(blobs[i]!), `blob ${i}`).to.equal(true);
        e.release();
      };
      for (const [i, e] of held.entries()) await check(i, e);
      await check(4, await last);
      await check(5, await encoders.submit(BLOB_DATA, undefined, Buffer.from(blobs[5]!)));
    } finally {
      await encoders.close();
    }
  });

  it("encodes on the caller's thread while its shared memory is full, `here` blobs at most until they are released", async () => {
    const encoders = new BlobEncoders(new BlobCodec(new Sealer(undefined), 3), undefined, ID_KEY, 1, 4096, { bytes: 2 * (4000 + 32), here: 1 });
    try {
      const held: Encoding[] = [];
      for (let i = 0; i < 3; i++) held.push(await encoders.submit(BLOB_DATA, Buffer.alloc(32, i), bytesFrom(i, 4000, 4))); // the first inline, two in shared memory
      const here = await encoders.submit(BLOB_DATA, Buffer.alloc(32, 3), bytesFrom(3, 4000, 4));
      expect((await here.done).sealed.buffer, "encoded into a buffer of its own").to.not.equal((await held[1]!.done).sealed.buffer);
      let fifth = false;
      const next = encoders.submit(BLOB_DATA, Buffer.alloc(32, 4), bytesFrom(4, 4000, 4)).then((e) => ((fifth = true), e));
      await new Promise((r) => setTimeout(r, 50));
      expect(fifth, "one encoded here and not released: the fifth waits").to.equal(false);
      here.release();
      const e = await next;
      expect(fifth, "released: the fifth is encoded here").to.equal(true);
      const { sealed, flags } = await e.done;
      const plain = new BlobCodec(new Sealer(undefined), 3).decode({ type: BLOB_DATA, flags, id: Buffer.alloc(32, 4), rawLength: 4000 }, Buffer.from(sealed));
      expect(plain.equals(bytesFrom(4, 4000, 4))).to.equal(true);
    } finally {
      await encoders.close();
    }
  });

  it("ContentStore: a stream of new chunks is named on the threads; backed up again, it stores nothing and stops sending chunks unnamed once it knows", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "dp-enc-"));
    const encoders: BlobEncoders[] = [];
    try {
      const backend = new FilesystemBackend({ root: tmp });
      await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL });
      const repo = await DedupRepo.open(backend, { key: KEY, prefix: "repo" });
      const store = (repo as unknown as { store: ConstructorParameters<typeof PackWriter>[0] }).store;
      const dump = Buffer.concat([bytesFrom("dump", 1_500_000, 20), bytesFrom("r", 1_500_000)]);
      const runs: { content: unknown[]; unnamed: number; named: number; newBlobs: number }[] = [];
      for (let run = 0; run < 2; run++) {
        const enc = new BlobEncoders(store.codec, store.keys.data, store.keys.id, 1, maxChunk(store.config));
        encoders.push(enc);
        const counts = { unnamed: 0, named: 0 };
        const submit = enc.submit.bind(enc);
        enc.submit = (type, id, plain) => (counts[id ? "named" : "unnamed"]++, submit(type, id, plain));
        const writer = new PackWriter(store, { encoders: enc });
        const { content } = await new ContentStore(new Chunker(SMALL.chunker), store.keys.id, writer, BLOB_DATA, true).store(pieces(dump));
        await writer.finish();
        runs.push({ content, ...counts, newBlobs: writer.stats.blobs }); // finish() put its packs in store.index
      }
      const [first, second] = runs as [(typeof runs)[0], (typeof runs)[0]];
      const chunks = chunkLengths(new Chunker(SMALL.chunker).cdc, dump).length;
      expect(first.content).to.have.length(chunks);
      expect(first.content.every((x) => typeof x === "string" && x.length === 64), "every id filled in").to.equal(true);
      expect(first.unnamed, "new chunks: all sent unnamed").to.equal(chunks);
      expect(first.newBlobs).to.equal(chunks);
      expect(second.content, "the same content list").to.deep.equal(first.content);
      expect(second.newBlobs, "nothing new").to.equal(0);
      expect(second.named, "known chunks are not encoded").to.equal(0);
      expect(second.unnamed, "sent unnamed only until the first came back known (a ring's worth)").to.be.above(0).and.below(chunks / 3);
    } finally {
      for (const e of encoders) await e.close();
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("PackWriter: an encoding that fails fails the writer at finish; nothing is indexed", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "dp-enc-"));
    try {
      const backend = new FilesystemBackend({ root: tmp });
      await DedupRepo.init(backend, { prefix: "repo", ...SMALL });
      const repo = await DedupRepo.open(backend, { prefix: "repo" });
      const store = (repo as unknown as { store: ConstructorParameters<typeof PackWriter>[0] }).store;
      let released = 0;
      const gone = Promise.reject(new Error("worker gone"));
      gone.catch(() => undefined); // as BlobEncoders' own
      const broken = { submit: async (): Promise<Encoding> => ({ done: gone, release: () => void released++ }) } as unknown as BlobEncoders;
      const writer = new PackWriter(store, { encoders: broken });
      expect(await writer.add(BLOB_DATA, Buffer.alloc(32, 1), Buffer.from("one"))).to.equal(true);
      expect(writer.has(Buffer.alloc(32, 1).toString("hex")), "claimed while encoded").to.equal(true);
      expect(await failure(writer.finish())).to.equal("worker gone");
      expect(released, "the slot is given back").to.equal(1);
      expect(writer.indexFiles).to.deep.equal([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("a repo backing up with encoder threads stores what it stores without them: same chunks, byte-identical restores, check clean", async () => {
    const tmp = mkdtempSync(join(tmpdir(), "dp-enc-"));
    try {
      const src = join(tmp, "src");
      mkdirSync(join(src, "d"), { recursive: true });
      writeFileSync(join(src, "log.txt"), bytesFrom("log", 1_500_000, 12));
      writeFileSync(join(src, "d/rand.bin"), bytesFrom("rand", 900_000));
      writeFileSync(join(src, "d/small"), "small");
      const dump = Buffer.concat([bytesFrom("dump", 700_000, 20), bytesFrom("dump", 700_000, 20), bytesFrom("r", 300_000)]);
      const results: { newChunks: number; newBytes: number; tree: string[] }[] = [];
      for (const threads of [0, 2]) {
        const backend: RepoBackend = new FilesystemBackend({ root: join(tmp, `r${threads}`) });
        mkdirSync(join(tmp, `r${threads}`));
        await DedupRepo.init(backend, { key: KEY, prefix: "repo", ...SMALL, salt: Buffer.alloc(16, 7) });
        const repo = await DedupRepo.open(backend, { key: KEY, prefix: "repo", threads });
        const dir = await repo.backupDir(src, { target: "src" });
        const stream = await repo.backupStream("dump.sql", pieces(dump));
        results.push({ newChunks: dir.stats.newChunks + stream.stats.newChunks, newBytes: dir.stats.newBytes + stream.stats.newBytes, tree: [...dir.tree, ...stream.tree] });
        const c = collector();
        await repo.restoreStream(stream.id, c.w);
        expect(c.bytes().equals(dump), `stream restored (threads ${threads})`).to.equal(true);
        const out = join(tmp, `out${threads}`);
        await repo.restoreDir(dir.id, out);
        for (const f of ["log.txt", "d/rand.bin", "d/small"]) expect(readFileSync(join(out, f)).equals(readFileSync(join(src, f))), `${f} restored (threads ${threads})`).to.equal(true);
        const report = await repo.check({ readData: true });
        expect(report.errors, `check (threads ${threads})`).to.deep.equal([]);
      }
      expect(results[1], "the same chunks with threads as without").to.deep.equal(results[0]);
      expect(results[0]!.newChunks, "several chunks, so the threads took part").to.be.above(20);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});
