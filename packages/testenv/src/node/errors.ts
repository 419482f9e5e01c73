// Helpers to read HTTP status codes off client-node's ApiException without `any`.

/** The HTTP status of a failed API call, if the error carries one. */
export function httpCode(err: unknown): number | undefined {
  if (typeof err === "object" && err !== null && "code" in err) {
    const code = (err as { code: unknown }).code;
    if (typeof code === "number") return code;
  }
  return undefined;
}

export const isNotFound = (err: unknown): boolean => httpCode(err) === 404;
export const isConflict = (err: unknown): boolean => httpCode(err) === 409;

/** A short message for logs and statuses (ApiException messages embed whole bodies). */
export function errorMessage(err: unknown): string {
  if (typeof err === "object" && err !== null && "body" in err) {
    const body = (err as { body: unknown }).body;
    if (typeof body === "object" && body !== null && "message" in body) {
      return String((body as { message: unknown }).message);
    }
    if (typeof body === "string" && body.length > 0) {
      try {
        const parsed = JSON.parse(body) as { message?: unknown };
        if (parsed.message) return String(parsed.message);
      } catch {
        return body;
      }
    }
  }
  return err instanceof Error ? err.message : String(err);
}
