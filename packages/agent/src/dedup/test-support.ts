// Test helpers for the dedup repo's prune, lock and crash tests: an in-memory backend, a backend
// that "crashes" after N writes, one that pauses a listing until released, a clock to turn by
// hand, and a source that stops half-way until released.
import { Readable, Writable } from "node:stream";
import type { ObjectFile, ObjectInfo, PutBody, RepoBackend } from "@dataprotection/storage";
import { RepoError } from "@dataprotection/storage";
import type { LockOptions } from "./lock.ts";

/** A RepoBackend in a Map, with positioned reads; `clone()` copies its objects. */
export class MemoryBackend implements RepoBackend {
  readonly kind = "filesystem" as const;
  readonly location = "memory:";

  constructor(readonly objects = new Map<string, Buffer>()) {}

  clone(): MemoryBackend {
    return new MemoryBackend(new Map(this.objects));
  }

  async put(key: string, body: PutBody): Promise<number> {
    let b: Buffer;
    if (Buffer.isBuffer(body)) b = Buffer.from(body);
    else {
      const parts: Buffer[] = [];
      for await (const p of body as AsyncIterable<Buffer>) parts.push(Buffer.from(p));
      b = Buffer.concat(parts);
    }
    this.objects.set(key, b);
    return b.length;
  }

  async get(key: string): Promise<Readable> {
    const b = this.objects.get(key);
    if (!b) throw new RepoError("NotFound", `${key} not found`);
    return Readable.from([b]);
  }

  async openRead(key: string): Promise<ObjectFile> {
    const b = this.objects.get(key);
    if (!b) throw new RepoError("NotFound", `${key} not found`);
    return {
      size: b.length,
      read: async (buf, offset, length, position) => {
        const n = Math.max(0, Math.min(length, b.length - position));
        buf.set(b.subarray(position, position + n), offset);
        return n;
      },
      close: async () => undefined,
    };
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    const b = this.objects.get(key);
    return b ? { key, size: b.length } : undefined;
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const keys = [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
    for (const key of keys) {
      const b = this.objects.get(key);
      if (b) yield { key, size: b.length };
    }
  }

  async delete(key: string): Promise<void> {
    this.objects.delete(key);
  }

  async deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    for (const k of [...this.objects.keys()]) if (k.startsWith(prefix) && this.objects.delete(k)) n++;
    return n;
  }

  async probe(): Promise<void> {}

  keys(prefix: string): string[] {
    return [...this.objects.keys()].filter((k) => k.startsWith(prefix)).sort();
  }
}

/** Delegates to `inner`; overrides what a test wraps. */
export class WrappedBackend implements RepoBackend {
  readonly kind: RepoBackend["kind"];
  readonly location: string;

  constructor(protected readonly inner: RepoBackend) {
    this.kind = inner.kind;
    this.location = inner.location;
  }
  put(key: string, body: PutBody): Promise<number> {
    return this.inner.put(key, body);
  }
  get(key: string): Promise<Readable> {
    return this.inner.get(key);
  }
  openRead(key: string): Promise<ObjectFile> {
    return this.inner.openRead!(key);
  }
  stat(key: string): Promise<ObjectInfo | undefined> {
    return this.inner.stat(key);
  }
  list(prefix: string): AsyncIterable<ObjectInfo> {
    return this.inner.list(prefix);
  }
  delete(key: string): Promise<void> {
    return this.inner.delete(key);
  }
  deletePrefix(prefix: string): Promise<number> {
    return this.inner.deletePrefix(prefix);
  }
  probe(): Promise<void> {
    return this.inner.probe();
  }
}

export class CrashError extends Error {
  constructor() {
    super("simulated crash");
  }
}

/**
 * The process "dies" after `after` writes (puts and deletes): that write and every later one
 * fail, with nothing stored (puts are atomic). Reads go on (a dead process reads nothing, and
 * reading changes nothing). `writes` counts the writes attempted.
 */
export class CrashingBackend extends WrappedBackend {
  writes = 0;
  crashed = false;

  constructor(
    inner: RepoBackend,
    private readonly after = Infinity,
  ) {
    super(inner);
  }

  private write(): void {
    this.writes++;
    if (this.crashed || this.writes > this.after) {
      this.crashed = true;
      throw new CrashError();
    }
  }
  override async put(key: string, body: PutBody): Promise<number> {
    this.write();
    return this.inner.put(key, body);
  }
  override async delete(key: string): Promise<void> {
    this.write();
    return this.inner.delete(key);
  }
}

/** Pauses a listing under a prefix ending in `suffix` (the `skip`+1-th one once armed) until released. */
export class PausingBackend extends WrappedBackend {
  private gate?: { suffix: string; skip: number; reached: () => void; open: Promise<void> };

  /** Arm: `reached` resolves when the listing is reached; call `release` to let it go on. */
  pauseAt(suffix: string, skip = 0): { reached: Promise<void>; release: () => void } {
    let reached!: () => void;
    let release!: () => void;
    const r = new Promise<void>((res) => (reached = res));
    const open = new Promise<void>((res) => (release = res));
    this.gate = { suffix, skip, reached, open };
    return { reached: r, release };
  }

  override list(prefix: string): AsyncIterable<ObjectInfo> {
    const gate = this.gate && prefix.endsWith(this.gate.suffix) ? this.gate : undefined;
    if (!gate) return this.inner.list(prefix);
    if (gate.skip-- > 0) return this.inner.list(prefix);
    this.gate = undefined;
    const inner = this.inner;
    return (async function* () {
      gate.reached();
      await gate.open;
      yield* inner.list(prefix);
    })();
  }
}

/** A clock turned by hand; lock options that use it (leases far longer than any test step). */
export class FakeClock {
  t = Date.parse("2030-01-01T00:00:00Z");
  readonly now = (): number => this.t;
  advance(ms: number): void {
    this.t += ms;
  }
}

export const TEST_LEASE = 600_000;
export function lockOptions(clock: { now: () => number }, host = "test-host", pid = 1): LockOptions {
  return { now: clock.now, lease: TEST_LEASE, refresh: 60_000, margin: 120_000, host, pid, timer: false };
}

/** Tiny chunks and packs: a few KiB make several of each. */
export const TINY = { chunker: { min: 256, avg: 1024, max: 4096 }, treeChunker: { min: 256, avg: 1024, max: 4096 }, packSize: 4096 };

/** A source that yields `data` in two halves and waits between them until released. */
export function pausedSource(data: Buffer): { source: AsyncIterable<Buffer>; started: Promise<void>; release: () => void } {
  let started!: () => void;
  let release!: () => void;
  const s = new Promise<void>((res) => (started = res));
  const gate = new Promise<void>((res) => (release = res));
  async function* source(): AsyncGenerator<Buffer> {
    const half = data.length >> 1;
    yield data.subarray(0, half);
    started();
    await gate;
    yield data.subarray(half);
  }
  return { source: source(), started: s, release };
}

export async function* pieces(b: Buffer): AsyncGenerator<Buffer> {
  for (let off = 0; off < b.length; off += 1500) yield b.subarray(off, off + 1500);
}

export function collector(): { w: Writable; bytes: () => Buffer } {
  const parts: Buffer[] = [];
  return { w: new Writable({ write: (c: Buffer, _e, cb) => (parts.push(Buffer.from(c)), cb()) }), bytes: () => Buffer.concat(parts) };
}

/** What a promise rejected with ("succeeded" if it did not). */
export function failure(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => "succeeded",
    (e: unknown) => (e instanceof Error ? e.message : String(e)),
  );
}
