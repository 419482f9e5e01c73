import { expect } from "chai";
import { ByteBudget } from "./byte-budget.ts";

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe("ByteBudget", () => {
  it("waits for room until enough is released, counts the peak, and releases once per take", async () => {
    const b = new ByteBudget(100);
    const r1 = b.take(60);
    const r2 = b.take(30);
    expect(b.fits(10)).to.equal(true);
    expect(b.fits(11)).to.equal(false);
    let roomy = false;
    const waiting = b.room(50).then(() => (roomy = true));
    await tick();
    expect(roomy).to.equal(false);
    r2();
    await tick();
    expect(roomy, "60 + 50 still does not fit").to.equal(false);
    r2(); // a second call of the same release changes nothing
    expect(b.used).to.equal(60);
    r1();
    await waiting;
    expect(roomy).to.equal(true);
    expect(b.used).to.equal(0);
    expect(b.peak).to.equal(90);
  });

  it("lets a piece larger than the limit through alone, only once nothing else is counted", async () => {
    const b = new ByteBudget(100);
    const r = b.take(1);
    let roomy = false;
    const waiting = b.room(500).then(() => (roomy = true));
    await tick();
    expect(roomy).to.equal(false);
    r();
    await waiting;
    b.take(500);
    expect(b.peak).to.equal(500);
    expect(() => new ByteBudget(0)).to.throw(RangeError);
  });
});
