import { expect } from "chai";
import { schedulePeriodSeconds } from "./schedule-period.ts";

const MIN = 60;
const HOUR = 3600;
const DAY = 86_400;

describe("metrics: schedule period from the cron", () => {
  it("is the interval of a regular schedule", () => {
    expect(schedulePeriodSeconds("*/5 * * * *")).to.equal(5 * MIN);
    expect(schedulePeriodSeconds("* * * * *")).to.equal(MIN);
    expect(schedulePeriodSeconds("0 * * * *")).to.equal(HOUR);
    expect(schedulePeriodSeconds("@hourly")).to.equal(HOUR);
    expect(schedulePeriodSeconds("0 2 * * *")).to.equal(DAY);
    expect(schedulePeriodSeconds("@daily")).to.equal(DAY);
    expect(schedulePeriodSeconds("0 3 * * 0")).to.equal(7 * DAY);
    expect(schedulePeriodSeconds("*/10 * * * * *")).to.equal(10);
  });

  it("is the longest gap of an irregular one, so a planned gap is not a missed backup", () => {
    expect(schedulePeriodSeconds("0 9,17 * * *")).to.equal(16 * HOUR);
    expect(schedulePeriodSeconds("0 */5 * * *")).to.equal(5 * HOUR);
    expect(schedulePeriodSeconds("30 1 * * 1-5")).to.equal(3 * DAY);
    expect(schedulePeriodSeconds("0 0 1 * *")).to.equal(31 * DAY);
  });

  it("finds the long gaps of dense schedules beyond the ticks it walks", () => {
    // Every minute of business hours on weekdays: 540 ticks a day, the weekend is the gap.
    expect(schedulePeriodSeconds("* 9-17 * * 1-5")).to.equal(2 * DAY + 15 * HOUR + MIN);
    expect(schedulePeriodSeconds("*/5 9-17 * * *")).to.equal(15 * HOUR + 5 * MIN);
  });

  it("is undefined for what does not parse", () => {
    for (const e of ["", "* * *", "61 * * * *", "not a cron", "0 0 30 2 *"]) expect(schedulePeriodSeconds(e), e).to.equal(undefined);
  });

  it("answers the same the second time (memoized) and quickly", () => {
    const t0 = performance.now();
    const a = schedulePeriodSeconds("*/7 * * * * *");
    const first = performance.now() - t0;
    expect(schedulePeriodSeconds("*/7 * * * * *")).to.equal(a);
    expect(a).to.equal(7); // 0, 7, ..., 56, then 0 of the next minute: 4s
    expect(first).to.be.below(2000);
  });
});
