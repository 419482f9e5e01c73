import { expect } from "chai";
import fc from "fast-check";
import { randomBytes } from "node:crypto";
import { BlobCodec, BlobError } from "./blob.ts";
import { BLOB_DATA, BLOB_TREE, FLAG_ZSTD, blobAad } from "./format.ts";
import { chunkId } from "./ids.ts";
import { Sealer } from "./seal.ts";
import { bytesFrom } from "./testdata.ts";

describe("dedup/seal and blob: sealing, compression", () => {
  const key = randomBytes(32);

  for (const [what, sealer] of [["encrypted", new Sealer(key)], ["unencrypted", new Sealer(undefined)]] as const) {
    it(`opens what it sealed, and nothing else (${what}): any flipped bit, another AAD, a cut`, () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 200_000 }), fc.nat(), (payload, at) => {
          const aad = Buffer.from("DPB1 some id");
          const sealed = sealer.seal(aad, payload);
          expect(sealed.length).to.equal(payload.length + sealer.overhead);
          expect(sealer.open(aad, sealed)?.equals(payload)).to.equal(true);
          expect(sealer.open(Buffer.from("DPB1 other id"), sealed)).to.equal(undefined);
          const flipped = Buffer.from(sealed);
          flipped[at % flipped.length] ^= 0x10;
          expect(sealer.open(aad, flipped)).to.equal(undefined);
          expect(sealer.open(aad, sealed.subarray(0, sealed.length - 1))).to.equal(undefined);
        }),
        { numRuns: 60 },
      );
    });
  }

  for (const [what, sealer] of [["encrypted", new Sealer(key)], ["unencrypted", new Sealer(undefined)]] as const) {
    it(`seals a payload in place, where the sealed payload goes, to what opens as it (${what}); refuses one that overlaps elsewhere`, () => {
      const codec = new BlobCodec(sealer, 3);
      for (const plain of [bytesFrom("rand", 300_000), bytesFrom("text", 300_000, 8), Buffer.alloc(0)]) {
        const region = Buffer.alloc(plain.length + sealer.overhead + 8, 0xaa);
        const view = region.subarray(sealer.prefix, sealer.prefix + plain.length);
        view.set(plain);
        const id = chunkId(key, plain);
        const { length, flags } = codec.encodeInto(BLOB_DATA, id, view, region);
        expect(length).to.be.at.most(plain.length + sealer.overhead);
        expect(codec.decode({ type: BLOB_DATA, flags, id, rawLength: plain.length }, region.subarray(0, length)).equals(plain), `${plain.length} bytes, flags ${flags}`).to.equal(true);
        expect(region.subarray(plain.length + sealer.overhead).every((b) => b === 0xaa), "nothing written past it").to.equal(true);
      }
      const region = Buffer.alloc(1000 + sealer.overhead);
      expect(() => sealer.sealInto(Buffer.from("aad"), region.subarray(sealer.prefix + 1, sealer.prefix + 1 + 500), region)).to.throw(/overlaps/);
    });
  }

  it("encrypts: the payload does not show, and sealing twice gives different bytes (random nonces)", () => {
    const s = new Sealer(key);
    const text = Buffer.from("a very recognisable plaintext ".repeat(10));
    const a = s.seal(Buffer.alloc(0), text);
    expect(a.includes(Buffer.from("recognisable"))).to.equal(false);
    expect(a.equals(s.seal(Buffer.alloc(0), text))).to.equal(false);
    expect(new Sealer(randomBytes(32)).open(Buffer.alloc(0), a)).to.equal(undefined);
  });

  it("compresses a blob when that shrinks it, stores it raw otherwise, and binds type, flags and id", () => {
    const codec = new BlobCodec(new Sealer(key), 3);
    const text = Buffer.from("log line, level=info, the same again\n".repeat(2000));
    const noise = bytesFrom("noise", 50_000);
    for (const [plain, flags] of [[text, FLAG_ZSTD], [noise, 0], [Buffer.alloc(0), 0]] as const) {
      const id = chunkId(key, plain);
      const b = codec.encode(BLOB_DATA, id, plain);
      expect(b.flags).to.equal(flags);
      if (flags) expect(b.sealed.length).to.be.below(plain.length / 10);
      expect(codec.decode({ type: BLOB_DATA, flags, id, rawLength: plain.length }, b.sealed).equals(plain)).to.equal(true);
      const refuse = (ref: Parameters<BlobCodec["decode"]>[0]): void => {
        expect(() => codec.decode(ref, b.sealed)).to.throw(BlobError);
      };
      refuse({ type: BLOB_TREE, flags, id, rawLength: plain.length });
      refuse({ type: BLOB_DATA, flags: flags ^ FLAG_ZSTD, id, rawLength: plain.length });
      refuse({ type: BLOB_DATA, flags, id: chunkId(key, Buffer.from("other")), rawLength: plain.length });
      refuse({ type: BLOB_DATA, flags, id, rawLength: plain.length + 1 });
    }
    expect(blobAad(BLOB_DATA, 0, Buffer.alloc(32)).length).to.equal(4 + 2 + 32);
  });

  it("does not compress with level 0", () => {
    const codec = new BlobCodec(new Sealer(undefined), 0);
    const text = Buffer.from("x".repeat(10_000));
    expect(codec.encode(BLOB_DATA, chunkId(key, text), text).flags).to.equal(0);
  });
});
