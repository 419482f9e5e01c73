// Cron expressions of BackupPolicy schedules: always UTC, through cron-parser.
import { CronExpressionParser } from "cron-parser";

/** A cron expression that parsed; only parseCron makes one. */
export interface ParsedCron {
  readonly expression: string;
  /** Six fields: the first one is seconds (used by tests to tick fast). */
  readonly hasSecondsField: boolean;
}

export type ParseCronResult = { ok: true; cron: ParsedCron } | { ok: false; error: string };

// cron-parser's predefined macros; Kubernetes CronJobs (the KubeBlocks 0.6 schedules) accept them too.
const MACROS = new Set([
  "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly", "@minutely", "@secondly", "@weekdays", "@weekends",
]);

/**
 * Parses a 5-field cron (or 6 with a leading seconds field) evaluated in UTC.
 * cron-parser pads short expressions ("* * *", "") silently, so the field count is checked here.
 */
export function parseCron(expression: string): ParseCronResult {
  // Every reconcile validates its policy; many policies share an expression, and parsing costs ~50 µs.
  const known = parsed.get(expression);
  if (known) return known;
  const result = parseUncached(expression);
  remember(parsed, expression, result);
  return result;
}

function parseUncached(expression: string): ParseCronResult {
  const trimmed = expression.trim();
  const fields = trimmed.split(/\s+/).filter((f) => f !== "");
  const isMacro = fields.length === 1 && MACROS.has(fields[0].toLowerCase());
  if (!isMacro && fields.length !== 5 && fields.length !== 6) {
    return invalid(expression, `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`);
  }
  try {
    // Computing one tick also catches expressions that parse but never fire.
    CronExpressionParser.parse(trimmed, { tz: "UTC", currentDate: new Date(0) }).next();
  } catch (err) {
    return invalid(expression, err instanceof Error ? err.message : String(err));
  }
  const hasSecondsField = isMacro ? fields[0].toLowerCase() === "@secondly" : fields.length === 6;
  return { ok: true, cron: { expression: trimmed, hasSecondsField } };
}

function invalid(expression: string, why: string): ParseCronResult {
  return { ok: false, error: `invalid cronExpression "${expression}": ${why}` };
}

/**
 * The last [prev, next) tick interval computed per expression: all policies sharing a cron
 * ask about the same interval at a tick, and cron-parser costs ~40 µs per question. prev and
 * next are consecutive ticks, so any `at` inside the interval gets the same answers.
 */
interface TickInterval {
  prev: number;
  next: number;
}

const MAX_MEMO = 1024;
const parsed = new Map<string, ParseCronResult>();
const intervals = new Map<string, TickInterval>();

function remember<V>(memo: Map<string, V>, key: string, value: V): void {
  if (memo.size >= MAX_MEMO) memo.clear();
  memo.set(key, value);
}

function intervalAround(cron: ParsedCron, at: Date): TickInterval | undefined {
  const t = at.getTime();
  const known = intervals.get(cron.expression);
  if (known && known.prev <= t && t < known.next) return known;
  const prev = computeLatestTickAtOrBefore(cron, at);
  if (prev === undefined) return undefined;
  const interval = { prev: prev.getTime(), next: computeNextTickAfter(cron, at).getTime() };
  remember(intervals, cron.expression, interval);
  return interval;
}

/** The latest tick at or before `at`, or undefined. */
export function latestTickAtOrBefore(cron: ParsedCron, at: Date): Date | undefined {
  const interval = intervalAround(cron, at);
  return interval ? new Date(interval.prev) : undefined;
}

/** The first tick strictly after `at`. */
export function nextTickAfter(cron: ParsedCron, at: Date): Date {
  const interval = intervalAround(cron, at);
  return interval ? new Date(interval.next) : computeNextTickAfter(cron, at);
}

/** cron-parser's prev() is strict, hence +1 ms. */
function computeLatestTickAtOrBefore(cron: ParsedCron, at: Date): Date | undefined {
  const it = CronExpressionParser.parse(cron.expression, { tz: "UTC", currentDate: new Date(at.getTime() + 1) });
  try {
    return it.prev().toDate();
  } catch {
    // cron-parser gives up when no tick lies within its search window (e.g. before 1970).
    return undefined;
  }
}

function computeNextTickAfter(cron: ParsedCron, at: Date): Date {
  return CronExpressionParser.parse(cron.expression, { tz: "UTC", currentDate: at }).next().toDate();
}
