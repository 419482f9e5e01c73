import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { FilesystemBackend } from "@dataprotection/storage";
import { parseKey } from "../format/keys.ts";
import { type ChunkConsumer, readObject } from "../object-reader.ts";
import { writeObject } from "../object-writer.ts";
import type { ChunkSpec } from "./codec.ts";
import { PoolLender } from "./lender.ts";
import type { ChunkPool } from "./pool.ts";

const CHUNK = 4096;

/** A lender that remembers every pool it handed out. */
class CountingLender extends PoolLender {
  readonly lent: ChunkPool[] = [];
  override lend(spec: ChunkSpec, threads: number, count: number, inSize: number, outSize: number): ChunkPool {
    const p = super.lend(spec, threads, count, inSize, outSize);
    this.lent.push(p);
    return p;
  }
}

function collect(): { w: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { w: new Writable({ write: (c: Buffer, _e, cb) => (parts.push(c), cb()) }), bytes: () => Buffer.concat(parts) };
}

describe("chunk pools lent across the objects of one command", () => {
  let root: string;
  let b: FilesystemBackend;
  const key = parseKey("cd".repeat(32));
  // Each object gets its own per-object key (salt), header and name: the threads must take them all.
  const objects = Array.from({ length: 6 }, (_, i) => ({
    name: `wal/seg-${i}`,
    data: Buffer.concat([Buffer.from(`segment ${i}\n`.repeat(900 + i * 50)), randomBytes(2 * CHUNK + i)]),
    checksum: i % 2 === 0 ? ("sha256-tags" as const) : ("sha256-chunked" as const),
  }));
  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), "dp-lender-"));
    b = new FilesystemBackend({ root });
    for (const o of objects) {
      await writeObject(b, o.name, o.name, Readable.from([o.data]), { compression: { algorithm: "zstd", threads: 2 }, key, chunkSize: CHUNK, checksum: o.checksum });
    }
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("reads every object byte-identical through one pool (its threads started once), into a Writable or a consumer", async () => {
    const pools = new CountingLender();
    try {
      for (const [i, o] of objects.entries()) {
        const s = collect();
        const parts: Buffer[] = [];
        const consumer: ChunkConsumer = async (chunks) => {
          for await (const c of chunks) parts.push(Buffer.from(c));
        };
        const r = await readObject(b, o.name, o.name, i < 3 ? s.w : consumer, { key, threads: 2, pools });
        expect((i < 3 ? s.bytes() : Buffer.concat(parts)).equals(o.data), o.name).to.equal(true);
        expect(r.size).to.equal(o.data.length);
      }
    } finally {
      await pools.close();
    }
    // Writables and consumers get different slot counts: a pool for the first three, another for the rest.
    expect(new Set(pools.lent).size).to.equal(2);
    expect(pools.lent).to.have.length(objects.length);
  });

  it("after an object that fails, the next one gets fresh threads and reads correctly; another chunk size gets its own pool", async () => {
    const stored = readFileSync(join(root, objects[2]!.name));
    stored[36 + 5 + stored.readUInt32BE(37) + 16 + 5 + 7] ^= 1; // inside chunk 1
    writeFileSync(join(root, objects[2]!.name), stored);
    await writeObject(b, "big", "big", Readable.from([objects[0]!.data]), { compression: { algorithm: "zstd", threads: 2 }, key, chunkSize: 2 * CHUNK });
    const pools = new CountingLender();
    try {
      const read = async (name: string): Promise<Buffer> => {
        const s = collect();
        await readObject(b, name, name, s.w, { key, threads: 2, pools });
        return s.bytes();
      };
      expect((await read(objects[1]!.name)).equals(objects[1]!.data)).to.equal(true);
      const err = await read(objects[2]!.name).catch((e: unknown) => e);
      expect(String(err)).to.contain(`object "${objects[2]!.name}" is corrupt at chunk 1`);
      expect((await read(objects[3]!.name)).equals(objects[3]!.data)).to.equal(true);
      expect((await read("big")).equals(objects[0]!.data)).to.equal(true);
      expect((await read(objects[4]!.name)).equals(objects[4]!.data)).to.equal(true);
    } finally {
      await pools.close();
    }
    const [first, failed, afterFailure, big, last] = pools.lent;
    expect(failed, "the pool is reused up to the failure").to.equal(first);
    expect(afterFailure, "a pool that saw a failure is not reused").to.not.equal(failed);
    expect(big, "another chunk size: another pool").to.not.equal(afterFailure);
    expect(last).to.not.equal(big);
    expect(first!.idle, "closed").to.equal(false);
  });
});
