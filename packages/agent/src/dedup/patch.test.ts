import { expect } from "chai";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { BLOB_DATA, BLOB_PATCH } from "./format.ts";
import { applyPatch, decodePatch, diffRanges, encodePatch, patchedBytes } from "./patch.ts";
import { decodeIndexFile, encodeIndexFile, RepoIndex } from "./repo-index.ts";
import { encodeHeader } from "./packfile.ts";

const id = (b: number): Buffer => Buffer.alloc(32, b);

describe("dedup/patch: a chunk as its base plus the bytes that differ", () => {
  it("rebuilds the chunk from the base for any overwrite, append or cut (property)", () => {
    const edit = fc.record({ at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 600 }) });
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 4000 }), fc.array(edit, { maxLength: 5 }), fc.integer({ min: -300, max: 900 }), fc.constantFrom(16, 64, 256), fc.integer({ min: -500, max: 500 }), (base, edits, grow, block, skip) => {
        // The chunk may start `from` bytes into its base, or before it (a cut moved).
        const from = Math.min(skip, base.length);
        let next = from >= 0 ? Buffer.from(base.subarray(from)) : Buffer.concat([randomBytes(-from), base]);
        for (const e of edits) if (next.length > 0) Buffer.from(e.bytes).copy(next, e.at % next.length);
        next = grow >= 0 ? Buffer.concat([next, randomBytes(grow)]) : next.subarray(0, Math.max(0, next.length + grow));
        const ranges = diffRanges(base, next, block, from);
        // Sorted, disjoint, inside the chunk; everything outside them equal to the base.
        let end = 0;
        for (const r of ranges) {
          expect(r.offset).to.be.at.least(end);
          expect(r.length).to.be.above(0);
          end = r.offset + r.length;
        }
        expect(end).to.be.at.most(next.length);
        const plain = encodePatch(id(7), next, ranges, from);
        const d = decodePatch(plain)!;
        expect(d.base.equals(id(7))).to.equal(true);
        expect(d.from).to.equal(from);
        expect(d.size).to.equal(next.length);
        const out = applyPatch(base, plain, d);
        expect(out && Buffer.compare(out, next)).to.equal(0);
      }),
      { numRuns: 300 },
    );
  });

  it("carries about the bytes that changed: one 8 KiB page of 512 KiB, a grown tail", () => {
    const base = randomBytes(512 << 10);
    const next = Buffer.from(base);
    randomBytes(8192).copy(next, 3 * 8192);
    expect(patchedBytes(diffRanges(base, next))).to.equal(8192);
    const off = Buffer.from(base);
    randomBytes(8192).copy(off, 100_001);
    expect(patchedBytes(diffRanges(base, off))).to.be.within(8192, 8192 + 512);
    const grown = Buffer.concat([base, Buffer.from("appended line\n")]);
    expect(diffRanges(base, grown)).to.deep.equal([{ offset: base.length, length: 14 }]);
    expect(diffRanges(base, Buffer.from(base))).to.deep.equal([]);
  });

  it("refuses a malformed patch, and a base it cannot be of", () => {
    const base = Buffer.from("0123456789abcdef");
    const next = Buffer.from("0123456789ABCDEF+tail");
    const plain = encodePatch(id(1), next, diffRanges(base, next, 4));
    expect(decodePatch(plain)).to.not.equal(undefined);
    expect(decodePatch(plain.subarray(0, plain.length - 1))).to.equal(undefined); // bytes missing
    expect(decodePatch(Buffer.concat([plain, Buffer.from("x")]))).to.equal(undefined); // bytes extra
    const badVersion = Buffer.from(plain);
    badVersion[0] = 9;
    expect(decodePatch(badVersion)).to.equal(undefined);
    const outside = Buffer.from(plain);
    outside.writeUInt32BE(3, 37); // chunk length 3: the ranges lie outside it
    expect(decodePatch(outside)).to.equal(undefined);
    // A patch that leaves bytes to its base, applied to a shorter base.
    const mid = encodePatch(id(1), Buffer.from("0123X56789abcdef"), [{ offset: 4, length: 1 }]);
    expect(applyPatch(Buffer.from("0123"), mid, decodePatch(mid)!)).to.equal(undefined);
    const late = encodePatch(id(1), Buffer.from("89ab"), [], 8);
    expect(applyPatch(base, late, decodePatch(late)!)?.toString()).to.equal("89ab");
    expect(applyPatch(Buffer.from("0123456789a"), late, decodePatch(late)!)).to.equal(undefined);
    const early = encodePatch(id(1), Buffer.from("xy0123"), [{ offset: 0, length: 2 }], -2);
    expect(applyPatch(base, early, decodePatch(early)!)?.toString()).to.equal("xy0123");
    const uncovered = encodePatch(id(1), Buffer.from("xy0123"), [{ offset: 0, length: 1 }], -2);
    expect(applyPatch(base, uncovered, decodePatch(uncovered)!)).to.equal(undefined);
  });

  it("index entries carry a patch's base and length; a patch whose base is gone is not there to dedup against", () => {
    const entries = [
      { type: BLOB_DATA, flags: 0, id: id(1), offset: 0, length: 100, rawLength: 60 },
      { type: BLOB_PATCH, flags: 0, id: id(2), offset: 100, length: 50, rawLength: 30, patch: { base: id(1), size: 60, from: 0 } },
      { type: BLOB_PATCH, flags: 0, id: id(3), offset: 150, length: 50, rawLength: 30, patch: { base: id(9), size: 70, from: 5 } },
    ] as const;
    const back = decodeIndexFile(encodeIndexFile([{ pack: "ab".repeat(32), entries: [...entries] }]), "x");
    expect(back[0]!.entries).to.deep.equal(entries);
    expect(encodeHeader([...entries]).readUInt8(0)).to.equal(2);
    const index = new RepoIndex();
    index.add(back[0]!);
    expect(index.get(id(2).toString("hex"))).to.include({ size: 60, rawLength: 30, base: id(1).toString("hex") });
    expect(index.has(id(2).toString("hex"))).to.equal(true);
    expect(index.has(id(3).toString("hex"))).to.equal(false); // base 09.. is in no pack
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
