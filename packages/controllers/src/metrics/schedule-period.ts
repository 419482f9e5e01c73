// The period of a schedule, for "no successful backup within 2x the period": the longest gap
// between two consecutive ticks of its cron (UTC), so a planned gap (a weekday-only schedule's
// weekend, a business-hours schedule's night) never counts as a missed backup.
import { CronExpressionParser } from "cron-parser";
import { parseCron } from "../backuppolicy/cron.ts";

/** A fixed start (a Monday of a leap year): the answer depends on the expression only, and is memoized. */
const REFERENCE_MS = Date.UTC(2024, 0, 1);
const DAY_MS = 86_400_000;
/** Long enough to see weekly and month-length structure. */
const HORIZON_MS = 35 * DAY_MS;
/** Ticks walked one by one; a denser cron is sampled for the rest of the horizon. */
const MAX_WALKED_TICKS = 1024;
/** Sampling step for dense crons: every gap longer than this is found exactly. */
const SAMPLE_MS = 60 * 60_000;
const MAX_MEMO = 256;

const memo = new Map<string, number | undefined>();

/** Seconds of the longest gap between ticks of `expression`; undefined when it does not parse or fires once at most. */
export function schedulePeriodSeconds(expression: string): number | undefined {
  if (memo.has(expression)) return memo.get(expression);
  const parsed = parseCron(expression);
  const period = parsed.ok ? longestGapMs(parsed.cron.expression) : undefined;
  if (memo.size >= MAX_MEMO) memo.clear();
  const seconds = period === undefined ? undefined : period / 1000;
  memo.set(expression, seconds);
  return seconds;
}

function longestGapMs(expression: string): number | undefined {
  const it = CronExpressionParser.parse(expression, { tz: "UTC", currentDate: new Date(REFERENCE_MS - 1) });
  let longest: number | undefined;
  let first: number;
  let last: number;
  try {
    first = last = it.next().getTime();
    for (let n = 0; n < MAX_WALKED_TICKS; n++) {
      const t = it.next().getTime();
      longest = Math.max(longest ?? 0, t - last);
      last = t;
      if (t - first >= HORIZON_MS && n >= 1) return longest;
    }
  } catch {
    // cron-parser found no further tick in its search range: what was seen is the answer.
    return longest;
  }
  // Dense: one sample every SAMPLE_MS to the horizon; each measures the gap around it.
  let measuredUntil = last;
  for (let p = last; p < first + HORIZON_MS; p += SAMPLE_MS) {
    if (p < measuredUntil) continue; // inside the gap the previous sample measured
    try {
      it.reset(new Date(p));
      const next = it.next().getTime();
      // measuredUntil is a tick at or before p, so the gap around p starts no earlier: it is at most next - measuredUntil.
      const bound = next - measuredUntil;
      measuredUntil = next;
      if (longest !== undefined && p > last && bound <= longest) continue;
      it.reset(new Date(p + 1));
      const prev = it.prev().getTime();
      longest = Math.max(longest ?? 0, next - prev);
    } catch {
      break;
    }
  }
  return longest;
}
