import { expect } from "chai";
import { ProbeCounter } from "./probe.ts";

describe("ProbeCounter", () => {
  it("turns ready after successThreshold successes and unready after failureThreshold failures", () => {
    const c = new ProbeCounter({ successThreshold: 2, failureThreshold: 2 }, false);
    expect([c.record(true), c.result]).to.deep.equal([false, false]);
    expect([c.record(true), c.result]).to.deep.equal([true, true]);
    expect([c.record(false), c.result]).to.deep.equal([false, true]);
    expect([c.record(true), c.record(false), c.result]).to.deep.equal([false, false, true]); // a success resets the count
    expect([c.record(false), c.result]).to.deep.equal([true, false]);
  });

  it("defaults to one success and three failures", () => {
    const c = new ProbeCounter({}, true);
    expect([c.record(false), c.record(false), c.record(false), c.result]).to.deep.equal([false, false, true, false]);
    expect([c.record(true), c.result]).to.deep.equal([true, true]);
  });
});
