// Chunk ids: HMAC-SHA256 of the plaintext under the repo's id key (keys.ts). Equal chunks get
// equal ids within a repo (that is the deduplication), but without the key an id says nothing
// about the data: a repo reader cannot confirm that a repo holds a chunk they can guess. In an
// unencrypted repo the id key is a random value in the config (config.ts): whoever reads the repo
// reads the data anyway, and the ids still differ from any other repo's.
import { createHmac } from "node:crypto";

export const ID_LEN = 32;
const HEX_ID = /^[0-9a-f]{64}$/;

export function chunkId(idKey: Buffer, plain: Uint8Array): Buffer {
  return createHmac("sha256", idKey).update(plain).digest();
}

export function isHexId(s: unknown): s is string {
  return typeof s === "string" && HEX_ID.test(s);
}

/** For messages: the first 16 hex digits. */
export function shortId(id: string): string {
  return id.slice(0, 16);
}
