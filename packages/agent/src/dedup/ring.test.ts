import { expect } from "chai";
import fc from "fast-check";
import { type Region, Ring } from "./ring.ts";

describe("dedup/ring: regions of one buffer taken in order", () => {
  it("wraps around, waits for the oldest region, and refuses what cannot fit", () => {
    const ring = new Ring(100);
    const a = ring.take(40)!;
    const b = ring.take(40)!;
    expect([a.start, b.start]).to.deep.equal([0, 40]);
    expect(ring.take(30), "20 bytes left at the end, the start taken").to.equal(undefined);
    ring.give(b);
    expect(ring.take(30), "b is back, but a (older) is not: nothing is reusable").to.equal(undefined);
    ring.give(a);
    expect(ring.inUse).to.equal(0);
    const c = ring.take(70)!;
    const d = ring.take(30)!;
    expect([c.start, d.start]).to.deep.equal([0, 70]);
    ring.give(c);
    const e = ring.take(50)!;
    expect(e.start, "wrapped to the start, before d").to.equal(0);
    expect(ring.take(21), "20 free between e and d").to.equal(undefined);
    expect(ring.take(20)!.start).to.equal(50);
    expect(() => ring.take(101)).to.throw(RangeError);
    expect(() => ring.give(c)).to.throw(/twice/);
  });

  it("never hands out overlapping regions, and reuses all of the space once every region is back (random schedules)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 64 }), fc.array(fc.oneof(fc.integer({ min: 1, max: 64 }), fc.constant(0), fc.constant(-1)), { maxLength: 200 }), (size, ops) => {
        const ring = new Ring(size);
        const live: Region[] = [];
        for (const op of ops) {
          if (op > 0) {
            if (op > size) continue;
            const r = ring.take(op);
            if (!r) continue;
            expect(r.end - r.start).to.equal(op);
            expect(r.start >= 0 && r.end <= size).to.equal(true);
            for (const x of live) expect(r.end <= x.start || r.start >= x.end, `[${r.start},${r.end}) overlaps [${x.start},${x.end})`).to.equal(true);
            live.push(r);
          } else if (live.length > 0) {
            // 0: give back the oldest; -1: the newest.
            ring.give(op === 0 ? live.shift()! : live.pop()!);
          }
        }
        for (const r of live.splice(0)) ring.give(r);
        expect(ring.inUse).to.equal(0);
        expect(ring.take(size), "all of it free again").to.deep.include({ start: 0, end: size });
      }),
      { numRuns: 500 },
    );
  });
});
