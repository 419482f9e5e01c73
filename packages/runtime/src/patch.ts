import { isDeepStrictEqual } from "node:util";

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

/** The RFC 7386 JSON merge patch that turns `from` into `to` (null deletes a field). */
export function mergePatch(from: unknown, to: unknown): unknown {
  if (!isPlainObject(from) || !isPlainObject(to)) return to === undefined ? null : to;
  const patch: Record<string, unknown> = {};
  for (const k of Object.keys(from)) if (!(k in to) || to[k] === undefined) patch[k] = null;
  for (const [k, v] of Object.entries(to)) {
    if (v === undefined || isDeepStrictEqual(from[k], v)) continue;
    patch[k] = isPlainObject(from[k]) && isPlainObject(v) ? mergePatch(from[k], v) : v;
  }
  return patch;
}

function isPlainObject(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}
