// Pack files: blobs (blob.ts) one after the other, then the pack's header, sealed, then an
// 8-byte trailer:
//   blob* | sealed header | u32 BE sealed header length | "DPK1"
// The header (plaintext): u8 version (2) | u32 BE count | count entries:
//   u8 type | u8 flags | 32 B id | u32 BE offset | u32 BE length (sealed) | u32 BE plaintext length
//   and, for a patch blob only: u8 base count k | k x 32 B base id | u32 BE chunk length
// (version 1, written before patches existed, is read too: the same entries, no patches). The
// base is in the entry, not only in the patch, so whoever walks the index (prune, check, a
// backup deciding what the repo has) knows what a patch needs without reading it.
// sealed with the pack's name as AAD (format.ts). A pack therefore describes itself: an index can
// be rebuilt from the packs alone, and check compares the two. Packs are written whole, once,
// under a random name, and never changed.
import { AgentError } from "../errors.ts";
import { BLOB_PATCH, BLOB_TYPES, type BlobType, FLAG_ZSTD, packHeaderAad } from "./format.ts";
import { ID_LEN } from "./ids.ts";
import { MAX_BASES } from "./patch.ts";
import type { Sealer } from "./seal.ts";

export const PACK_MAGIC = Buffer.from("DPK1");
export const TRAILER_LEN = 8;
export const ENTRY_LEN = 2 + ID_LEN + 12;
/** Versions of pack headers and index files: 1 before patch blobs, 2 since (entries as above). */
export const ENTRIES_V1 = 1;
export const ENTRIES_V2 = 2;

export interface PackEntry {
  type: BlobType;
  flags: number;
  id: Buffer;
  offset: number;
  length: number;
  rawLength: number;
  /** A patch blob's base chunks and the length of the chunk it stands for (patch.ts). */
  patch?: PatchRef;
}

export interface PatchRef {
  bases: Buffer[];
  size: number;
}

/** Bytes an entry takes. */
export function entryLength(e: PackEntry): number {
  return e.type === BLOB_PATCH ? ENTRY_LEN + 5 + (e.patch?.bases.length ?? 0) * ID_LEN : ENTRY_LEN;
}

/** Writes `e` at `at`; returns where the next entry goes. */
export function writeEntry(e: PackEntry, out: Buffer, at: number): number {
  out.writeUInt8(e.type, at);
  out.writeUInt8(e.flags, at + 1);
  e.id.copy(out, at + 2);
  out.writeUInt32BE(e.offset, at + 2 + ID_LEN);
  out.writeUInt32BE(e.length, at + 6 + ID_LEN);
  out.writeUInt32BE(e.rawLength, at + 10 + ID_LEN);
  if (e.type !== BLOB_PATCH) return at + ENTRY_LEN;
  const { patch } = e;
  if (!patch || patch.bases.length < 1 || patch.bases.length > MAX_BASES) throw new Error("internal: a patch entry without its bases");
  let p = at + ENTRY_LEN;
  out.writeUInt8(patch.bases.length, p++);
  for (const b of patch.bases) p += b.copy(out, p);
  out.writeUInt32BE(patch.size, p);
  return p + 4;
}

/**
 * One entry of a `version` list and where the next one starts; undefined when its type or flags
 * are unknown to that version, or it is cut off.
 */
export function readEntry(b: Buffer, at: number, version: number): { e: PackEntry; next: number } | undefined {
  if (at + ENTRY_LEN > b.length) return undefined;
  const type = b.readUInt8(at) as BlobType;
  const flags = b.readUInt8(at + 1);
  if (!BLOB_TYPES.includes(type) || (flags & ~FLAG_ZSTD) !== 0 || (type === BLOB_PATCH && version < ENTRIES_V2)) return undefined;
  const e: PackEntry = {
    type,
    flags,
    id: Buffer.from(b.subarray(at + 2, at + 2 + ID_LEN)),
    offset: b.readUInt32BE(at + 2 + ID_LEN),
    length: b.readUInt32BE(at + 6 + ID_LEN),
    rawLength: b.readUInt32BE(at + 10 + ID_LEN),
  };
  if (type !== BLOB_PATCH) return { e, next: at + ENTRY_LEN };
  let p = at + ENTRY_LEN;
  const k = p < b.length ? b.readUInt8(p++) : 0;
  if (k < 1 || k > MAX_BASES || p + k * ID_LEN + 4 > b.length) return undefined;
  const bases: Buffer[] = [];
  for (let i = 0; i < k; i++, p += ID_LEN) bases.push(Buffer.from(b.subarray(p, p + ID_LEN)));
  e.patch = { bases, size: b.readUInt32BE(p) };
  return { e, next: p + 4 };
}

export function encodeHeader(entries: readonly PackEntry[]): Buffer {
  const b = Buffer.alloc(5 + entries.reduce((n, e) => n + entryLength(e), 0));
  b.writeUInt8(ENTRIES_V2, 0);
  b.writeUInt32BE(entries.length, 1);
  let at = 5;
  for (const e of entries) at = writeEntry(e, b, at);
  return b;
}

/** The sealed header and the trailer, to append after the blobs. */
export function packTail(sealer: Sealer, pack: string, entries: readonly PackEntry[]): Buffer {
  const sealed = sealer.seal(packHeaderAad(pack), encodeHeader(entries));
  const trailer = Buffer.alloc(TRAILER_LEN);
  trailer.writeUInt32BE(sealed.length, 0);
  PACK_MAGIC.copy(trailer, 4);
  return Buffer.concat([sealed, trailer]);
}

/** Where the sealed header is, from the pack's size and its last TRAILER_LEN bytes. */
export function headerRange(pack: string, size: number, trailer: Buffer): { start: number; length: number } {
  if (size < TRAILER_LEN || trailer.length !== TRAILER_LEN || !trailer.subarray(4).equals(PACK_MAGIC)) throw new AgentError(`pack ${pack} is not a pack file (no trailer)`);
  const length = trailer.readUInt32BE(0);
  if (length > size - TRAILER_LEN) throw new AgentError(`pack ${pack} is corrupt (header of ${length} bytes in ${size})`);
  return { start: size - TRAILER_LEN - length, length };
}

/**
 * Open and check a pack's header: it verifies under the pack's name, and its blobs lie one after
 * the other (in order, not overlapping) before the header.
 */
export function openHeader(sealer: Sealer, pack: string, sealed: Buffer, headerStart: number): PackEntry[] {
  const bad = (why: string): AgentError => new AgentError(`pack ${pack}: its header ${why}`);
  const b = sealer.open(packHeaderAad(pack), sealed);
  if (!b) throw bad(sealer.encrypted ? "does not authenticate (corrupt, or not this repository's)" : "fails its checksum (corrupt)");
  const version = b.length >= 5 ? b.readUInt8(0) : 0;
  if (version !== ENTRIES_V1 && version !== ENTRIES_V2) throw bad("has an unknown version");
  const count = b.readUInt32BE(1);
  if (b.length < 5 + count * ENTRY_LEN) throw bad("has the wrong length");
  const entries: PackEntry[] = [];
  let end = 0;
  let at = 5;
  for (let i = 0; i < count; i++) {
    const r = readEntry(b, at, version);
    if (!r) throw bad(`has an unknown blob type or flags, or is cut off (entry ${i})`);
    const { e } = r;
    at = r.next;
    if (e.offset < end || e.offset + e.length > headerStart) throw bad(`places blob ${i} outside the pack or over another`);
    end = e.offset + e.length;
    entries.push(e);
  }
  if (at !== b.length) throw bad("has the wrong length");
  return entries;
}
