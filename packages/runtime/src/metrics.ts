import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { QueueObserver } from "./workqueue.ts";

/** Every series the runtime exports; one registry per manager so two managers can share a process. */
export class RuntimeMetrics {
  readonly registry: Registry;
  readonly reconcileTotal: Counter<"controller" | "result">;
  readonly reconcileErrors: Counter<"controller">;
  readonly reconcileTime: Histogram<"controller">;
  readonly reconcileTimeouts: Counter<"controller">;
  readonly queueDepth: Gauge<"name">;
  readonly queueAdds: Counter<"name">;
  readonly queueLatency: Histogram<"name">;
  readonly queueRetries: Counter<"name">;
  readonly watchRestarts: Counter<"kind" | "reason">;
  readonly relists: Counter<"kind">;
  readonly leader: Gauge<"name">;

  constructor(registry = new Registry(), defaults = true) {
    this.registry = registry;
    const registers = [registry];
    const buckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
    this.reconcileTotal = new Counter({ name: "controller_runtime_reconcile_total", help: "Reconciles per controller and result (success, error, requeue, requeue_after, terminal, aborted; cache_behind: not run, the cache still held the version its last reconcile replaced).", labelNames: ["controller", "result"], registers });
    this.reconcileErrors = new Counter({ name: "controller_runtime_reconcile_errors_total", help: "Reconciles that returned an error.", labelNames: ["controller"], registers });
    this.reconcileTimeouts = new Counter({ name: "controller_runtime_reconcile_timeouts_total", help: "Reconciles aborted for running past their time limit (each is also an error, retried with backoff).", labelNames: ["controller"], registers });
    this.reconcileTime = new Histogram({ name: "controller_runtime_reconcile_time_seconds", help: "Duration of one reconcile.", labelNames: ["controller"], buckets, registers });
    this.queueDepth = new Gauge({ name: "workqueue_depth", help: "Keys waiting in the workqueue.", labelNames: ["name"], registers });
    this.queueAdds = new Counter({ name: "workqueue_adds_total", help: "Keys added to the workqueue.", labelNames: ["name"], registers });
    this.queueLatency = new Histogram({ name: "workqueue_queue_duration_seconds", help: "Time a key waits in the queue before a worker takes it.", labelNames: ["name"], buckets, registers });
    this.queueRetries = new Counter({ name: "workqueue_retries_total", help: "Keys requeued with backoff after an error.", labelNames: ["name"], registers });
    this.watchRestarts = new Counter({ name: "runtime_watch_restarts_total", help: "Watches started again, by reason (expired, error, stalled, closed).", labelNames: ["kind", "reason"], registers });
    this.relists = new Counter({ name: "runtime_cache_relists_total", help: "Full relists after the cache had synced (410 Gone).", labelNames: ["kind"], registers });
    this.leader = new Gauge({ name: "leader_election_master_status", help: "1 while this replica holds the lease.", labelNames: ["name"], registers });
    if (defaults) collectDefaultMetrics({ register: registry });
  }

  queueObserver(name: string): QueueObserver {
    return {
      depth: (n) => this.queueDepth.set({ name }, n),
      added: () => this.queueAdds.inc({ name }),
      queued: (s) => this.queueLatency.observe({ name }, s),
      retried: () => this.queueRetries.inc({ name }),
    };
  }
}
