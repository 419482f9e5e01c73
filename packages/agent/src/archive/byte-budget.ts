/**
 * A limit on bytes kept at once: `take(n)` counts n bytes until its release function is called,
 * `room(n)` waits until n more fit. One piece larger than the whole limit still gets through,
 * alone (nothing else counted), so the count never exceeds max(limit, the largest piece).
 */
export class ByteBudget {
  /** Bytes counted now. */
  used = 0;
  /** The most bytes counted at once. */
  peak = 0;
  private waiters: (() => void)[] = [];

  constructor(readonly limit: number) {
    if (!(limit > 0)) throw new RangeError(`byte budget ${limit}: must be above 0`);
  }

  /** Whether `n` more bytes may be taken now. */
  fits(n: number): boolean {
    return this.used === 0 || this.used + n <= this.limit;
  }

  /** Resolves once `n` more bytes fit (at once if they do). */
  async room(n: number): Promise<void> {
    while (!this.fits(n)) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  /** Count `n` bytes until the returned function is called (once; later calls do nothing). */
  take(n: number): () => void {
    this.used += n;
    if (this.used > this.peak) this.peak = this.used;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.used -= n;
      const w = this.waiters;
      this.waiters = [];
      for (const wake of w) wake();
    };
  }
}
