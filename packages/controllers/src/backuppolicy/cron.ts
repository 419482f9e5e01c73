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

/** The latest tick at or before `at` (cron-parser's prev() is strict, hence +1 ms), or undefined. */
export function latestTickAtOrBefore(cron: ParsedCron, at: Date): Date | undefined {
  const it = CronExpressionParser.parse(cron.expression, { tz: "UTC", currentDate: new Date(at.getTime() + 1) });
  try {
    return it.prev().toDate();
  } catch {
    // cron-parser gives up when no tick lies within its search window (e.g. before 1970).
    return undefined;
  }
}

/** The first tick strictly after `at`. */
export function nextTickAfter(cron: ParsedCron, at: Date): Date {
  return CronExpressionParser.parse(cron.expression, { tz: "UTC", currentDate: at }).next().toDate();
}
