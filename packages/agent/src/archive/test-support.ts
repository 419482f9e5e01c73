// Test helpers for the unpacker's memory bound: file writes made slower than any source (a disk
// slower than the repository), and a source that lends fresh buffers and counts what is held.
import { type FileHandle, open } from "node:fs/promises";
import { devNull } from "node:os";

/**
 * Delay every FileHandle.write of this process by `ms` before it starts (the unpacker writes
 * through FileHandle); resolves with the function that undoes it.
 */
export async function slowFileWrites(ms: number): Promise<() => void> {
  const fh = await open(devNull);
  const proto = Object.getPrototypeOf(fh) as { write: FileHandle["write"] };
  await fh.close();
  const write = proto.write;
  proto.write = async function (this: FileHandle, ...args: unknown[]) {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return (write as (...a: unknown[]) => ReturnType<FileHandle["write"]>).apply(this, args);
  } as FileHandle["write"];
  return () => {
    proto.write = write;
  };
}

/**
 * A source of fresh buffers, each the consumer's own (as a dedup restore's chunks are), with
 * the ChunkConsumer `hold`: it counts the bytes of the buffers held at once (each once, however
 * many holds it has) and their peak.
 */
export class Lender {
  held = 0;
  peak = 0;
  private last?: Buffer;
  private readonly refs = new Map<Buffer, number>();

  async *source(parts: Iterable<Buffer>): AsyncGenerator<Buffer> {
    for (const p of parts) {
      this.last = Buffer.from(p);
      yield this.last;
    }
  }

  /** Re-lend what another source yields, each buffer a fresh copy. */
  async *from(parts: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const p of parts) {
      this.last = Buffer.from(p);
      yield this.last;
    }
  }

  readonly hold = (): (() => void) => {
    const b = this.last;
    if (!b) return () => undefined;
    const n = this.refs.get(b) ?? 0;
    this.refs.set(b, n + 1);
    if (n === 0) {
      this.held += b.length;
      this.peak = Math.max(this.peak, this.held);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.refs.get(b) ?? 1) - 1;
      if (left > 0) this.refs.set(b, left);
      else {
        this.refs.delete(b);
        this.held -= b.length;
      }
    };
  };
}
