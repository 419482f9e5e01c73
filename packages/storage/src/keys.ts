import { RepoError } from "./errors.ts";

/**
 * Reject keys that could escape the repo root or that S3 and POSIX would read
 * differently: empty segments, ".", "..", leading "/", NUL.
 */
export function checkKey(key: string): string {
  const bad =
    key.length === 0 ||
    key.length > 1024 ||
    key.includes("\0") ||
    key.startsWith("/") ||
    key.split("/").some((s) => s === "" || s === "." || s === "..");
  if (bad) throw new RepoError("InvalidKey", `invalid object key ${JSON.stringify(key)}: use a relative "/"-separated path without "." or ".." segments`);
  return key;
}

/** A list/delete prefix: "" (everything) or a checked key, optionally ending in "/". */
export function checkPrefix(prefix: string): string {
  if (prefix === "") return prefix;
  checkKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
