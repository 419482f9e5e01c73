import { expect } from "chai";
import fc from "fast-check";
import { type CdcParams, Chunker, DEFAULT_CDC, TREE_CDC, cdc, checkCdcParams, chunkLengths, cutLength } from "./cdc.ts";
import { DEFAULT_GEAR_SEED, gearTable } from "./gear.ts";
import { bytesFrom } from "./testdata.ts";

// Small chunks, so that streams of tens of KiB have tens of chunks.
const P: CdcParams = { min: 256, avg: 1024, max: 4096, nc: 1 };
const C = cdc(P);

async function* pieces(data: Buffer, cuts: number[]): AsyncGenerator<Buffer> {
  let at = 0;
  for (const c of [...cuts].sort((a, b) => a - b)) {
    if (c < at || c > data.length) continue;
    yield data.subarray(at, c);
    at = c;
  }
  yield data.subarray(at);
}

async function streamLengths(chunker: Chunker, source: AsyncIterable<Buffer>): Promise<{ lens: number[]; bytes: Buffer }> {
  const lens: number[] = [];
  const parts: Buffer[] = [];
  for await (const c of chunker.chunks(source)) {
    lens.push(c.length);
    parts.push(Buffer.from(c)); // chunks are lent: copy to keep
  }
  return { lens, bytes: Buffer.concat(parts) };
}

/** Chunk end offsets. */
function ends(lens: number[]): number[] {
  let at = 0;
  return lens.map((n) => (at += n));
}

describe("dedup/cdc: FastCDC", () => {
  it("cuts within [min, max] (only the last chunk may be shorter) and covers the input", () => {
    for (const alphabet of [256, 4, 1]) {
      const data = bytesFrom(`sizes-${alphabet}`, 300_000, alphabet);
      const lens = chunkLengths(C, data);
      expect(lens.reduce((a, b) => a + b, 0)).to.equal(data.length);
      lens.slice(0, -1).forEach((n) => expect(n).to.be.within(P.min + 1, P.max));
      expect(lens[lens.length - 1]).to.be.within(1, P.max);
      if (alphabet === 1) expect(lens.slice(0, -1).every((n) => n === lens[0]), "a run of one byte value cuts alike").to.equal(true);
    }
  });

  it("cuts where the paper's loop, a byte a turn, cuts (property: any params, data with runs, any start)", () => {
    // The reference: FastCDC's loop as written before it took four bytes a turn.
    const reference = (c: ReturnType<typeof cdc>, data: Uint8Array, start: number, available: number): number => {
      const { min, avg, max } = c.params;
      if (available <= min) return available;
      const n = Math.min(available, max);
      let h = 0;
      for (let j = Math.max(start, start + min - 32); j < start + min; j++) h = ((h << 1) + c.gear[data[j]!]!) | 0;
      for (let i = start + min; i < start + n; i++) {
        h = ((h << 1) + c.gear[data[i]!]!) | 0;
        if ((h & (i < start + Math.min(n, avg) ? c.maskS : c.maskL)) === 0) return i + 1 - start;
      }
      return n;
    };
    const params = fc.record({ minLog: fc.integer({ min: 6, max: 9 }), nc: fc.integer({ min: 0, max: 3 }) }).map(({ minLog, nc }) => cdc({ min: 1 << minLog, avg: 4 << minLog, max: 16 << minLog, nc }));
    fc.assert(
      fc.property(params, fc.uint8Array({ minLength: 1, maxLength: 40_000 }), fc.integer({ min: 0, max: 255 }), fc.nat(), (c, bytes, fill, seed) => {
        // Runs of one byte (no cut matches there: the max cut) among random bytes.
        const data = Buffer.from(bytes);
        data.fill(fill, seed % data.length, Math.min(data.length, (seed % data.length) + (seed % 20_000)));
        for (let at = 0; at < data.length; ) {
          const want = reference(c, data, at, data.length - at);
          expect(cutLength(c, data, at, data.length - at), `at ${at} of ${data.length}`).to.equal(want);
          at += want;
        }
      }),
      { numRuns: 300 },
    );
  });

  it("averages near avg on random data (normalized: few chunks near min or max)", () => {
    const lens = chunkLengths(C, bytesFrom("mean", 2_000_000));
    const mean = lens.reduce((a, b) => a + b, 0) / lens.length;
    expect(mean).to.be.within(P.avg, 1.5 * P.avg);
    expect(lens.filter((n) => n === P.max).length / lens.length).to.be.below(0.01);
  });

  it("streams the same chunks whatever the source's pieces; 0 B gives no chunk, 1 B one", async () => {
    const chunker = new Chunker(P);
    await fc.assert(
      fc.asyncProperty(fc.integer(), fc.integer({ min: 0, max: 40_000 }), fc.constantFrom(256, 3), fc.array(fc.integer({ min: 0, max: 40_000 }), { maxLength: 30 }), async (seed, len, alphabet, cuts) => {
        const data = bytesFrom(seed, len, alphabet);
        const { lens, bytes } = await streamLengths(chunker, pieces(data, cuts));
        expect(lens).to.deep.equal(chunkLengths(C, data));
        expect(bytes.equals(data)).to.equal(true);
      }),
      { numRuns: 100 },
    );
    expect((await streamLengths(chunker, pieces(Buffer.alloc(0), []))).lens).to.deep.equal([]);
    expect((await streamLengths(chunker, pieces(Buffer.from("x"), []))).lens).to.deep.equal([1]);
  });

  it("stops reading the source when the consumer stops, and refuses two streams at once on one chunker", async () => {
    let returned = false;
    async function* src(): AsyncGenerator<Buffer> {
      try {
        for (;;) yield bytesFrom("endless", 8192);
      } finally {
        returned = true;
      }
    }
    const chunker = new Chunker(P);
    for await (const _ of chunker.chunks(src())) break;
    expect(returned).to.equal(true);
    const a = chunker.chunks(src());
    await a.next();
    await chunker
      .chunks(src())
      .next()
      .then(
        () => expect.fail("two streams at once"),
        (err: Error) => expect(err.message).to.match(/one stream at a time/),
      );
    await a.return(undefined);
  });

  // An insertion into a stream: every boundary before it stays; once the two streams share a
  // boundary after it, every later one is shared (the same bytes from the same start). How soon
  // they meet is probabilistic: see the test after this one.
  it("resynchronises after an insertion (property)", () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.integer({ min: 1, max: 60_000 }),
        fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }),
        fc.integer({ min: 1, max: 5000 }),
        fc.constantFrom(256, 256, 4, 1),
        (seed, len, where, insLen, alphabet) => {
          const data = bytesFrom(seed, len, alphabet);
          const at = Math.floor(where * len);
          const ins = bytesFrom(`${seed}-ins`, insLen, alphabet);
          const edited = Buffer.concat([data.subarray(0, at), ins, data.subarray(at)]);
          const before = ends(chunkLengths(C, data));
          const after = ends(chunkLengths(C, edited));
          const kept = new Set(before);
          // Every boundary before the insertion is kept.
          for (const e of before) if (e <= at) expect(after, `boundary ${e} before the insertion at ${at}`).to.include(e);
          // After the insertion, the first shared boundary (shifted by insLen) is followed only by shared ones, both ways.
          const i = after.findIndex((e) => e - insLen > at && kept.has(e - insLen));
          expect(i, "the streams meet again (at the latest at their common end)").to.be.at.least(0);
          const tailAfter = after.slice(i).map((e) => e - insLen);
          const tailBefore = before.filter((e) => e >= tailAfter[0]);
          expect(tailAfter).to.deep.equal(tailBefore);
        },
      ),
      { numRuns: 150 },
    );
  });

  // The brief's wish, "no boundary moves further than the chunk after the insertion", holds for
  // most insertions but not all: with a minimum chunk size the two streams can leapfrog for a
  // few chunks (see cdc.ts). Measured over a fixed sample (deterministic, so not flaky).
  it("meets again within the chunk after an insertion for >= 90% of insertions, within 8 chunks for all (fixed sample)", () => {
    const counts: number[] = [];
    let restored = 0;
    const N = 400;
    for (let t = 0; t < N; t++) {
      const data = bytesFrom(`resync-${t}`, 40_000);
      const at = 1000 + (data.readUInt32BE(0) % 30_000);
      const ins = bytesFrom(`resync-ins-${t}`, 1 + (data.readUInt16BE(4) % 300));
      const edited = Buffer.concat([data.subarray(0, at), ins, data.subarray(at)]);
      const kept = new Set(ends(chunkLengths(C, data)));
      const after = chunkLengths(C, edited);
      let end = 0;
      let k = 0;
      for (const n of after) {
        const start = end;
        end += n;
        if (end <= at) continue;
        k++;
        // The chunk's bytes are new unless it ends at a shared boundary with a shared start (counted roughly: every chunk until the meeting).
        restored += end - start;
        if (end - ins.length > at && kept.has(end - ins.length)) break;
      }
      counts.push(k);
    }
    const within2 = counts.filter((k) => k <= 2).length / N;
    expect(within2).to.be.at.least(0.9);
    expect(Math.max(...counts)).to.be.at.most(8);
    // On average less than 2.5 mean chunk sizes (~1.2 KiB here) are cut differently per insertion.
    expect(restored / N).to.be.below(2.5 * 1.2 * P.avg);
  });

  it("depends on the gear table: another seed cuts elsewhere; the same seed the same", () => {
    const data = bytesFrom("gear", 100_000);
    const other = cdc(P, gearTable(Buffer.from("another repo")));
    expect(chunkLengths(cdc(P, gearTable(DEFAULT_GEAR_SEED)), data)).to.deep.equal(chunkLengths(C, data));
    expect(chunkLengths(other, data)).to.not.deep.equal(chunkLengths(C, data));
  });

  it("takes the defaults and refuses unusable sizes", () => {
    expect(checkCdcParams(DEFAULT_CDC)).to.equal(DEFAULT_CDC);
    expect(checkCdcParams(TREE_CDC)).to.equal(TREE_CDC);
    for (const bad of [
      { min: 32, avg: 1024, max: 4096 },
      { min: 1024, avg: 1024, max: 4096 },
      { min: 256, avg: 1000, max: 4096 },
      { min: 256, avg: 1024, max: 1024 },
      { min: 256, avg: 1024, max: 128 << 20 },
      { min: 256, avg: 1024, max: 4096, nc: 4 },
    ]) expect(() => checkCdcParams(bad), JSON.stringify(bad)).to.throw(RangeError);
  });
});
