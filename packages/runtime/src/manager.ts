import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "winston";
import { Cache, type CacheOptions } from "./cache.ts";
import { KubeClient } from "./client.ts";
import { realClock, type Clock } from "./clock.ts";
import { Controller, type ControllerOptions, type ControllerSpec, type MapFunc, type Reconciler, type UpdatePredicate, type WatchSpec } from "./controller.ts";
import { EventRecorder, apiEventSink } from "./events.ts";
import { kindId, type Kind } from "./kinds.ts";
import { LeaderElector, defaultIdentity, type LeaderElectionOptions } from "./leader.ts";
import { createLogger } from "./logging.ts";
import { RuntimeMetrics } from "./metrics.ts";
import { HealthServer } from "./server.ts";

export interface ManagerOptions {
  kubeConfig: KubeConfig;
  /** Cache (and so reconcile) namespaced kinds in this namespace only. */
  namespace?: string;
  /** Event source component, metric prefix-free name of this operator. */
  component?: string;
  logger?: Logger;
  clock?: Clock;
  metrics?: RuntimeMetrics;
  /** Without it every replica reconciles (fine for one replica and tests). */
  leaderElection?: LeaderElectionOptions;
  /** Port for /metrics, /healthz, /readyz; 0 picks a free one; absent: no server. */
  healthPort?: number;
  healthHost?: string;
  /** Informer tuning (watch timeouts, backoff), mostly for tests. */
  informer?: CacheOptions["informer"];
  /** How long stop() waits for in-flight reconciles before aborting their signal (default 30s). */
  shutdownTimeoutMs?: number;
  /**
   * How long SIGTERM/SIGINT (runUntilSignal) lets in-flight reconciles run before aborting their
   * signal. Default 0: at once, as controller-runtime cancels its context; reconciles are
   * idempotent, the next leader redoes them, and the lease is released sooner.
   */
  signalGraceMs?: number;
  /** Per-reconcile time limit (ms) for controllers that set none; 0: no limit. Default 2 minutes. */
  reconcileTimeoutMs?: number;
}

export interface StopOptions {
  /** How long in-flight reconciles may run before their signal aborts (default shutdownTimeoutMs); 0: at once. */
  graceMs?: number;
}

/**
 * Owns the client, cache, Event recorder, metrics and controllers of one
 * operator replica. start(): caches sync on every replica (fast takeover), then
 * controllers run on the leader only. stop(): no new work, in-flight reconciles
 * finish (or are aborted after the grace), Events flushed, lease released.
 * Only a leader writes: losing leadership aborts every reconcile's signal (and so
 * its requests) and closes the Event recorder in the same tick.
 */
export class Manager {
  readonly client: KubeClient;
  readonly cache: Cache;
  readonly metrics: RuntimeMetrics;
  readonly logger: Logger;
  readonly events: EventRecorder;
  readonly clock: Clock;
  readonly identity: string;
  private controllers: Controller[] = [];
  private elector?: LeaderElector;
  private electing?: Promise<void>;
  private stopElection = new AbortController();
  private server?: HealthServer;
  private started = false;
  private stopping?: Promise<void>;
  private leaderListeners: Array<(leading: boolean) => void> = [];
  /** The bound port of the health server, once started. */
  port?: number;

  constructor(private readonly o: ManagerOptions) {
    this.clock = o.clock ?? realClock;
    this.logger = o.logger ?? createLogger();
    this.metrics = o.metrics ?? new RuntimeMetrics();
    this.client = new KubeClient(o.kubeConfig);
    this.identity = o.leaderElection?.identity ?? defaultIdentity();
    this.cache = new Cache(this.client, {
      namespace: o.namespace,
      clock: this.clock,
      logger: this.logger,
      informer: o.informer,
      onRestart: (kind, reason) => this.metrics.watchRestarts.inc({ kind: kindId(kind), reason }),
      onRelist: (kind) => this.metrics.relists.inc({ kind: kindId(kind) }),
    });
    const component = o.component ?? "dataprotection";
    this.events = new EventRecorder(apiEventSink(this.client), { component, instance: this.identity, clock: this.clock, logger: this.logger });
    if (o.leaderElection) this.events.close("not leading");
  }

  /** Starts describing a controller; finish with .reconciler(r). */
  controller(name: string): ControllerBuilder {
    return new ControllerBuilder(name, (c) => this.add(c));
  }

  get isLeader(): boolean {
    return this.elector ? this.elector.isLeader : this.started;
  }

  /** Called with true when this replica starts leading and false when it stops. */
  onLeaderChange(fn: (leading: boolean) => void): void {
    this.leaderListeners.push(fn);
  }

  async start(): Promise<void> {
    if (this.started) return;
    if (this.o.healthPort !== undefined) {
      this.server = new HealthServer(this.metrics.registry, { healthy: () => !this.stopping, ready: () => this.cache.hasSynced && !this.stopping });
      this.port = await this.server.listen(this.o.healthPort, this.o.healthHost ?? "0.0.0.0");
    }
    this.cache.start();
    await this.cache.waitForSync();
    this.started = true;
    this.logger.info("caches synced", { kinds: this.controllers.length });
    const le = this.o.leaderElection;
    if (!le) {
      this.startControllers();
      return;
    }
    this.metrics.leader.set({ name: le.leaseName }, 0);
    this.elector = new LeaderElector(this.client, { ...le, identity: this.identity }, {
      onStartedLeading: () => {
        this.metrics.leader.set({ name: le.leaseName }, 1);
        if (!this.stopping) this.events.open();
        this.startControllers();
      },
      onStoppedLeading: () => {
        this.metrics.leader.set({ name: le.leaseName }, 0);
        // Both synchronous: no Event and no reconcile request leaves after this tick.
        this.events.close("leadership lost");
        void this.stopControllers(false, "leadership-lost");
      },
    }, this.clock, this.logger);
    this.logger.info("waiting for leadership", { lease: le.leaseName, identity: this.identity });
    this.electing = this.elector.run(this.stopElection.signal);
  }

  /** Graceful shutdown; idempotent (the first call's grace applies). */
  stop(o: StopOptions = {}): Promise<void> {
    this.stopping ??= this.shutdown(o.graceMs ?? this.o.shutdownTimeoutMs ?? 30_000);
    return this.stopping;
  }

  /** SIGTERM/SIGINT: stop() then exit 0 (1 if shutdown failed). */
  runUntilSignal(): void {
    const handler = (sig: string): void => {
      this.logger.info("signal received, shutting down", { signal: sig });
      this.stop({ graceMs: this.o.signalGraceMs ?? 0 }).then(
        () => process.exit(0),
        (e: unknown) => {
          this.logger.error("shutdown failed", { error: String(e) });
          process.exit(1);
        },
      );
    };
    process.once("SIGTERM", handler);
    process.once("SIGINT", handler);
  }

  private async shutdown(graceMs: number): Promise<void> {
    // Keep renewing the lease while in-flight reconciles finish, so no other replica starts on the same keys.
    const drained = this.stopControllers(graceMs > 0);
    if (graceMs > 0) {
      let cancel = (): void => {};
      const timedOut = await Promise.race([drained.then(() => false), new Promise<boolean>((r) => (cancel = this.clock.setTimeout(() => r(true), graceMs)))]);
      cancel();
      if (timedOut) {
        this.logger.warn("reconciles still running at shutdown timeout; aborting them");
        this.events.close("manager stopping");
        for (const c of this.controllers) c.abortInFlight("shutdown");
      }
    } else {
      this.events.close("manager stopping");
    }
    await drained;
    // Events recorded by finished reconciles go out while this replica still holds the lease, none after.
    await this.events.flush();
    this.events.close("manager stopping");
    this.stopElection.abort();
    await this.electing;
    await this.elector?.release();
    if (this.o.leaderElection) this.metrics.leader.set({ name: this.o.leaderElection.leaseName }, 0);
    await this.cache.stop();
    await this.server?.close();
    this.client.close();
    this.logger.info("manager stopped");
  }

  private add(c: ControllerSpec): void {
    if (this.started) throw new Error("add controllers before start()");
    for (const k of [c.forKind, ...c.owns]) this.cache.informer(k);
    for (const w of c.watches) this.cache.informer(w.kind, { optional: w.optional });
    this.controllers.push(new Controller(c, { cache: this.cache, client: this.client, events: this.events, metrics: this.metrics, logger: this.logger, clock: this.clock, reconcileTimeoutMs: this.o.reconcileTimeoutMs }));
  }

  private startControllers(): void {
    if (this.stopping) return;
    for (const c of this.controllers) c.start();
    this.logger.info("controllers started", { controllers: this.controllers.map((c) => c.spec.name) });
    for (const f of this.leaderListeners) f(true);
  }

  private async stopControllers(graceful: boolean, why: "shutdown" | "leadership-lost" = "shutdown"): Promise<void> {
    const running = this.controllers.some((c) => c.running);
    await Promise.all(this.controllers.map((c) => c.stop(graceful, why)));
    if (running) for (const f of this.leaderListeners) f(false);
  }
}

/** manager.controller(name).for(kind).owns(kind).watches(kind, map).reconciler(r) */
export class ControllerBuilder {
  private forKind?: Kind;
  private ownsKinds: Kind[] = [];
  private watched: WatchSpec[] = [];
  private options: ControllerOptions = {};

  constructor(
    private readonly name: string,
    private readonly register: (c: ControllerSpec) => void,
  ) {}

  /** The primary kind: its keys are what reconcile() receives. */
  for(kind: Kind): this {
    this.forKind = kind;
    return this;
  }

  /** Children: an event on one enqueues its controller owner of the primary kind. */
  owns(kind: Kind): this {
    this.ownsKinds.push(kind);
    return this;
  }

  /**
   * Anything else: map decides which primary keys an event affects. `optional`: the kind may not
   * be served (a CRD not installed); the cache then syncs it empty (cache.isAvailable(kind) false).
   * `updated`: which updates are mapped at all (controller-runtime's predicates); adds and deletes
   * always are. For example only spec changes (generation), not another controller's status writes.
   */
  watches(kind: Kind, map: MapFunc, o: { optional?: boolean; updated?: UpdatePredicate } = {}): this {
    this.watched.push({ kind, map, ...(o.optional ? { optional: true } : {}), ...(o.updated ? { updated: o.updated } : {}) });
    return this;
  }

  withOptions(o: ControllerOptions): this {
    this.options = { ...this.options, ...o };
    return this;
  }

  reconciler(r: Reconciler | Reconciler["reconcile"]): void {
    if (!this.forKind) throw new Error(`controller "${this.name}": call for(kind) first`);
    const reconciler = typeof r === "function" ? { reconcile: r } : r;
    this.register({ ...this.options, name: this.name, forKind: this.forKind, owns: this.ownsKinds, watches: this.watched, reconciler });
  }
}
