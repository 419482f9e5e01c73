import { KeyBackoff, type BackoffOptions } from "./backoff.ts";
import { realClock, type Clock } from "./clock.ts";

/** Hooks the metrics layer plugs into; all optional. */
export interface QueueObserver {
  depth?(n: number): void;
  added?(): void;
  /** Seconds a key waited between becoming ready and being handed to a worker. */
  queued?(seconds: number): void;
  retried?(): void;
}

export interface WorkQueueOptions {
  /** Time of requeueAfter (a FakeClock in tests of schedules). */
  clock?: Clock;
  /**
   * Time of error retries; defaults to `clock`. Controllers pass the real clock: a retry
   * waits for the API server to recover, which happens in real time even when a test
   * fakes the schedule's time (a retry parked on a FakeClock would wait forever).
   */
  retryClock?: Clock;
  backoff?: BackoffOptions;
  observer?: QueueObserver;
}

/**
 * A key queue with client-go semantics: a key is queued at most once; a key being
 * processed is never handed out again until done(), and re-added keys wait for that.
 */
export class WorkQueue {
  private readonly clock: Clock;
  private readonly retryClock: Clock;
  private readonly limiter: KeyBackoff;
  private readonly observer: QueueObserver;
  private queue: string[] = [];
  private head = 0;
  private dirty = new Map<string, number>(); // key -> time it became ready
  private processing = new Set<string>();
  private waiting = new Map<string, { at: number; cancel: () => void }>();
  private retrying = new Map<string, { at: number; cancel: () => void }>();
  private getters: Array<(key: string | undefined) => void> = [];
  private idle: Array<() => void> = [];
  private closed = false;
  private waking = false;

  constructor(opts: WorkQueueOptions = {}) {
    this.clock = opts.clock ?? realClock;
    this.retryClock = opts.retryClock ?? this.clock;
    this.limiter = new KeyBackoff(opts.backoff);
    this.observer = opts.observer ?? {};
  }

  get length(): number {
    return this.queue.length - this.head;
  }

  get inFlight(): number {
    return this.processing.size;
  }

  get shuttingDown(): boolean {
    return this.closed;
  }

  add(key: string): void {
    if (this.closed || this.dirty.has(key)) return;
    this.dirty.set(key, this.clock.now());
    this.observer.added?.();
    if (this.processing.has(key)) return; // done() queues it
    this.push(key);
  }

  /** Adds the key after ms; an earlier pending time for the same key wins. */
  addAfter(key: string, ms: number): void {
    if (this.closed) return;
    if (ms <= 0) return this.add(key);
    this.later(this.waiting, this.clock, key, ms);
  }

  /** Adds the key after its per-key exponential backoff (on the retry clock). */
  addRateLimited(key: string): void {
    this.observer.retried?.();
    this.later(this.retrying, this.retryClock, key, this.limiter.next(key));
  }

  /** Resets the key's backoff after a success. */
  forget(key: string): void {
    this.limiter.forget(key);
  }

  retries(key: string): number {
    return this.limiter.retries(key);
  }

  /** The next key, or undefined once the queue shuts down. Call done(key) after. */
  get(): Promise<string | undefined> {
    if (this.length > 0) return Promise.resolve(this.take());
    if (this.closed) return Promise.resolve(undefined);
    return new Promise((resolve) => this.getters.push(resolve));
  }

  done(key: string): void {
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.closed) this.push(key);
    if (this.processing.size === 0) for (const f of this.idle.splice(0)) f();
  }

  /** Stops handing out keys (pending ones are dropped) and resolves when in-flight keys are done. */
  shutdown(): Promise<void> {
    this.closed = true;
    for (const w of this.waiting.values()) w.cancel();
    this.waiting.clear();
    for (const w of this.retrying.values()) w.cancel();
    this.retrying.clear();
    this.queue = [];
    this.head = 0;
    for (const g of this.getters.splice(0)) g(undefined);
    this.observer.depth?.(0);
    if (this.processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  // One timer per key and clock: a later time than the pending one is dropped, an earlier one replaces it.
  private later(timers: Map<string, { at: number; cancel: () => void }>, clock: Clock, key: string, ms: number): void {
    if (this.closed) return;
    const at = clock.now() + ms;
    const prev = timers.get(key);
    if (prev && prev.at <= at) return;
    prev?.cancel();
    const cancel = clock.setTimeout(() => {
      timers.delete(key);
      this.add(key);
    }, ms);
    timers.set(key, { at, cancel });
  }

  private push(key: string): void {
    this.queue.push(key);
    this.observer.depth?.(this.length);
    // Hand out on a microtask, so keys added in one burst (old and new object of an update) dedup first.
    if (this.getters.length > 0 && !this.waking) {
      this.waking = true;
      queueMicrotask(() => {
        this.waking = false;
        while (this.getters.length > 0 && this.length > 0) this.getters.shift()!(this.take());
      });
    }
  }

  private take(): string {
    const key = this.queue[this.head++];
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const since = this.dirty.get(key) ?? this.clock.now();
    this.dirty.delete(key);
    this.processing.add(key);
    this.observer.queued?.((this.clock.now() - since) / 1000);
    this.observer.depth?.(this.length);
    return key;
  }
}
