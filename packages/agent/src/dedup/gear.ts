// The gear table of the content-defined chunker (cdc.ts): 256 pseudo-random 32-bit words, one per
// byte value. A repo's table comes from a seed (config.ts: derived from the repo key when the repo
// is encrypted, so a repo reader cannot predict where chunks are cut; a random seed stored in the
// config otherwise); tests and the parameter bench use DEFAULT_GEAR_SEED.
import { createHash } from "node:crypto";

export const DEFAULT_GEAR_SEED = createHash("sha256").update("dp-agent dedup gear v1").digest();

/** Word i is bytes 4i..4i+3 (big-endian) of sha256(seed | u32 block) for block = 0..31, concatenated. */
export function gearTable(seed: Uint8Array = DEFAULT_GEAR_SEED): Uint32Array {
  const table = new Uint32Array(256);
  for (let block = 0; block < 32; block++) {
    const counter = Buffer.alloc(4);
    counter.writeUInt32BE(block);
    const d = createHash("sha256").update(seed).update(counter).digest();
    for (let j = 0; j < 8; j++) table[block * 8 + j] = d.readUInt32BE(j * 4);
  }
  return table;
}
