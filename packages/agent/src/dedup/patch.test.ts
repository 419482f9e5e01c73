import { expect } from "chai";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { BLOB_DATA, BLOB_PATCH } from "./format.ts";
import { applyPatch, decodePatch, diffSegments, encodePatch, literalBytes } from "./patch.ts";
import { decodeIndexFile, encodeIndexFile, RepoIndex } from "./repo-index.ts";
import { type PackEntry, encodeHeader } from "./packfile.ts";

const id = (b: number): Buffer => Buffer.alloc(32, b);

describe("dedup/patch: a chunk as pieces of whole chunks plus the bytes found in none", () => {
  it("rebuilds the chunk from its bases for any overwrite, append, cut or shift (property)", () => {
    const edit = fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }) });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.uint8Array({ minLength: 0, maxLength: 3000 }), fc.array(edit, { maxLength: 5 }), fc.integer({ min: -300, max: 900 }), fc.constantFrom(16, 64, 256), fc.integer({ min: -500, max: 500 }), (a, b, edits, grow, block, shift) => {
        // The file was a then b (two of the parent's chunks); the new chunk starts `shift` bytes into a (or before it).
        const file = Buffer.concat([a, b]);
        const from = Math.max(-200, Math.min(shift, file.length));
        let next = from >= 0 ? Buffer.from(file.subarray(from)) : Buffer.concat([randomBytes(-from), file]);
        for (const e of edits) if (next.length > 0) Buffer.from(e.bytes).copy(next, e.at % next.length);
        next = grow >= 0 ? Buffer.concat([next, randomBytes(grow)]) : next.subarray(0, Math.max(0, next.length + grow));
        const sources = [
          { base: 0, offset: 0, start: -from, end: -from + a.length },
          { base: 1, offset: 0, start: -from + a.length, end: -from + file.length },
        ].map((x) => (x.start < 0 ? { ...x, offset: -x.start, start: 0 } : x)).filter((x) => x.end > x.start);
        const segments = diffSegments([a, b], next, sources, block);
        // They cover the chunk, in order.
        expect(segments.reduce((n, g) => n + g.length, 0)).to.equal(next.length);
        const plain = encodePatch([id(7), id(8)], next, segments);
        const d = decodePatch(plain)!;
        expect(d.bases.map((x) => x[0])).to.deep.equal([7, 8]);
        expect(d.size).to.equal(next.length);
        const out = applyPatch([a, b], plain, d);
        expect(out && Buffer.compare(out, next)).to.equal(0);
      }),
      { numRuns: 300 },
    );
  });

  it("carries about the bytes that changed: one 8 KiB page of 512 KiB, a grown tail, a chunk straddling two", () => {
    const base = randomBytes(512 << 10);
    const whole = [{ base: 0, offset: 0, start: 0, end: base.length }];
    const next = Buffer.from(base);
    randomBytes(8192).copy(next, 3 * 8192);
    expect(literalBytes(diffSegments([base], next, whole))).to.equal(8192);
    const off = Buffer.from(base);
    randomBytes(8192).copy(off, 100_001);
    expect(literalBytes(diffSegments([base], off, whole))).to.be.within(8192, 8192 + 512);
    const grown = Buffer.concat([base, Buffer.from("appended line\n")]);
    expect(diffSegments([base], grown, whole)).to.deep.equal([{ base: 0, offset: 0, length: base.length }, { base: -1, offset: 0, length: 14 }]);
    // The second half of one chunk and the first of the next: nothing literal.
    const other = randomBytes(300_000);
    const straddle = Buffer.concat([base.subarray(400_000), other.subarray(0, 100_000)]);
    const sources = [{ base: 0, offset: 400_000, start: 0, end: base.length - 400_000 }, { base: 1, offset: 0, start: base.length - 400_000, end: straddle.length }];
    expect(diffSegments([base, other], straddle, sources)).to.deep.equal([{ base: 0, offset: 400_000, length: base.length - 400_000 }, { base: 1, offset: 0, length: 100_000 }]);
  });

  it("refuses a malformed patch, and bases it cannot be of", () => {
    const base = Buffer.from("0123456789abcdef");
    const next = Buffer.from("0123456789ABCDEF+tail");
    const plain = encodePatch([id(1)], next, diffSegments([base], next, [{ base: 0, offset: 0, start: 0, end: 16 }], 4));
    expect(applyPatch([base], plain, decodePatch(plain)!)?.toString()).to.equal(next.toString());
    expect(decodePatch(plain.subarray(0, plain.length - 1))).to.equal(undefined); // bytes missing
    expect(decodePatch(Buffer.concat([plain, Buffer.from("x")]))).to.equal(undefined); // bytes extra
    const badVersion = Buffer.from(plain);
    badVersion[0] = 9;
    expect(decodePatch(badVersion)).to.equal(undefined);
    const noBases = Buffer.from(plain);
    noBases[1] = 0;
    expect(decodePatch(noBases)).to.equal(undefined);
    const longer = Buffer.from(plain);
    longer.writeUInt32BE(next.length + 1, 2 + 32); // chunk length disagrees with the segments
    expect(decodePatch(longer)).to.equal(undefined);
    const otherBase = Buffer.from(plain);
    otherBase[2 + 32 + 8] = 2; // the first segment copies from a base the patch does not have
    expect(decodePatch(otherBase)).to.equal(undefined);
    // A base shorter than a segment copies from it.
    expect(applyPatch([Buffer.from("0123")], plain, decodePatch(plain)!)).to.equal(undefined);
    expect(() => encodePatch([], next, [])).to.throw(/a patch of 0 bases/);
  });

  it("index entries carry a patch's bases and length; a patch whose bases are not all there is not there to dedup against", () => {
    const entries: PackEntry[] = [
      { type: BLOB_DATA, flags: 0, id: id(1), offset: 0, length: 100, rawLength: 60 },
      { type: BLOB_PATCH, flags: 0, id: id(2), offset: 100, length: 50, rawLength: 30, patch: { bases: [id(1)], size: 60 } },
      { type: BLOB_PATCH, flags: 0, id: id(3), offset: 150, length: 50, rawLength: 30, patch: { bases: [id(1), id(9)], size: 70 } },
    ];
    const back = decodeIndexFile(encodeIndexFile([{ pack: "ab".repeat(32), entries: [...entries] }]), "x");
    expect(back[0]!.entries).to.deep.equal(entries);
    expect(encodeHeader([...entries]).readUInt8(0)).to.equal(2);
    const index = new RepoIndex();
    index.add(back[0]!);
    expect(index.get(id(2).toString("hex"))).to.deep.include({ size: 60, rawLength: 30, bases: [id(1).toString("hex")] });
    expect(index.has(id(2).toString("hex"))).to.equal(true);
    expect(index.has(id(3).toString("hex"))).to.equal(false); // base 09.. is in no pack (01.. is)
    expect(index.locates(id(3).toString("hex"))).to.equal(true);
    // The same chunk stored whole later is located whole.
    index.add({ pack: "cd".repeat(32), entries: [{ type: BLOB_DATA, flags: 0, id: id(3), offset: 0, length: 90, rawLength: 70 }] });
    expect(index.get(id(3).toString("hex"))).to.include({ type: BLOB_DATA, pack: "cd".repeat(32) });
    // Version 1 files (before patches) read as they did; a patch entry in one is refused.
    const v1 = encodeIndexFile([{ pack: "ab".repeat(32), entries: [entries[0]] }]);
    v1[0] = 1;
    expect(decodeIndexFile(v1, "x")[0]!.entries).to.deep.equal([entries[0]]);
    const v1patch = encodeIndexFile([{ pack: "ab".repeat(32), entries: [entries[1]] }]);
    v1patch[0] = 1;
    expect(() => decodeIndexFile(v1patch, "x")).to.throw(/unknown blob type/);
  });
});
