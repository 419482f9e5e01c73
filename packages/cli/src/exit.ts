// Pure: kubectl-dp's exit codes and the errors that choose them (README "Exit codes").
import { isAlreadyExists } from "@dataprotection/runtime";

export const ExitCode = {
  /** Done: the object was created, listed or described; a followed object ended Completed. */
  Ok: 0,
  /** A followed Backup or RestoreJob ended Failed, the API server refused a request, a name was taken. */
  Failed: 1,
  /** Bad input: an unknown command, flag or value, or an object that cannot be used as asked. */
  Usage: 2,
  /** An object named on the command line does not exist (or was deleted while --wait followed it). */
  NotFound: 3,
  /** --wait gave up after --timeout: the object is still going. */
  Timeout: 4,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

/** A usage error: printed as one line, exit code 2. */
export class UsageError extends Error {}

/** The object named on the command line does not exist: exit code 3. */
export class NotFoundError extends Error {}

/** --wait ran out of --timeout: exit code 4. */
export class TimeoutError extends Error {}

/** The exit code and the one `error: ...` line for an error that ended a command. */
export function exitFor(err: unknown): { code: ExitCode; line: string } {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof UsageError) return { code: ExitCode.Usage, line: `error: ${message}` };
  if (err instanceof NotFoundError) return { code: ExitCode.NotFound, line: `error: ${message}` };
  if (err instanceof TimeoutError) return { code: ExitCode.Timeout, line: `error: ${message}` };
  if (isAlreadyExists(err)) return { code: ExitCode.Failed, line: `error: ${message} (choose another --name)` };
  return { code: ExitCode.Failed, line: `error: ${message}` };
}
