// Cuts a stream into chunks and stores the new ones: the content list of a file or stream
// (tree.ts). With `holes`, a chunk of zero bytes is not stored at all but recorded as a hole
// (runs merged), so sparse files and zeroed regions cost nothing and restore sparse.
import { Chunker } from "./cdc.ts";
import type { BlobType } from "./format.ts";
import { chunkId } from "./ids.ts";
import type { PackWriter } from "./pack-writer.ts";
import type { Content } from "./tree.ts";

export interface Stored {
  size: number;
  content: Content;
}

export class ContentStore {
  private zero?: Buffer;

  constructor(
    readonly chunker: Chunker,
    private readonly idKey: Buffer,
    private readonly writer: PackWriter,
    private readonly type: BlobType,
    private readonly holes: boolean,
  ) {}

  async store(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Stored> {
    const content: Content = [];
    let size = 0;
    for await (const chunk of this.chunker.chunks(source)) {
      size += chunk.length;
      if (this.holes && this.isZero(chunk)) {
        const last = content.length - 1;
        if (typeof content[last] === "number") content[last] = (content[last] as number) + chunk.length;
        else content.push(chunk.length);
        continue;
      }
      const id = chunkId(this.idKey, chunk);
      await this.writer.add(this.type, id, chunk);
      content.push(id.toString("hex"));
    }
    return { size, content };
  }

  private isZero(b: Buffer): boolean {
    if (b[0] !== 0 || b[b.length - 1] !== 0) return false;
    this.zero ??= Buffer.alloc(this.chunker.cdc.params.max);
    return b.equals(this.zero.subarray(0, b.length));
  }
}
