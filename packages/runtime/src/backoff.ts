/** Exponential backoff: base * 2^attempt, capped, with proportional jitter. */
export interface BackoffOptions {
  baseMs: number;
  capMs: number;
  /** 0..1: a delay d becomes a random value in [d*(1-jitter), d]. */
  jitter: number;
  random?: () => number;
}

export const defaultBackoff: BackoffOptions = { baseMs: 5, capMs: 300_000, jitter: 0 };

export function backoffDelay(attempt: number, o: BackoffOptions): number {
  const raw = Math.min(o.capMs, o.baseMs * 2 ** Math.min(attempt, 52));
  const r = (o.random ?? Math.random)();
  return Math.round(raw * (1 - o.jitter * r));
}

/** Per-key failure counts: each failure of a key waits longer, until forget(). */
export class KeyBackoff {
  private failures = new Map<string, number>();

  constructor(private readonly opts: BackoffOptions = defaultBackoff) {}

  /** The delay for the key's next retry; counts one more failure. */
  next(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    return backoffDelay(n, this.opts);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  forget(key: string): void {
    this.failures.delete(key);
  }
}
