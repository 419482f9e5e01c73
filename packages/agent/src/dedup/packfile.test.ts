import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { BLOB_DATA, BLOB_TREE, FLAG_ZSTD } from "./format.ts";
import { type PackEntry, TRAILER_LEN, encodeHeader, headerRange, openHeader, packTail } from "./packfile.ts";
import { RepoIndex, decodeIndexFile, encodeIndexFile } from "./repo-index.ts";
import { Sealer } from "./seal.ts";

const entry = (offset: number, length: number, type: PackEntry["type"] = BLOB_DATA): PackEntry => ({ type, flags: FLAG_ZSTD, id: randomBytes(32), offset, length, rawLength: length * 3 });

describe("dedup/packfile and repo-index: pack headers and index files", () => {
  const sealer = new Sealer(randomBytes(32));
  const pack = randomBytes(32).toString("hex");

  it("finds and opens a pack's header from its tail alone", () => {
    const entries = [entry(0, 100), entry(100, 50, BLOB_TREE), entry(150, 7)];
    const blobs = randomBytes(157);
    const file = Buffer.concat([blobs, packTail(sealer, pack, entries)]);
    const { start, length } = headerRange(pack, file.length, file.subarray(file.length - TRAILER_LEN));
    expect(start).to.equal(157);
    expect(openHeader(sealer, pack, file.subarray(start, start + length), start)).to.deep.equal(entries);
  });

  it("refuses a header under another pack's name, a foreign trailer, and blobs overlapping or past the header", () => {
    const tail = packTail(sealer, pack, [entry(0, 10)]);
    const sealed = tail.subarray(0, tail.length - TRAILER_LEN);
    expect(() => openHeader(sealer, randomBytes(32).toString("hex"), sealed, 10)).to.throw(/does not authenticate/);
    expect(() => headerRange(pack, 100, Buffer.from("12345678"))).to.throw(/not a pack file/);
    const bad = (entries: PackEntry[], start: number): void => {
      const t = packTail(sealer, pack, entries);
      expect(() => openHeader(sealer, pack, t.subarray(0, t.length - TRAILER_LEN), start)).to.throw(/outside the pack or over another/);
    };
    bad([entry(0, 10), entry(5, 10)], 100);
    bad([entry(0, 10)], 5);
    expect(encodeHeader([]).length).to.equal(5);
  });

  it("round-trips index files; the first location of a chunk wins", () => {
    const a = { pack, entries: [entry(0, 10), entry(10, 20)] };
    const b = { pack: randomBytes(32).toString("hex"), entries: [{ ...a.entries[0], offset: 99 }] };
    const decoded = decodeIndexFile(encodeIndexFile([a, b]), "name");
    expect(decoded).to.deep.equal([a, b]);
    const index = new RepoIndex();
    decoded.forEach((p) => index.add(p));
    expect(index.size).to.equal(2);
    expect(index.get(a.entries[0].id.toString("hex"))).to.include({ pack, offset: 0, length: 10, rawLength: 30 });
    expect(index.packs.get(b.pack)).to.equal(1);
    expect(() => decodeIndexFile(encodeIndexFile([a]).subarray(0, 40), "name")).to.throw(/truncated/);
  });
});
