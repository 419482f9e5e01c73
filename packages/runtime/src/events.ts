import { randomBytes } from "node:crypto";
import type { Logger } from "winston";
import type { KubeClient } from "./client.ts";
import { realClock, sleep, type Clock } from "./clock.ts";
import { isAlreadyExists, isNotFound, isTransient } from "./errors.ts";
import { Kinds } from "./kinds.ts";
import type { KubeObject } from "./object.ts";

export type EventType = "Normal" | "Warning";

/** A core/v1 Event as written to the API server. */
export interface CoreEvent extends KubeObject {
  involvedObject: { apiVersion?: string; kind?: string; name?: string; namespace?: string; uid?: string; resourceVersion?: string };
  type: EventType;
  reason: string;
  message: string;
  count: number;
  firstTimestamp: string;
  lastTimestamp: string;
  source: { component: string; host?: string };
  reportingComponent: string;
  reportingInstance: string;
}

/** Where the recorder writes; the API server in production, an array in unit tests. */
export interface EventSink {
  /** signal aborts when the recorder stops writing (close()): the write must end at once. */
  create(ev: CoreEvent, signal?: AbortSignal): Promise<void>;
  /** Updates count and lastTimestamp of an Event the sink created. */
  update(namespace: string, name: string, count: number, lastTimestamp: string, signal?: AbortSignal): Promise<void>;
}

export function apiEventSink(client: KubeClient): EventSink {
  return {
    create: async (ev, signal) => void (await client.create(Kinds.Event, ev, { signal })),
    update: async (ns, name, count, lastTimestamp, signal) => void (await client.patch(Kinds.Event, name, ns, { count, lastTimestamp }, { signal })),
  };
}

export interface EventRecorderOptions {
  component: string;
  instance?: string;
  clock?: Clock;
  logger?: Logger;
  /** Repeats within this window update one Event's count instead of creating Events. */
  windowMs?: number;
  /** How many distinct (object, type, reason, message) series to remember. */
  maxSeries?: number;
  /** Real-time waits before each retry of a write that failed transiently. */
  retryDelaysMs?: readonly number[];
}

/** A busy API server (429, 5xx, a reset connection) gets a few seconds before an Event is dropped. */
const DEFAULT_RETRY_DELAYS_MS = [200, 500, 1000, 2000, 4000];

interface Series {
  namespace: string;
  name: string;
  ev: CoreEvent;
  count: number;
  written: number;
  created: boolean;
  busy: boolean;
  last: number;
}

/**
 * Records Events without blocking the reconcile. Identical repeats
 * (same object, type, reason, message) are folded into one Event whose count
 * grows, and bursts coalesce into one write. close() stops every write at once
 * (the manager calls it when leadership is lost or it stops); open() resumes.
 */
export class EventRecorder {
  private series = new Map<string, Series>();
  private pending = new Set<Promise<void>>();
  private readonly clock: Clock;
  /** Aborted by close(); a fresh one per open period, so a write started before a close never lands after it. */
  private gate = new AbortController();
  private closedBecause?: string;

  constructor(
    private readonly sink: EventSink,
    private readonly o: EventRecorderOptions,
  ) {
    this.clock = o.clock ?? realClock;
  }

  normal(obj: KubeObject, reason: string, message: string): void {
    this.record(obj, "Normal", reason, message);
  }

  warning(obj: KubeObject, reason: string, message: string): void {
    this.record(obj, "Warning", reason, message);
  }

  record(obj: KubeObject, type: EventType, reason: string, message: string): void {
    if (this.closedBecause !== undefined) {
      this.o.logger?.debug("Event dropped: not writing", { why: this.closedBecause, reason, object: obj.metadata.name });
      return;
    }
    const m = obj.metadata;
    const key = [m.uid ?? `${m.namespace}/${m.name}`, type, reason, message].join("\u0000");
    const now = this.clock.now();
    let s = this.series.get(key);
    if (s && now - s.last > (this.o.windowMs ?? 600_000)) {
      this.series.delete(key);
      s = undefined;
    }
    if (!s) {
      s = this.newSeries(obj, type, reason, message, now);
      this.series.set(key, s);
      this.evict();
    }
    s.count++;
    s.last = now;
    if (!s.busy) this.track(this.write(s));
  }

  /** Resolves when every recorded Event has been written (or failed, or dropped). */
  async flush(): Promise<void> {
    while (this.pending.size) await Promise.all([...this.pending]);
  }

  get writing(): boolean {
    return this.closedBecause === undefined;
  }

  /**
   * From now on no Event write leaves: in-flight writes are aborted, queued repeats are dropped
   * (one log line), and record() drops until open(). Idempotent.
   */
  close(why: string): void {
    if (this.closedBecause !== undefined) return;
    this.closedBecause = why;
    this.gate.abort(new Error(`Event writes stopped: ${why}`));
    let dropped = 0;
    for (const s of this.series.values()) {
      dropped += s.count - s.written;
      s.written = s.count;
    }
    if (dropped > 0) this.o.logger?.warn("dropping queued Events", { why, dropped });
  }

  /** Writes may leave again (this replica leads again). */
  open(): void {
    if (this.closedBecause === undefined) return;
    this.closedBecause = undefined;
    this.gate = new AbortController();
  }

  private newSeries(obj: KubeObject, type: EventType, reason: string, message: string, now: number): Series {
    const m = obj.metadata;
    const namespace = m.namespace || "default";
    const name = `${m.name}.${randomBytes(8).toString("hex")}`;
    const ts = new Date(now).toISOString();
    const ev: CoreEvent = {
      apiVersion: "v1",
      kind: "Event",
      metadata: { name, namespace },
      involvedObject: { apiVersion: obj.apiVersion, kind: obj.kind, name: m.name, namespace: m.namespace, uid: m.uid, resourceVersion: m.resourceVersion },
      type,
      reason,
      message: message.slice(0, 1024),
      count: 0,
      firstTimestamp: ts,
      lastTimestamp: ts,
      source: { component: this.o.component },
      reportingComponent: this.o.component,
      reportingInstance: this.o.instance ?? this.o.component,
    };
    return { namespace, name, ev, count: 0, written: 0, created: false, busy: false, last: now };
  }

  private async write(s: Series): Promise<void> {
    s.busy = true;
    const signal = this.gate.signal;
    try {
      while (s.written < s.count && !signal.aborted) {
        const target = s.count;
        const ts = new Date(s.last).toISOString();
        await this.withRetries(signal, async () => {
          if (!s.created) {
            // AlreadyExists: an earlier attempt landed although its answer was lost; the next
            // repeat updates the count.
            await this.sink.create({ ...s.ev, count: target, lastTimestamp: ts }, signal).catch((e: unknown) => {
              if (!isAlreadyExists(e)) throw e;
            });
            s.created = true;
            return;
          }
          try {
            await this.sink.update(s.namespace, s.name, target, ts, signal);
          } catch (e) {
            if (!isNotFound(e)) throw e;
            // The Event expired (TTL) while we kept counting: start a new one.
            s.name = `${s.ev.involvedObject.name}.${randomBytes(8).toString("hex")}`;
            s.ev = { ...s.ev, metadata: { ...s.ev.metadata, name: s.name }, firstTimestamp: ts };
            s.created = false;
            await this.sink.create({ ...s.ev, count: target, lastTimestamp: ts }, signal);
            s.created = true;
          }
        });
        // After a close, close() has already counted the rest as dropped.
        if (!signal.aborted) s.written = target;
      }
    } catch (e) {
      if (!signal.aborted) this.o.logger?.warn("could not write Event", { reason: s.ev.reason, object: s.ev.involvedObject.name, error: String(e) });
      s.written = s.count; // drop: Events are best effort
    } finally {
      s.busy = false;
    }
  }

  /** Runs a write, retrying transient failures after real-time waits (never the injected clock). */
  private async withRetries(signal: AbortSignal, write: () => Promise<void>): Promise<void> {
    const delays = this.o.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS;
    for (let attempt = 0; ; attempt++) {
      signal.throwIfAborted();
      try {
        return await write();
      } catch (e) {
        if (signal.aborted || attempt >= delays.length || !isTransient(e)) throw e;
        await sleep(realClock, delays[attempt], signal);
      }
    }
  }

  private track(p: Promise<void>): void {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p));
  }

  private evict(): void {
    const max = this.o.maxSeries ?? 4096;
    for (const [k, s] of this.series) {
      if (this.series.size <= max) break;
      if (!s.busy) this.series.delete(k);
    }
  }
}
