// What unpackDir reports and how much it keeps waiting for its writes: the byte count of files
// that come in several pieces, and the byte budget that bounds the queue when the source lends
// buffers for as long as the unpacker likes (a dedup restore) and the disk is slower than it.
import { expect } from "chai";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { bytesFrom } from "../dedup/testdata.ts";
import { ByteBudget } from "./byte-budget.ts";
import { ARCHIVE_MAGIC, S_DATA, S_END, S_HOLE, T_DIR, T_FILE, encodeEntry, segmentHead } from "./format.ts";
import { Lender, slowFileWrites } from "./test-support.ts";
import { unpackDir } from "./unpack.ts";

const T0 = 1_600_000_000_000;
type Seg = Buffer | number; // data, or a hole of that many bytes

interface File {
  p: string;
  segs: Seg[];
}

function size(f: File): number {
  return f.segs.reduce<number>((n, s) => n + (typeof s === "number" ? s : s.length), 0);
}

function content(f: File): Buffer {
  return Buffer.concat(f.segs.map((s) => (typeof s === "number" ? Buffer.alloc(s) : s)));
}

/** The directory stream of `files`, in the pieces a dedup restore yields: each segment head, then its chunk, on its own. */
function* pieces(files: File[]): Generator<Buffer> {
  yield ARCHIVE_MAGIC;
  yield encodeEntry(T_DIR, { p: ".", m: 0o755, u: 0, g: 0, t: T0 });
  for (const f of files) {
    yield encodeEntry(T_FILE, { p: f.p, m: 0o644, u: 0, g: 0, t: T0, s: size(f) });
    for (const s of f.segs) {
      if (typeof s === "number") yield segmentHead(S_HOLE, s);
      else {
        yield segmentHead(S_DATA, s.length);
        yield s;
      }
    }
    yield segmentHead(S_END, 0);
  }
  yield Buffer.from([0]);
}

/** `n` bytes of data in chunks of `chunk`. */
function chunks(seed: string, n: number, chunk: number): Buffer[] {
  const all = bytesFrom(seed, n);
  const out: Buffer[] = [];
  for (let off = 0; off < n; off += chunk) out.push(all.subarray(off, off + chunk));
  return out;
}

async function expectRestored(dir: string, files: File[]): Promise<void> {
  for (const f of files) {
    expect((await stat(join(dir, f.p))).size, f.p).to.equal(size(f));
    expect((await readFile(join(dir, f.p))).equals(content(f)), f.p).to.equal(true);
  }
}

describe("unpackDir: byte count and the bytes waiting for writes", function () {
  this.timeout(60_000);
  let tmp: string;
  beforeEach(async () => {
    tmp = await mkdtemp(join(tmpdir(), "dp-unpack-budget-"));
  });
  afterEach(async () => rm(tmp, { recursive: true, force: true }));

  // Files of one piece and of several (the first one data or a hole), holes inside and at the end.
  const varied: File[] = [
    { p: "small", segs: [bytesFrom("small", 1000)] },
    { p: "three-chunks", segs: chunks("three", 3 * 65536 + 123, 65536) },
    { p: "two-chunks", segs: chunks("two", 70_000, 65536) },
    { p: "hole-first", segs: [200_000, ...chunks("hf", 100_000, 65536)] },
    { p: "holes-between-and-after", segs: [bytesFrom("hb1", 50_000), 300_000, ...chunks("hb2", 140_000, 65536), 1 << 20] },
    { p: "empty", segs: [] },
  ];
  const total = varied.reduce((n, f) => n + size(f), 0);

  for (const mode of ["pool (no hold)", "held"] as const) {
    it(`reports the files' total size, counting the first piece of a multi-piece file once (${mode})`, async () => {
      const lender = new Lender();
      const res = await unpackDir(lender.source(pieces(varied)), tmp, mode === "held" ? lender.hold : undefined);
      expect(res).to.deep.equal({ entries: varied.length + 1, bytes: total });
      await expectRestored(tmp, varied);
      expect(lender.held, "every hold released").to.equal(0);
    });
  }

  describe("with writes slower than the source", () => {
    let undo: () => void;
    before(async () => {
      undo = await slowFileWrites(2);
    });
    after(() => undo());

    // 8 files of 1 MiB in 64 KiB chunks, and 40 small files of 48 KiB (copied whole).
    const files: File[] = [];
    for (let i = 0; i < 8; i++) {
      files.push({ p: `large-${i}`, segs: chunks(`large-${i}`, 1 << 20, 65536) });
      for (let j = 0; j < 5; j++) files.push({ p: `small-${i}-${j}`, segs: [bytesFrom(`small-${i}-${j}`, 48 << 10)] });
    }
    const LIMIT = 256 << 10;

    for (const mode of ["held", "pool (no hold)"] as const) {
      it(`never keeps more than its budget waiting for writes (${mode})`, async () => {
        const lender = new Lender();
        const budget = new ByteBudget(LIMIT);
        const res = await unpackDir(lender.source(pieces(files)), tmp, mode === "held" ? lender.hold : undefined, budget);
        expect(budget.peak).to.be.at.most(LIMIT);
        // The source outruns the writes, so the budget, not the source, is what stopped it.
        expect(budget.peak).to.be.at.least(LIMIT - (64 << 10));
        if (mode === "held") {
          expect(lender.peak, "chunks held at once").to.be.at.most(LIMIT);
          expect(lender.peak).to.be.above(0);
        }
        expect(budget.used, "every piece released").to.equal(0);
        expect(lender.held, "every hold released").to.equal(0);
        expect(res.bytes).to.equal(files.reduce((n, f) => n + size(f), 0));
        await expectRestored(tmp, files);
      });
    }

    it("would keep whole files waiting without it (the test sees an unbounded queue)", async () => {
      const lender = new Lender();
      const budget = new ByteBudget(2 ** 40);
      await unpackDir(lender.source(pieces(files)), tmp, lender.hold, budget);
      expect(budget.peak).to.be.above(4 << 20);
      expect(lender.peak).to.be.above(4 << 20);
    });
  });
});
