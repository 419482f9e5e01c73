/** Why a repo operation failed, so callers can branch without parsing messages. */
export type RepoErrorCode =
  | "NotFound"
  | "AccessDenied"
  | "Unreachable"
  | "NoSpace"
  | "NoSuchBucket"
  | "InvalidKey"
  | "InvalidConfig"
  | "Failed";

/** A repo failure with a one-line message that names the object and, where known, the fix. */
export class RepoError extends Error {
  readonly code: RepoErrorCode;
  constructor(code: RepoErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RepoError";
    this.code = code;
  }
}

export function isRepoError(err: unknown, code?: RepoErrorCode): err is RepoError {
  return err instanceof RepoError && (code === undefined || err.code === code);
}

/**
 * dp-agent's exit status when the repo could not be reached (EX_TEMPFAIL of sysexits.h): the data
 * may be whole, so a caller retries instead of judging the backup. The operator's Jobs match it.
 */
export const EXIT_STORAGE_UNREACHABLE = 75;

/** Whether `err`, or an error it was caused by, is a RepoError "Unreachable". */
export function isUnreachable(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    if (isRepoError(e, "Unreachable")) return true;
    e = typeof e === "object" && "cause" in e ? (e as { cause?: unknown }).cause : undefined;
  }
  return false;
}
