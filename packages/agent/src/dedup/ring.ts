// Space in one buffer for regions of any size, taken in order, given back in any order: a
// region's space is reused once every region taken before it is back. The encoders' shared
// memory (encoders.ts): blobs are taken in the order they come and given back in that order
// (pack-writer.ts appends them so), and sizing by the blob rather than by the largest chunk
// keeps ~4x as many average chunks in flight in the same memory.
export interface Region {
  readonly start: number;
  readonly end: number;
}

interface Taken extends Region {
  back: boolean;
}

export class Ring {
  /** Regions not yet reusable, oldest first. */
  private readonly taken: Taken[] = [];
  /** Where the newest region ends. */
  private head = 0;

  constructor(readonly size: number) {}

  /** `n` (>= 1) free bytes, or undefined while they are not free. */
  take(n: number): Region | undefined {
    if (!Number.isInteger(n) || n < 1 || n > this.size) throw new RangeError(`internal: a region of ${n} bytes in a ring of ${this.size}`);
    const oldest = this.taken[0]?.start;
    let start: number | undefined;
    if (oldest === undefined) start = 0;
    else if (this.head > oldest) start = this.head + n <= this.size ? this.head : n <= oldest ? 0 : undefined;
    else start = this.head + n <= oldest ? this.head : undefined;
    if (start === undefined) return undefined;
    const r = { start, end: start + n, back: false };
    this.taken.push(r);
    this.head = r.end;
    return r;
  }

  /** Give `r` back. */
  give(r: Region): void {
    const t = this.taken.find((x) => x === r);
    if (!t || t.back) throw new Error("internal: a region given back twice, or not from this ring");
    t.back = true;
    while (this.taken[0]?.back) this.taken.shift();
    if (this.taken.length === 0) this.head = 0;
  }

  /** Regions taken and not yet reusable. */
  get inUse(): number {
    return this.taken.length;
  }
}
