// Reads blobs back: locates a chunk through the index, reads its bytes from the pack and opens
// them (blob.ts). From a filesystem repo each blob is one positioned read; from a backend without
// positioned reads (S3, Azure: RepoBackend has no ranged get yet) the whole pack is fetched and
// the last few are kept, which suits restores in backup order but not scattered reads.
import type { ObjectFile } from "@dataprotection/storage";
import { isRepoError } from "@dataprotection/storage";
import { AgentError } from "../errors.ts";
import { BlobError } from "./blob.ts";
import { shortId } from "./ids.ts";
import { type PackEntry, TRAILER_LEN, headerRange, openHeader } from "./packfile.ts";
import type { Location } from "./repo-index.ts";
import type { RepoStore } from "./store.ts";

const WHOLE_PACKS = 3;

export class BlobReader {
  private readonly whole = new Map<string, Promise<Buffer>>();

  constructor(private readonly store: RepoStore) {}

  /** The plaintext of chunk `id` (hex), verified. */
  async read(id: string): Promise<Buffer> {
    const loc = this.store.index.get(id);
    if (!loc) throw new AgentError(`chunk ${shortId(id)} is missing: no index file locates it`);
    return this.readAt(id, loc);
  }

  async readAt(id: string, loc: Location): Promise<Buffer> {
    const sealed = await this.range(loc.pack, loc.offset, loc.length, `chunk ${shortId(id)}`);
    try {
      return this.store.codec.decode({ type: loc.type, flags: loc.flags, id: Buffer.from(id, "hex"), rawLength: loc.rawLength }, sealed);
    } catch (err) {
      if (err instanceof BlobError) throw new AgentError(`chunk ${shortId(id)} in pack ${loc.pack} does not open: ${err.message} (corrupt or tampered)`);
      throw err;
    }
  }

  /** A blob's bytes as stored (sealed), unopened: the caller opens them (prune's repacking). */
  sealedAt(id: string, loc: Location): Promise<Buffer> {
    return this.range(loc.pack, loc.offset, loc.length, `chunk ${shortId(id)}`);
  }

  /** A pack's header entries, checked (packfile.ts). */
  async header(pack: string): Promise<PackEntry[]> {
    const { backend, sealer } = this.store;
    if (backend.openRead) {
      const f = await this.openPack(pack, "its header");
      try {
        const trailer = await readFully(f, f.size - TRAILER_LEN, TRAILER_LEN, pack);
        const { start, length } = headerRange(pack, f.size, trailer);
        return openHeader(sealer, pack, await readFully(f, start, length, pack), start);
      } finally {
        await f.close();
      }
    }
    const b = await this.wholePack(pack, "its header");
    const { start, length } = headerRange(pack, b.length, b.subarray(b.length - TRAILER_LEN));
    return openHeader(sealer, pack, b.subarray(start, start + length), start);
  }

  private async range(pack: string, offset: number, length: number, what: string): Promise<Buffer> {
    if (this.store.backend.openRead) {
      const f = await this.openPack(pack, what);
      try {
        return await readFully(f, offset, length, pack);
      } finally {
        await f.close();
      }
    }
    const b = await this.wholePack(pack, what);
    if (offset + length > b.length) throw new AgentError(`pack ${pack} is truncated (${what} lies beyond its end)`);
    return b.subarray(offset, offset + length);
  }

  private async openPack(pack: string, what: string): Promise<ObjectFile> {
    const { backend, layout } = this.store;
    try {
      return await backend.openRead!(layout.pack(pack));
    } catch (err) {
      throw missing(err, pack, what);
    }
  }

  private wholePack(pack: string, what: string): Promise<Buffer> {
    let p = this.whole.get(pack);
    if (p) {
      this.whole.delete(pack);
      this.whole.set(pack, p);
      return p;
    }
    const { backend, layout } = this.store;
    p = (async () => {
      const parts: Buffer[] = [];
      for await (const b of await backend.get(layout.pack(pack))) parts.push(b as Buffer);
      return Buffer.concat(parts);
    })().catch((err: unknown) => {
      this.whole.delete(pack);
      throw missing(err, pack, what);
    });
    this.whole.set(pack, p);
    while (this.whole.size > WHOLE_PACKS) this.whole.delete(this.whole.keys().next().value!);
    return p;
  }
}

function missing(err: unknown, pack: string, what: string): unknown {
  if (isRepoError(err, "NotFound")) return new AgentError(`pack ${pack} is missing (it holds ${what})`, { cause: err });
  return err;
}

async function readFully(f: ObjectFile, position: number, length: number, pack: string): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(length);
  for (let off = 0; off < length; ) {
    const n = await f.read(buf, off, length - off, position + off);
    if (n === 0) throw new AgentError(`pack ${pack} is truncated (${position + length} bytes needed, ${f.size} there)`);
    off += n;
  }
  return buf;
}
