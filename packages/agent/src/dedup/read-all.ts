import type { Readable } from "node:stream";

/** A whole (small) object: configs, index files, snapshots. */
export async function readAll(r: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const b of r) parts.push(typeof b === "string" ? Buffer.from(b) : (b as Buffer));
  return Buffer.concat(parts);
}
