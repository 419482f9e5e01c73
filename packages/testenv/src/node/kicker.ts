// Watches only to learn that something changed; the node then re-lists (level-based), so a
// dropped watch, a 410 Gone or a restarted apiserver cost nothing but a reconnect.
import { Watch, type KubeConfig } from "@kubernetes/client-node";

export class WatchKicker {
  private readonly aborts = new Set<AbortController>();
  private stopped = false;

  constructor(private readonly kc: KubeConfig, private readonly kick: () => void) {}

  watch(path: string, query: Record<string, string> = {}): void {
    const w = new Watch(this.kc);
    const connect = (): void => {
      if (this.stopped) return;
      let ac: AbortController | undefined;
      const reconnect = (): void => {
        if (ac) this.aborts.delete(ac);
        if (this.stopped) return;
        this.kick(); // events may have been missed while disconnected
        setTimeout(connect, 1000).unref();
      };
      w.watch(path, { ...query, allowWatchBookmarks: false }, () => this.kick(), reconnect)
        .then((a) => {
          ac = a;
          if (this.stopped) a.abort();
          else this.aborts.add(a);
        })
        .catch(reconnect);
    };
    connect();
  }

  stop(): void {
    this.stopped = true;
    for (const a of this.aborts) a.abort();
    this.aborts.clear();
  }
}

/** Runs `fn` again whenever kicked, never twice at once, at least every `periodMs`. */
export class Resync {
  private running: Promise<void> | undefined;
  private dirty = false;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly fn: () => Promise<void>, private readonly periodMs: number, private readonly onError: (e: unknown) => void) {}

  start(): void {
    this.timer = setInterval(() => this.kick(), this.periodMs);
    this.kick();
  }

  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.dirty = true;
      return;
    }
    this.running = (async () => {
      do {
        this.dirty = false;
        try {
          await this.fn();
        } catch (err) {
          this.onError(err);
        }
      } while (this.dirty && !this.stopped);
    })().finally(() => (this.running = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    await this.running;
  }
}
