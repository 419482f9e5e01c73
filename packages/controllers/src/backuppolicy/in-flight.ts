// The scheduled-Backup creates this controller has in flight. At a tick shared by many
// policies, the passes that record a tick (status write, Event) wait until none is: otherwise
// the first policies' records reach the API server alongside the last policies' creates and
// push those creates later (bench:schedule measures that tail).
export class CreatesInFlight {
  private count = 0;
  private waiters: Array<() => void> = [];

  /** `create`'s result; counted as in flight until it settles. */
  async track<T>(create: () => Promise<T>): Promise<T> {
    this.count++;
    try {
      return await create();
    } finally {
      if (--this.count === 0) for (const w of this.waiters.splice(0)) w();
    }
  }

  /** Resolves once no create is in flight (at once when none is), or when `signal` aborts. */
  idle(signal: AbortSignal): Promise<void> {
    if (this.count === 0 || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = (): void => {
        signal.removeEventListener("abort", done);
        resolve();
      };
      this.waiters.push(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  get size(): number {
    return this.count;
  }
}
