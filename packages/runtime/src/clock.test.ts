import { expect } from "chai";
import { MAX_TIMER_MS, realClock } from "./clock.ts";

describe("realClock.setTimeout", () => {
  it("reaches a delay longer than Node's timer limit in steps, so it never fires after 1 ms", () => {
    const armed: Array<{ fn: () => void; ms: number }> = [];
    const real = globalThis.setTimeout;
    globalThis.setTimeout = ((fn: () => void, ms: number) => (armed.push({ fn, ms }), armed.length)) as unknown as typeof setTimeout;
    let fired = 0;
    try {
      realClock.setTimeout(() => fired++, 2 * MAX_TIMER_MS + 5);
      expect(armed.map((a) => a.ms)).to.deep.equal([MAX_TIMER_MS]);
      armed[0]!.fn();
      armed[1]!.fn();
      expect(armed.map((a) => a.ms)).to.deep.equal([MAX_TIMER_MS, MAX_TIMER_MS, 5]);
      expect(fired).to.equal(0);
      armed[2]!.fn();
      expect(fired).to.equal(1);
    } finally {
      globalThis.setTimeout = real;
    }
  });
});
