// Patch blobs: a chunk stored as another chunk (its base) plus the byte ranges that differ.
// A file rewritten in place (a database page, a log that grew) keeps its content-defined cuts
// around the change, so its new chunk starts where the parent snapshot's chunk started and
// differs from it in a few KiB: stored whole that is a whole chunk (~512 KiB) per changed page,
// stored as a patch it is the changed bytes. A patch's base is always a whole (data) chunk, never
// another patch, so reading one costs exactly one more blob, however many days a file changed.
// A change can also move a cut (a page that happens to hold one): the chunk after it then starts
// inside one of the parent's chunks, or before it, and is a patch of the one it overlaps most,
// aligned by `from`: byte i of the chunk stands against byte from + i of the base (from < 0: the
// chunk starts before its base).
// Plaintext of a patch blob (then compressed and sealed like any blob, with its type in the AAD):
//   u8 version (1) | 32 B base id | i32 BE from | u32 BE chunk length | u32 BE count
//   | count x (u32 BE offset, u32 BE length) | the ranges' bytes, in order
// Ranges are sorted, do not overlap, and lie within the chunk; byte i of the chunk outside every
// range is byte from + i of the base (so what lies outside the base is in a range).
import { ID_LEN } from "./ids.ts";

const VERSION = 1;
const HEAD = 1 + ID_LEN + 12;
/** Ranges are found in blocks of this many bytes (a range may cover a few equal bytes at its ends). */
export const PATCH_BLOCK = 256;

export interface Range {
  offset: number;
  length: number;
}

/**
 * The ranges of `next` that differ from `base` aligned by `from` (by blocks, adjacent ones
 * merged); bytes with nothing of the base against them are in ranges.
 */
export function diffRanges(base: Uint8Array, next: Uint8Array, block = PATCH_BLOCK, from = 0): Range[] {
  const out: Range[] = [];
  const add = (offset: number, end: number): void => {
    const last = out[out.length - 1];
    if (last && last.offset + last.length === offset) last.length = end - last.offset;
    else out.push({ offset, length: end - offset });
  };
  const lo = Math.min(next.length, Math.max(0, -from));
  const hi = Math.max(lo, Math.min(next.length, base.length - from));
  if (lo > 0) add(0, lo);
  const b = Buffer.from(base.buffer, base.byteOffset, base.length);
  const n = Buffer.from(next.buffer, next.byteOffset, next.length);
  for (let at = lo; at < hi; at += block) {
    const end = Math.min(at + block, hi);
    if (n.compare(b, from + at, from + end, at, end) !== 0) add(at, end);
  }
  if (hi < next.length) add(hi, next.length);
  return out;
}

/** The bytes a patch of these ranges carries. */
export function patchedBytes(ranges: readonly Range[]): number {
  return ranges.reduce((s, r) => s + r.length, 0);
}

/** A patch blob's plaintext: `next` as `base` (id `baseId`) from byte `from`, plus `ranges` of `next`. */
export function encodePatch(baseId: Buffer, next: Uint8Array, ranges: readonly Range[], from = 0): Buffer {
  const out = Buffer.allocUnsafe(HEAD + ranges.length * 8 + patchedBytes(ranges));
  out.writeUInt8(VERSION, 0);
  baseId.copy(out, 1);
  out.writeInt32BE(from, 1 + ID_LEN);
  out.writeUInt32BE(next.length, 5 + ID_LEN);
  out.writeUInt32BE(ranges.length, 9 + ID_LEN);
  let at = HEAD;
  for (const r of ranges) {
    out.writeUInt32BE(r.offset, at);
    out.writeUInt32BE(r.length, at + 4);
    at += 8;
  }
  for (const r of ranges) {
    out.set(next.subarray(r.offset, r.offset + r.length), at);
    at += r.length;
  }
  return out;
}

export interface DecodedPatch {
  base: Buffer;
  from: number;
  size: number;
  ranges: Range[];
  /** Where the ranges' bytes start in the plaintext. */
  dataAt: number;
}

/** Parse and check a patch's plaintext; undefined when it is not a well-formed patch. */
export function decodePatch(p: Buffer): DecodedPatch | undefined {
  if (p.length < HEAD || p.readUInt8(0) !== VERSION) return undefined;
  const base = Buffer.from(p.subarray(1, 1 + ID_LEN));
  const from = p.readInt32BE(1 + ID_LEN);
  const size = p.readUInt32BE(5 + ID_LEN);
  const count = p.readUInt32BE(9 + ID_LEN);
  if (HEAD + count * 8 > p.length) return undefined;
  const ranges: Range[] = [];
  let end = 0;
  let bytes = 0;
  for (let i = 0, at = HEAD; i < count; i++, at += 8) {
    const r = { offset: p.readUInt32BE(at), length: p.readUInt32BE(at + 4) };
    if (r.length === 0 || r.offset < end || r.offset + r.length > size) return undefined;
    end = r.offset + r.length;
    bytes += r.length;
    ranges.push(r);
  }
  const dataAt = HEAD + count * 8;
  if (dataAt + bytes !== p.length) return undefined;
  return { base, from, size, ranges, dataAt };
}

/**
 * The chunk a patch stands for, from its base's plaintext; undefined when the base cannot be the
 * one (the chunk has bytes beyond the base that no range covers).
 */
export function applyPatch(base: Uint8Array, patch: Buffer, d: DecodedPatch): Buffer | undefined {
  const out = Buffer.allocUnsafe(d.size);
  const { from } = d;
  let covered = 0; // bytes of `out` written, from 0
  let at = d.dataAt;
  for (const r of d.ranges) {
    if (r.offset > covered) {
      if (from + covered < 0 || from + r.offset > base.length) return undefined;
      out.set(base.subarray(from + covered, from + r.offset), covered);
    }
    patch.copy(out, r.offset, at, at + r.length);
    at += r.length;
    covered = r.offset + r.length;
  }
  if (covered < d.size) {
    if (from + covered < 0 || from + d.size > base.length) return undefined;
    out.set(base.subarray(from + covered, from + d.size), covered);
  }
  return out;
}
