// Pure: the ticks of a BackupPolicy schedule, read the way the operator reads them (UTC, 5
// fields or 6 with seconds first, or a macro such as @daily), through cron-parser. A small
// copy of what the operator needs: the CLI does not import the controllers package.
import { CronExpressionParser } from "cron-parser";

const MACROS = new Set(["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@hourly", "@minutely", "@secondly", "@weekdays", "@weekends"]);

export interface Ticks {
  /** The latest tick at or before `now` (undefined when cron-parser finds none). */
  prev?: Date;
  /** The first tick after `now`. */
  next: Date;
  /** The schedule's period around `now`: next - prev (the two ticks after now when there is no prev). */
  periodMs: number;
}

/** Why the operator would refuse this expression, or undefined when it is valid. */
export function cronProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/).filter((f) => f !== "");
  const macro = fields.length === 1 && MACROS.has(fields[0]!.toLowerCase());
  if (!macro && fields.length !== 5 && fields.length !== 6) return `expected 5 fields (minute hour day-of-month month day-of-week), got ${fields.length}`;
  try {
    CronExpressionParser.parse(expression.trim(), { tz: "UTC", currentDate: new Date(0) }).next();
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
  return undefined;
}

/** The ticks around `now`, or undefined for an expression the operator refuses. */
export function ticksAround(expression: string, now: Date): Ticks | undefined {
  if (cronProblem(expression) !== undefined) return undefined;
  const e = expression.trim();
  const after = (at: Date): Date => CronExpressionParser.parse(e, { tz: "UTC", currentDate: at }).next().toDate();
  const next = after(now);
  let prev: Date | undefined;
  try {
    // prev() is strict: +1 ms makes a tick exactly at now count as the latest one.
    prev = CronExpressionParser.parse(e, { tz: "UTC", currentDate: new Date(now.getTime() + 1) }).prev().toDate();
  } catch {
    prev = undefined;
  }
  const periodMs = prev ? next.getTime() - prev.getTime() : after(next).getTime() - next.getTime();
  return { prev, next, periodMs };
}
