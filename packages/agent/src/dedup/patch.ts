// Patch blobs: a chunk stored as pieces of other chunks (its bases) plus the bytes found in none.
// A file rewritten in place (a database page, a log that grew) keeps its content-defined cuts
// around the change, so its new chunk covers the same bytes as one of the parent snapshot's
// chunks and differs from it in a few KiB: stored whole that is a whole chunk (~512 KiB) per
// changed page, stored as a patch it is the changed bytes. A change that moves a cut makes the
// next chunks straddle the parent's: they are patches of the two or three chunks they overlap.
// Bases are always whole (data) chunks, never patches, so reading a patch costs its bases and
// no more, however many days a file changed.
// Plaintext of a patch blob (then compressed and sealed like any blob, with its type in the AAD):
//   u8 version (1) | u8 base count k (1..MAX_BASES) | k x 32 B base id | u32 BE chunk length
//   | u32 BE segment count | segments | the literal segments' bytes, in order
// A segment (9 bytes): u8 source (0: literal, i: base i - 1) | u32 BE offset in that base (0 for
// a literal) | u32 BE length. Segments follow each other from byte 0 of the chunk to its end.
import { ID_LEN } from "./ids.ts";

const VERSION = 1;
const SEGMENT = 9;
/** Bases a patch may have: a chunk that straddles more of the parent's is mostly new anyway. */
export const MAX_BASES = 4;
/** Ranges are compared in blocks of this many bytes at most (a literal may cover a few equal bytes at its ends). */
export const PATCH_BLOCK = 256;
const COARSE = 16 << 10;

/** A run of the chunk: `length` bytes from base `base` at `offset`, or (base -1) literal bytes. */
export interface Segment {
  base: number;
  offset: number;
  length: number;
}

/** Where a part of the new chunk was in the bases: chunk bytes [start, end) stood at base[offset + (x - start)]. */
export interface Source {
  base: number;
  offset: number;
  start: number;
  end: number;
}

/**
 * The segments of `next` against `bases`: each part a source places is compared block by block
 * with the base there (equal blocks copied, unequal ones literal); the rest is literal. Sources
 * must be sorted by start and not overlap.
 */
export function diffSegments(bases: readonly Uint8Array[], next: Uint8Array, sources: readonly Source[], block = PATCH_BLOCK): Segment[] {
  const out: Segment[] = [];
  const n = Buffer.from(next.buffer, next.byteOffset, next.length);
  const add = (base: number, offset: number, length: number): void => {
    if (length <= 0) return;
    const last = out[out.length - 1];
    if (last && last.base === base && (base < 0 || last.offset + last.length === offset)) last.length += length;
    else out.push({ base, offset: base < 0 ? 0 : offset, length });
  };
  let at = 0;
  for (const s of sources) {
    const b = bases[s.base]!;
    // Only what lies within the chunk and the base.
    const start = Math.max(s.start, at, s.offset < 0 ? s.start - s.offset : s.start);
    const end = Math.min(s.end, next.length, s.start + (b.length - s.offset));
    if (end <= start) continue;
    add(-1, 0, start - at);
    const buf = Buffer.from(b.buffer, b.byteOffset, b.length);
    // Compared COARSE bytes at a time, and only where those differ block by block (fewer calls).
    for (let y = start; y < end; y += COARSE) {
      const ye = Math.min(y + COARSE, end);
      const yo = s.offset + (y - s.start);
      if (n.compare(buf, yo, yo + (ye - y), y, ye) === 0) {
        add(s.base, yo, ye - y);
        continue;
      }
      for (let x = y; x < ye; x += block) {
        const e = Math.min(x + block, ye);
        const o = s.offset + (x - s.start);
        if (n.compare(buf, o, o + (e - x), x, e) === 0) add(s.base, o, e - x);
        else add(-1, 0, e - x);
      }
    }
    at = end;
  }
  add(-1, 0, next.length - at);
  return out;
}

/** The bytes a patch of these segments carries itself. */
export function literalBytes(segments: readonly Segment[]): number {
  return segments.reduce((s, g) => s + (g.base < 0 ? g.length : 0), 0);
}

/** A patch blob's plaintext: `next` as `segments` of the bases `baseIds` and literal bytes. */
export function encodePatch(baseIds: readonly Buffer[], next: Uint8Array, segments: readonly Segment[]): Buffer {
  const k = baseIds.length;
  if (k < 1 || k > MAX_BASES) throw new Error(`internal: a patch of ${k} bases`);
  const head = 2 + k * ID_LEN + 8;
  const out = Buffer.allocUnsafe(head + segments.length * SEGMENT + literalBytes(segments));
  out.writeUInt8(VERSION, 0);
  out.writeUInt8(k, 1);
  baseIds.forEach((id, i) => id.copy(out, 2 + i * ID_LEN));
  out.writeUInt32BE(next.length, 2 + k * ID_LEN);
  out.writeUInt32BE(segments.length, 6 + k * ID_LEN);
  let at = head;
  let chunkAt = 0;
  for (const g of segments) {
    out.writeUInt8(g.base + 1, at);
    out.writeUInt32BE(g.offset, at + 1);
    out.writeUInt32BE(g.length, at + 5);
    at += SEGMENT;
  }
  for (const g of segments) {
    if (g.base < 0) {
      out.set(next.subarray(chunkAt, chunkAt + g.length), at);
      at += g.length;
    }
    chunkAt += g.length;
  }
  return out;
}

export interface DecodedPatch {
  bases: Buffer[];
  size: number;
  segments: Segment[];
  /** Where the literal bytes start in the plaintext. */
  dataAt: number;
}

/** Parse and check a patch's plaintext; undefined when it is not a well-formed patch. */
export function decodePatch(p: Buffer): DecodedPatch | undefined {
  if (p.length < 2 || p.readUInt8(0) !== VERSION) return undefined;
  const k = p.readUInt8(1);
  const head = 2 + k * ID_LEN + 8;
  if (k < 1 || k > MAX_BASES || p.length < head) return undefined;
  const bases = Array.from({ length: k }, (_, i) => Buffer.from(p.subarray(2 + i * ID_LEN, 2 + (i + 1) * ID_LEN)));
  const size = p.readUInt32BE(2 + k * ID_LEN);
  const count = p.readUInt32BE(6 + k * ID_LEN);
  if (head + count * SEGMENT > p.length) return undefined;
  const segments: Segment[] = [];
  let total = 0;
  let literal = 0;
  for (let i = 0, at = head; i < count; i++, at += SEGMENT) {
    const g = { base: p.readUInt8(at) - 1, offset: p.readUInt32BE(at + 1), length: p.readUInt32BE(at + 5) };
    if (g.length === 0 || g.base >= k || (g.base < 0 && g.offset !== 0)) return undefined;
    total += g.length;
    if (g.base < 0) literal += g.length;
    segments.push(g);
  }
  const dataAt = head + count * SEGMENT;
  if (total !== size || dataAt + literal !== p.length) return undefined;
  return { bases, size, segments, dataAt };
}

/** The chunk a patch stands for, from its bases' plaintexts (in order); undefined when a segment lies outside its base. */
export function applyPatch(bases: readonly Uint8Array[], patch: Buffer, d: DecodedPatch): Buffer | undefined {
  const out = Buffer.allocUnsafe(d.size);
  let at = 0;
  let lit = d.dataAt;
  for (const g of d.segments) {
    if (g.base < 0) {
      patch.copy(out, at, lit, lit + g.length);
      lit += g.length;
    } else {
      const b = bases[g.base];
      if (!b || g.offset + g.length > b.length) return undefined;
      out.set(b.subarray(g.offset, g.offset + g.length), at);
    }
    at += g.length;
  }
  return out;
}
