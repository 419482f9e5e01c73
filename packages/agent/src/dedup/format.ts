// The dedup repo's layout and the associated data that names each sealed thing.
//
// Under the repo prefix:
//   config                  the repo's parameters, plain JSON (config.ts)
//   packs/<2 hex>/<64 hex>  pack files: sealed blobs, then a sealed header listing them (packfile.ts)
//   index/<64 hex>          index files: pack -> blobs (id, type, offset, length, a patch's base), sealed (repo-index.ts)
//   snapshots/<32 hex>      snapshots, sealed (snapshot.ts)
//   locks/<32 hex>          locks: who is using the repo, how, until when; sealed (lock.ts)
// Pack, index and snapshot names are random. AADs (seal.ts) start with a 4-byte tag and carry
// the thing's name or id, so a sealed thing cannot be renamed, moved into another role, or (a
// blob) served for another chunk id.
import { checkKey } from "@dataprotection/storage";

/**
 * Blob types: file and stream data, snapshot trees (kept in packs of their own), and patches: a
 * data chunk stored as another data chunk plus the bytes that differ (patch.ts).
 */
export const BLOB_DATA = 0;
export const BLOB_TREE = 1;
export const BLOB_PATCH = 2;
export const BLOB_TYPES = [BLOB_DATA, BLOB_TREE, BLOB_PATCH] as const;
export type BlobType = (typeof BLOB_TYPES)[number];
/** Blob flags: the payload is a zstd frame (else the plaintext as it is). */
export const FLAG_ZSTD = 1;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;

export function isPackName(s: string): boolean {
  return HEX64.test(s);
}
export function isIndexName(s: string): boolean {
  return HEX64.test(s);
}
export function isSnapshotId(s: string): boolean {
  return HEX32.test(s);
}
export function isLockId(s: string): boolean {
  return HEX32.test(s);
}

/** Object keys of a repo under `prefix` ("" or a key prefix without a trailing "/"). */
export class Layout {
  private readonly base: string;

  constructor(readonly prefix: string) {
    if (prefix !== "") checkKey(prefix);
    this.base = prefix === "" ? "" : `${prefix}/`;
  }

  get config(): string {
    return `${this.base}config`;
  }
  get packs(): string {
    return `${this.base}packs/`;
  }
  get indexes(): string {
    return `${this.base}index/`;
  }
  get snapshots(): string {
    return `${this.base}snapshots/`;
  }
  get locks(): string {
    return `${this.base}locks/`;
  }
  pack(name: string): string {
    return `${this.packs}${name.slice(0, 2)}/${name}`;
  }
  index(name: string): string {
    return `${this.indexes}${name}`;
  }
  snapshot(id: string): string {
    return `${this.snapshots}${id}`;
  }
  lock(id: string): string {
    return `${this.locks}${id}`;
  }
  /** The name at the end of a listed key, if it is one of `kind`'s. */
  nameOf(key: string, valid: (name: string) => boolean): string | undefined {
    const name = key.slice(key.lastIndexOf("/") + 1);
    return valid(name) ? name : undefined;
  }
}

function aad(tag: string, ...parts: (Buffer | number)[]): Buffer {
  return Buffer.concat([Buffer.from(tag, "latin1"), ...parts.map((p) => (typeof p === "number" ? Buffer.from([p]) : p))]);
}

/** A blob: its type, flags and chunk id. */
export function blobAad(type: BlobType, flags: number, id: Buffer): Buffer {
  return aad("DPB1", type, flags, id);
}
/** A pack's header: the pack's name. */
export function packHeaderAad(pack: string): Buffer {
  return aad("DPH1", Buffer.from(pack, "latin1"));
}
/** An index file: its name. */
export function indexAad(name: string): Buffer {
  return aad("DPI1", Buffer.from(name, "latin1"));
}
/** A snapshot: its id. */
export function snapshotAad(id: string): Buffer {
  return aad("DPS1", Buffer.from(id, "latin1"));
}
/** A lock: its id. */
export function lockAad(id: string): Buffer {
  return aad("DPL1", Buffer.from(id, "latin1"));
}
