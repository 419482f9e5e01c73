import { expect } from "chai";
import { inOrder } from "./in-order.ts";

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("inOrder: work a few at a time, reported in the items' order", () => {
  it("runs at most `width` at once and reports each item once it and every earlier one finished", async () => {
    const delays = [30, 5, 5, 20, 1, 1];
    let running = 0;
    let most = 0;
    const events: string[] = [];
    await inOrder(delays.map((d, i) => ({ i, d })), 2, async ({ i, d }) => {
      most = Math.max(most, ++running);
      await tick(d);
      events.push(`end ${i}`);
      running--;
    }, ({ i }) => events.push(`done ${i}`));
    expect(most).to.equal(2);
    expect(events.filter((e) => e.startsWith("done"))).to.deep.equal(delays.map((_, i) => `done ${i}`));
    // Item 0 (the slowest) holds back the report of the faster ones after it.
    expect(events.indexOf("done 1")).to.be.above(events.indexOf("end 0"));
    expect(events.indexOf("end 1")).to.be.below(events.indexOf("end 0"));
  });

  it("the first failure stops new work, waits for the running ones, and is thrown; nothing after it is reported", async () => {
    const started: number[] = [];
    const reported: number[] = [];
    let settled = 0;
    const err = await inOrder([0, 1, 2, 3, 4, 5], 2, async (i) => {
      started.push(i);
      if (i === 1) throw new Error("item 1 failed");
      await tick(10);
      settled++;
    }, (i) => reported.push(i)).then(() => undefined, (e: unknown) => e);
    expect((err as Error).message).to.equal("item 1 failed");
    expect(started).to.deep.equal([0, 1]);
    expect(settled, "the running item finished before the failure was thrown").to.equal(1);
    expect(reported).to.deep.equal([]);
  });

  it("no items: nothing runs", async () => {
    await inOrder([], 3, () => Promise.reject(new Error("ran")), () => undefined);
  });
});
