/**
 * An expected failure of dp-agent: bad input, corrupt data, unusable repo. The CLI
 * prints its message as the one stderr line and exits non-zero.
 */
export class AgentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "AgentError";
  }
}

/** A node errno code ("ENOSPC"), if `err` carries one. */
export function errnoOf(err: unknown): string | undefined {
  return typeof err === "object" && err !== null && "code" in err ? String((err as { code: unknown }).code) : undefined;
}
