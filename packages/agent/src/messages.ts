import { AgentError, errnoOf } from "./errors.ts";

const ERRNO_TEXT: Record<string, string> = {
  ENOSPC: "no space left on device",
  EDQUOT: "disk quota exceeded",
  EPIPE: "the reader closed the pipe",
  EACCES: "permission denied",
  ENOENT: "no such file or directory",
};

/** One line for stderr: AgentError/RepoError messages as they are, others with their errno spelled out. */
export function oneLine(err: unknown): string {
  if (err instanceof AgentError || (err instanceof Error && err.name === "RepoError")) return flat(err.message);
  const code = errnoOf(err);
  if (code && ERRNO_TEXT[code]) {
    const where = (err as { path?: string; syscall?: string }).path ?? (err as { syscall?: string }).syscall ?? "";
    const target = where ? ` (${where})` : (err as { syscall?: string }).syscall === "write" ? " (stdout)" : "";
    return `${ERRNO_TEXT[code]}${target}: ${code}`;
  }
  return flat(err instanceof Error ? err.message : String(err));
}

function flat(s: string): string {
  return s.replace(/\s*\n\s*/g, " ").trim();
}
