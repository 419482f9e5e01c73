import { randomUUID } from "node:crypto";
import type { Logger } from "winston";
import type { BackoffOptions } from "./backoff.ts";
import type { Cache } from "./cache.ts";
import type { KubeClient } from "./client.ts";
import { realClock, type Clock } from "./clock.ts";
import { ReconcileAbortedError, TerminalError } from "./errors.ts";
import type { EventRecorder } from "./events.ts";
import type { EventHandler } from "./informer.ts";
import { keyOf, parseKey, type Kind, type ObjectKey } from "./kinds.ts";
import type { RuntimeMetrics } from "./metrics.ts";
import type { KubeObject } from "./object.ts";
import { controllerOf, refersTo } from "./owner.ts";
import { WorkQueue } from "./workqueue.ts";

/** What a reconcile asks for next; nothing means "done until something changes". */
export interface ReconcileResult {
  /** Reconcile this key again after this many ms (resets the error backoff). */
  requeueAfter?: number;
  /** Reconcile again soon, with the key's backoff. */
  requeue?: boolean;
}

export interface ReconcileContext {
  /** Unique per reconcile; also in every line of log. */
  reconcileID: string;
  /** Logger with controller, kind, namespace, name and reconcileID. */
  log: Logger;
  /**
   * Aborted when the manager stops (SIGTERM at once, stop() after its grace), when this replica
   * loses leadership, and when the reconcile runs past its time limit; the reason is a
   * ReconcileAbortedError. Pass it to anything slow that is not ctx.client.
   */
  signal: AbortSignal;
  cache: Cache;
  /** The manager's client bound to `signal`: every request made through it ends when the signal aborts. */
  client: KubeClient;
  events: EventRecorder;
  clock: Clock;
  /**
   * This reconcile replaced the primary object at `resourceVersion` (it wrote its status or its
   * finalizers; applyDecision says so). Until the cache holds a newer version, another reconcile of
   * the key would decide from the replaced one (a second create answered 409, a status write
   * answered 409), so the controller waits for the watch event of the write instead.
   */
  superseded?(resourceVersion: string): void;
}

/**
 * Level-based: read the object and the world from the cache, converge, and be
 * safe to run again at any point. Throw to retry with backoff; throw
 * TerminalError when retrying cannot help.
 */
export interface Reconciler {
  reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void>;
}

export type MapFunc = (obj: KubeObject) => ObjectKey[];
/** Whether an update of a watched object matters to the controller (old, new). */
export type UpdatePredicate = (old: KubeObject, cur: KubeObject) => boolean;
export interface WatchSpec {
  kind: Kind;
  map: MapFunc;
  optional?: boolean;
  updated?: UpdatePredicate;
}

/** An update that changed the spec (metadata.generation moved) or the labels or annotations. */
export const specChanged: UpdatePredicate = (old, cur) =>
  old.metadata.generation !== cur.metadata.generation ||
  JSON.stringify(old.metadata.labels ?? {}) !== JSON.stringify(cur.metadata.labels ?? {}) ||
  JSON.stringify(old.metadata.annotations ?? {}) !== JSON.stringify(cur.metadata.annotations ?? {}) ||
  (old.metadata.deletionTimestamp === undefined) !== (cur.metadata.deletionTimestamp === undefined);

export interface ControllerOptions {
  /** Parallel reconciles (different keys only). Default 1. */
  workers?: number;
  /** Per-key error backoff; default 5ms doubling, capped at 5 minutes. */
  backoff?: BackoffOptions;
  /** Re-enqueue every primary object this often, to heal anything a missed event hid. */
  resyncPeriodMs?: number;
  /**
   * Which primary objects the resync re-enqueues; default all. Objects that only an event can
   * change (a Completed Backup) need no resync, and 10,000 of them each minute cost CPU and memory.
   */
  resyncFilter?: (obj: KubeObject) => boolean;
  /**
   * A reconcile still running after this long has its signal aborted, is logged and counted
   * (controller_runtime_reconcile_timeouts_total) and is retried with backoff. Default: the
   * manager's reconcileTimeoutMs (2 minutes); 0: no limit.
   */
  reconcileTimeoutMs?: number;
  /**
   * Marks an object whose reconcile threw TerminalError (e.g. sets status.phase=Failed).
   * A Warning Event with the error's reason is always recorded.
   */
  onTerminalError?(obj: KubeObject, err: TerminalError, ctx: ReconcileContext): Promise<void>;
}

export interface ControllerSpec extends ControllerOptions {
  name: string;
  forKind: Kind;
  owns: Kind[];
  watches: WatchSpec[];
  reconciler: Reconciler;
}

export interface ControllerDeps {
  cache: Cache;
  client: KubeClient;
  events: EventRecorder;
  metrics: RuntimeMetrics;
  logger: Logger;
  clock: Clock;
  /** Default time limit of a reconcile (ms); 0: none. */
  reconcileTimeoutMs?: number;
  /**
   * Clock of the time limit; real time by default, like error retries: a hung request hangs in
   * real time, and a test moving a FakeClock by hours must not abort the reconciles it waits for.
   */
  limitClock?: Clock;
}

export const DEFAULT_RECONCILE_TIMEOUT_MS = 120_000;
/** How long a key whose cached object is one this replica replaced waits before it runs anyway. */
export const STALE_WAIT_MS = 2_000;

/** Turns cache events into keys and keys into reconciles; runs only on the leader. */
export class Controller {
  private queue?: WorkQueue;
  private workers: Promise<void>[] = [];
  private unsubscribe: Array<() => void> = [];
  private abort = new AbortController();
  /** The in-flight reconciles' own controllers, aborted with `abort` (this leadership term's). */
  private runs = new Set<AbortController>();
  private cancelResync?: () => void;
  /** Key -> resourceVersions of the primary object that reconciles of it replaced (ctx.superseded). */
  private replaced = new Map<string, Set<string>>();
  /** Workers of the previous leadership term; new ones wait for them so a key never runs twice at once. */
  private draining: Promise<unknown> = Promise.resolve();

  constructor(
    readonly spec: ControllerSpec,
    private readonly d: ControllerDeps,
  ) {}

  get running(): boolean {
    return this.queue !== undefined;
  }

  /** Subscribes to the cache (replaying every cached object) and starts the workers. */
  start(): void {
    if (this.queue) return;
    const { name } = this.spec;
    const queue = new WorkQueue({ clock: this.d.clock, retryClock: realClock, backoff: this.spec.backoff, observer: this.d.metrics.queueObserver(name) });
    this.queue = queue;
    this.abort = new AbortController();
    this.runs = new Set();
    const enqueue = (k: ObjectKey): void => queue.add(keyOf(k));
    this.subscribe(this.spec.forKind, (o) => [{ namespace: o.metadata.namespace, name: o.metadata.name! }], enqueue);
    for (const kind of this.spec.owns) this.subscribe(kind, (o) => this.ownerKeys(o), enqueue);
    for (const w of this.spec.watches) this.subscribe(w.kind, w.map, enqueue, w.updated);
    const workers = this.spec.workers ?? 1;
    const started = this.draining.then(() => Promise.all(Array.from({ length: workers }, () => this.work(queue))));
    this.workers.push(started.then(() => undefined));
    this.scheduleResync();
  }

  /**
   * graceful: finish in-flight reconciles, take no new ones. Otherwise in-flight reconciles
   * see their signal aborted with `why` at once and nothing new starts.
   */
  async stop(graceful: boolean, why: "shutdown" | "leadership-lost" = "leadership-lost"): Promise<void> {
    // Also when a graceful stop is already draining: leadership lost mid-drain still aborts.
    if (!graceful) this.abortInFlight(why);
    const queue = this.queue;
    if (!queue) return;
    this.queue = undefined;
    this.cancelResync?.();
    for (const u of this.unsubscribe.splice(0)) u();
    const workers = Promise.all(this.workers.splice(0));
    this.draining = workers;
    await queue.shutdown();
    await workers;
  }

  /** Aborts the signal of in-flight reconciles (shutdown, its grace over, or leadership lost). */
  abortInFlight(why: "shutdown" | "leadership-lost" = "shutdown"): void {
    if (this.abort.signal.aborted) return;
    this.abort.abort(new ReconcileAbortedError(why, why === "shutdown" ? "the manager is stopping" : "this replica lost leadership"));
    for (const run of [...this.runs]) run.abort(this.abort.signal.reason);
    this.runs.clear();
  }

  private subscribe(kind: Kind, map: MapFunc, enqueue: (k: ObjectKey) => void, updated?: UpdatePredicate): void {
    const each = (...objs: KubeObject[]): void => {
      const keys = new Map<string, ObjectKey>();
      for (const o of objs) for (const k of map(o)) keys.set(keyOf(k), k);
      for (const k of keys.values()) enqueue(k);
    };
    // An update maps the old object too: a child that changed owner must wake both owners.
    const h: EventHandler = {
      onAdd: (o) => each(o),
      onUpdate: (a, b) => (!updated || updated(a, b) ? each(a, b) : undefined),
      onDelete: (o) => each(o),
    };
    this.unsubscribe.push(this.d.cache.informer(kind).addHandler(h));
  }

  private ownerKeys(o: KubeObject): ObjectKey[] {
    const ref = controllerOf(o);
    if (!ref || !refersTo(ref, this.spec.forKind)) return [];
    return [{ namespace: this.spec.forKind.namespaced ? o.metadata.namespace : undefined, name: ref.name }];
  }

  private scheduleResync(): void {
    const period = this.spec.resyncPeriodMs;
    if (!period) return;
    this.cancelResync = this.d.clock.setTimeout(() => {
      const q = this.queue;
      if (!q) return;
      const wanted = this.spec.resyncFilter ?? (() => true);
      for (const o of this.d.cache.list(this.spec.forKind)) if (wanted(o)) q.add(keyOf({ namespace: o.metadata.namespace, name: o.metadata.name! }));
      this.scheduleResync();
    }, period);
  }

  private async work(queue: WorkQueue): Promise<void> {
    for (;;) {
      const key = await queue.get();
      if (key === undefined) return;
      try {
        await this.reconcileKey(queue, key);
      } finally {
        queue.done(key);
      }
    }
  }

  private async reconcileKey(queue: WorkQueue, key: string): Promise<void> {
    const { name, forKind } = this.spec;
    const req = parseKey(key);
    if (this.waitForOwnWrite(queue, key, req)) return;
    const reconcileID = randomUUID();
    const log = this.d.logger.child({ controller: name, kind: forKind.kind, namespace: req.namespace, name: req.name, reconcileID });
    const run = this.runSignal();
    const ctx: ReconcileContext = {
      reconcileID, log, signal: run.signal, cache: this.d.cache, client: this.d.client.withSignal(run.signal), events: this.d.events, clock: this.d.clock,
      superseded: (rv) => void this.replaced.set(key, (this.replaced.get(key) ?? new Set()).add(rv)),
    };
    const m = this.d.metrics;
    const end = m.reconcileTime.startTimer({ controller: name });
    try {
      let res: ReconcileResult = {};
      let err: unknown;
      try {
        res = (await this.spec.reconciler.reconcile(req, ctx)) ?? {};
      } catch (e) {
        err = e;
      }
      // An aborted reconcile counts as aborted whatever it returned: its writes may not have left.
      if (run.signal.aborted) return this.aborted(queue, key, run.signal.reason, log);
      if (err !== undefined) return await this.failed(queue, key, req, err, ctx);
      if (res.requeueAfter !== undefined && res.requeueAfter > 0) {
        queue.forget(key);
        queue.addAfter(key, res.requeueAfter);
        m.reconcileTotal.inc({ controller: name, result: "requeue_after" });
      } else if (res.requeue) {
        queue.addRateLimited(key);
        m.reconcileTotal.inc({ controller: name, result: "requeue" });
      } else {
        queue.forget(key);
        m.reconcileTotal.inc({ controller: name, result: "success" });
      }
    } finally {
      run.dispose();
      end();
    }
  }

  /**
   * True (and the key requeued) when the cache still holds the version of the primary object that
   * this controller's last reconcile of the key replaced: the watch event of that write will
   * enqueue the key again; the delayed requeue covers a write whose event never comes.
   */
  private waitForOwnWrite(queue: WorkQueue, key: string, req: ObjectKey): boolean {
    const rvs = this.replaced.get(key);
    if (rvs === undefined) return false;
    const rv = this.d.cache.get(this.spec.forKind, req.name, req.namespace)?.metadata.resourceVersion;
    if (rv === undefined || !rvs.has(rv)) {
      this.replaced.delete(key);
      return false;
    }
    queue.forget(key);
    queue.addAfter(key, STALE_WAIT_MS);
    this.d.metrics.reconcileTotal.inc({ controller: this.spec.name, result: "cache_behind" });
    this.replaced.delete(key);
    return true;
  }

  /**
   * A signal per reconcile: the controller's (shutdown, leadership) plus the time limit. The
   * term aborts the runs it holds (abortInFlight), not through a listener on its signal: adding
   * and removing an EventTarget listener per reconcile was ~1.5% of a tick's burst of 1,000.
   */
  private runSignal(): { signal: AbortSignal; dispose(): void } {
    const run = new AbortController();
    const term = this.abort.signal;
    const runs = this.runs;
    if (term.aborted) run.abort(term.reason);
    else runs.add(run);
    const limit = this.spec.reconcileTimeoutMs ?? this.d.reconcileTimeoutMs ?? DEFAULT_RECONCILE_TIMEOUT_MS;
    const cancel = limit > 0 ? (this.d.limitClock ?? realClock).setTimeout(() => run.abort(new ReconcileAbortedError("timeout", `reconcile ran past its time limit of ${limit}ms`)), limit) : () => {};
    return {
      signal: run.signal,
      dispose: () => {
        cancel();
        runs.delete(run);
      },
    };
  }

  private aborted(queue: WorkQueue, key: string, reason: unknown, log: Logger): void {
    const { name } = this.spec;
    const m = this.d.metrics;
    if (reason instanceof ReconcileAbortedError && reason.why === "timeout") {
      m.reconcileTimeouts.inc({ controller: name });
      m.reconcileErrors.inc({ controller: name });
      m.reconcileTotal.inc({ controller: name, result: "error" });
      log.error("reconcile ran past its time limit: aborted, will retry", { error: reason.message, retries: queue.retries(key) });
      queue.addRateLimited(key);
      return;
    }
    // Shutdown or lost leadership: the queue is closed; the next leader replays every key.
    m.reconcileTotal.inc({ controller: name, result: "aborted" });
    log.warn("reconcile aborted", { why: reason instanceof ReconcileAbortedError ? reason.why : String(reason) });
  }

  private async failed(queue: WorkQueue, key: string, req: ObjectKey, e: unknown, ctx: ReconcileContext): Promise<void> {
    const { name } = this.spec;
    const m = this.d.metrics;
    m.reconcileErrors.inc({ controller: name });
    if (e instanceof TerminalError) {
      queue.forget(key);
      m.reconcileTotal.inc({ controller: name, result: "terminal" });
      ctx.log.error("reconcile failed permanently", { reason: e.reason, error: e.message });
      // If the mark could not be written, retry: the next reconcile fails the same way and marks again.
      if (!(await this.markTerminal(req, e, ctx))) queue.addRateLimited(key);
    } else {
      m.reconcileTotal.inc({ controller: name, result: "error" });
      ctx.log.error("reconcile failed, will retry", { error: e instanceof Error ? e.message : String(e), retries: queue.retries(key) });
      queue.addRateLimited(key);
    }
  }

  private async markTerminal(req: ObjectKey, err: TerminalError, ctx: ReconcileContext): Promise<boolean> {
    const obj = this.d.cache.get(this.spec.forKind, req.name, req.namespace);
    if (!obj) return true;
    this.d.events.warning(obj, err.reason, err.message);
    try {
      await this.spec.onTerminalError?.(obj, err, ctx);
      return true;
    } catch (e) {
      ctx.log.error("could not mark object after terminal error", { error: String(e) });
      return false;
    }
  }
}
