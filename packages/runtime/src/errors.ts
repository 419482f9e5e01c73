/** An error answer of the API server, with its HTTP code and Status reason. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly reason: string,
    message: string,
    readonly body?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/**
 * Thrown by a reconciler when retrying cannot help (invalid spec, missing
 * prerequisite the user must create): the controller marks the object and forgets the key.
 */
export class TerminalError extends Error {
  constructor(
    /** PascalCase reason shared by the Event and any status field. */
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "TerminalError";
  }
}

/** Why a reconcile's signal aborted: "shutdown" (the manager stops), "leadership-lost", "timeout" (its time limit). */
export type AbortCause = "shutdown" | "leadership-lost" | "timeout";

/** The reason of an aborted reconcile signal, and so what its requests through ctx.client reject with. */
export class ReconcileAbortedError extends Error {
  constructor(
    readonly why: AbortCause,
    message: string,
  ) {
    super(message);
    this.name = "ReconcileAbortedError";
  }
}

const code = (e: unknown): number | undefined => (e instanceof ApiError ? e.statusCode : undefined);

export const isNotFound = (e: unknown): boolean => code(e) === 404;
export const isConflict = (e: unknown): boolean => code(e) === 409 && (e as ApiError).reason !== "AlreadyExists";
export const isAlreadyExists = (e: unknown): boolean => code(e) === 409 && (e as ApiError).reason === "AlreadyExists";
/** 410: the resourceVersion is older than what etcd or the watch cache keeps. */
export const isGone = (e: unknown): boolean => code(e) === 410;
/**
 * Worth retrying as is: no answer at all (connection refused or reset, timeout), too many
 * requests (priority and fairness), or a server-side failure. Other 4xx answers will repeat.
 */
export const isTransient = (e: unknown): boolean => {
  const c = code(e);
  return c === undefined || c === 429 || c >= 500;
};
