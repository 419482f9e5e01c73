/**
 * The directory stream ("DPAR") that push-dir writes and pull-dir reads:
 *   "DPARCHV1"  then entries, then a single 0 byte.
 * entry: u8 type (1 file, 2 dir, 3 symlink) | u32 BE meta length | meta JSON
 *   meta: {p: posix path relative to the root ("." is the root), m: mode bits (0o7777),
 *          u: uid, g: gid, t: mtime ms, s: size (files), l: link target (symlinks)}
 * a file's content follows as segments: u8 kind | u32 BE length [| bytes]
 *   kind 1 data (bytes follow), 2 hole (length zero bytes, nothing follows), 0 end.
 * Holes keep sparse files sparse on restore and out of the stream.
 */
export const ARCHIVE_MAGIC = Buffer.from("DPARCHV1");
export const T_END = 0;
export const T_FILE = 1;
export const T_DIR = 2;
export const T_SYMLINK = 3;
export const S_END = 0;
export const S_DATA = 1;
export const S_HOLE = 2;
/** Largest segment; holes longer than this are split. */
export const MAX_SEGMENT = 1 << 30;

export interface EntryMeta {
  p: string;
  m: number;
  u: number;
  g: number;
  t: number;
  s?: number;
  l?: string;
}

export function encodeEntry(type: number, meta: EntryMeta): Buffer {
  const json = Buffer.from(JSON.stringify(meta), "utf8");
  const b = Buffer.allocUnsafe(5 + json.length);
  b.writeUInt8(type, 0);
  b.writeUInt32BE(json.length, 1);
  json.copy(b, 5);
  return b;
}

export function segmentHead(kind: number, len: number): Buffer {
  const b = Buffer.allocUnsafe(5);
  b.writeUInt8(kind, 0);
  b.writeUInt32BE(len, 1);
  return b;
}

/** A path from the stream is usable only if it stays inside the target directory. */
export function safeRelPath(p: string): boolean {
  if (p === ".") return true;
  return p.length > 0 && !p.startsWith("/") && !p.includes("\0") && p.split("/").every((s) => s !== "" && s !== "." && s !== "..");
}
