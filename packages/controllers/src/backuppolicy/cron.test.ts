import { expect } from "chai";
import { CronExpressionParser } from "cron-parser";
import fc from "fast-check";
import { latestTickAtOrBefore, nextTickAfter, parseCron, type ParsedCron } from "./cron.ts";

function cronOf(expression: string): ParsedCron {
  const parsed = parseCron(expression);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.cron;
}

/** cron-parser asked directly, without the memo. */
function reference(expression: string, at: Date): { latest?: number; next: number } {
  const next = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: at }).next().getTime();
  try {
    const latest = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: new Date(at.getTime() + 1) }).prev().getTime();
    return { latest, next };
  } catch {
    return { next };
  }
}

describe("cron ticks (memoized)", () => {
  const expressions = ["* * * * *", "*/5 * * * *", "0 2 * * *", "*/10 * * * * *", "30 1 * * 1-5", "@hourly"];
  const base = Date.parse("2026-11-23T00:00:00Z");

  it("answers as cron-parser does for any sequence of times and expressions", () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom(...expressions), fc.integer({ min: -3 * 86_400_000, max: 3 * 86_400_000 })), { minLength: 1, maxLength: 40 }),
        (queries) => {
          for (const [expression, offset] of queries) {
            const at = new Date(base + offset);
            const want = reference(expression, at);
            expect(nextTickAfter(cronOf(expression), at).getTime(), `next of ${expression} after ${at.toISOString()}`).to.equal(want.next);
            expect(latestTickAtOrBefore(cronOf(expression), at)?.getTime(), `latest of ${expression} at ${at.toISOString()}`).to.equal(want.latest);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it("treats a tick instant as due and the next one as strictly after it", () => {
    const cron = cronOf("* * * * *");
    const tick = new Date("2026-11-23T10:05:00Z");
    expect(latestTickAtOrBefore(cron, new Date(tick.getTime() - 1))?.toISOString()).to.equal("2026-11-23T10:04:00.000Z");
    expect(latestTickAtOrBefore(cron, tick)?.toISOString()).to.equal("2026-11-23T10:05:00.000Z");
    expect(nextTickAfter(cron, tick).toISOString()).to.equal("2026-11-23T10:06:00.000Z");
    expect(nextTickAfter(cron, new Date(tick.getTime() - 1)).toISOString()).to.equal("2026-11-23T10:05:00.000Z");
  });

  it("returns the same parse for the same expression, and still rejects a bad one", () => {
    expect(parseCron("*/5 * * * *")).to.equal(parseCron("*/5 * * * *"));
    expect(parseCron("* * *").ok).to.equal(false);
    expect(parseCron("* * *").ok).to.equal(false);
  });
});
