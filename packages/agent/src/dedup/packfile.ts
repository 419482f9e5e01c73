// Pack files: blobs (blob.ts) one after the other, then the pack's header, sealed, then an
// 8-byte trailer:
//   blob* | sealed header | u32 BE sealed header length | "DPK1"
// The header (plaintext): u8 version (1) | u32 BE count | count entries of ENTRY_LEN bytes:
//   u8 type | u8 flags | 32 B id | u32 BE offset | u32 BE length (sealed) | u32 BE plaintext length
// sealed with the pack's name as AAD (format.ts). A pack therefore describes itself: an index can
// be rebuilt from the packs alone, and check compares the two. Packs are written whole, once,
// under a random name, and never changed.
import { AgentError } from "../errors.ts";
import { BLOB_TYPES, type BlobType, FLAG_ZSTD, packHeaderAad } from "./format.ts";
import { ID_LEN } from "./ids.ts";
import type { Sealer } from "./seal.ts";

export const PACK_MAGIC = Buffer.from("DPK1");
export const TRAILER_LEN = 8;
export const ENTRY_LEN = 2 + ID_LEN + 12;
const HEADER_VERSION = 1;

export interface PackEntry {
  type: BlobType;
  flags: number;
  id: Buffer;
  offset: number;
  length: number;
  rawLength: number;
}

export function writeEntry(e: PackEntry, out: Buffer, at: number): void {
  out.writeUInt8(e.type, at);
  out.writeUInt8(e.flags, at + 1);
  e.id.copy(out, at + 2);
  out.writeUInt32BE(e.offset, at + 2 + ID_LEN);
  out.writeUInt32BE(e.length, at + 6 + ID_LEN);
  out.writeUInt32BE(e.rawLength, at + 10 + ID_LEN);
}

/** One entry; undefined when its type or flags are unknown. */
export function readEntry(b: Buffer, at: number): PackEntry | undefined {
  const type = b.readUInt8(at) as BlobType;
  const flags = b.readUInt8(at + 1);
  if (!BLOB_TYPES.includes(type) || (flags & ~FLAG_ZSTD) !== 0) return undefined;
  return {
    type,
    flags,
    id: Buffer.from(b.subarray(at + 2, at + 2 + ID_LEN)),
    offset: b.readUInt32BE(at + 2 + ID_LEN),
    length: b.readUInt32BE(at + 6 + ID_LEN),
    rawLength: b.readUInt32BE(at + 10 + ID_LEN),
  };
}

export function encodeHeader(entries: readonly PackEntry[]): Buffer {
  const b = Buffer.alloc(5 + entries.length * ENTRY_LEN);
  b.writeUInt8(HEADER_VERSION, 0);
  b.writeUInt32BE(entries.length, 1);
  entries.forEach((e, i) => writeEntry(e, b, 5 + i * ENTRY_LEN));
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
  if (b.length < 5 || b.readUInt8(0) !== HEADER_VERSION) throw bad("has an unknown version");
  const count = b.readUInt32BE(1);
  if (b.length !== 5 + count * ENTRY_LEN) throw bad("has the wrong length");
  const entries: PackEntry[] = [];
  let end = 0;
  for (let i = 0; i < count; i++) {
    const e = readEntry(b, 5 + i * ENTRY_LEN);
    if (!e) throw bad(`has an unknown blob type or flags (entry ${i})`);
    if (e.offset < end || e.offset + e.length > headerStart) throw bad(`places blob ${i} outside the pack or over another`);
    end = e.offset + e.length;
    entries.push(e);
  }
  return entries;
}
