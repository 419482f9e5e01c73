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
