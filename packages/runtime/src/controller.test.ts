import { PassThrough } from "node:stream";
import { expect } from "chai";
import type { Cache } from "./cache.ts";
import type { KubeClient } from "./client.ts";
import { FakeClock } from "./clock.ts";
import { Controller, type ReconcileContext, type ControllerOptions } from "./controller.ts";
import { ReconcileAbortedError } from "./errors.ts";
import { EventRecorder } from "./events.ts";
import type { EventHandler } from "./informer.ts";
import { Kinds } from "./kinds.ts";
import { createLogger } from "./logging.ts";
import { RuntimeMetrics } from "./metrics.ts";
import type { KubeObject } from "./object.ts";

type Step = (ctx: ReconcileContext, attempt: number) => Promise<void>;

/** A controller over a fake cache; the time limit runs on a FakeClock; the client records its views. */
function harness(step: Step, o: ControllerOptions = {}) {
  const handlers: EventHandler[] = [];
  const cache = { informer: () => ({ addHandler: (h: EventHandler) => (handlers.push(h), () => undefined) }), list: () => [], get: () => undefined } as unknown as Cache;
  const client = { withSignal: (signal: AbortSignal) => ({ boundTo: signal }) } as unknown as KubeClient;
  const limitClock = new FakeClock();
  const metrics = new RuntimeMetrics(undefined, false);
  const lines: Array<{ message: string; [k: string]: unknown }> = [];
  const stream = new PassThrough().on("data", (c: Buffer) => lines.push(...c.toString().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { message: string })));
  const logger = createLogger({ stream });
  const contexts: ReconcileContext[] = [];
  const outcomes: unknown[] = [];
  let attempts = 0;
  const controller = new Controller(
    { ...o, name: "c", forKind: Kinds.ConfigMap, owns: [], watches: [], reconciler: { reconcile: async (_req, ctx) => {
      contexts.push(ctx);
      try {
        await step(ctx, ++attempts);
        outcomes.push("ok");
      } catch (e) {
        outcomes.push(e);
        throw e;
      }
    } } },
    { cache, client, events: new EventRecorder({ create: async () => undefined, update: async () => undefined }, { component: "t" }), metrics, logger, clock: new FakeClock(), limitClock, reconcileTimeoutMs: 60_000 },
  );
  const obj: KubeObject = { metadata: { name: "a", namespace: "ns" } };
  const metric = async (name: string, labels: Record<string, string>): Promise<number> =>
    (await metrics.registry.getSingleMetric(name)!.get()).values.filter((v) => Object.entries(labels).every(([k, w]) => v.labels[k] === w)).reduce((s, v) => s + v.value, 0);
  return { controller, limitClock, contexts, outcomes, lines, metric, enqueue: () => handlers[0].onAdd!(obj) };
}

const untilAborted = (ctx: ReconcileContext): Promise<void> => new Promise((_, reject) => ctx.signal.addEventListener("abort", () => reject(ctx.signal.reason)));

async function until(what: string, cond: () => boolean): Promise<void> {
  for (let i = 0; !cond(); i++) {
    if (i > 400) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe("Controller: the reconcile signal", () => {
  it("hands each reconcile a client bound to its signal", async () => {
    const h = harness(async () => undefined);
    h.controller.start();
    h.enqueue();
    await until("a reconcile", () => h.outcomes.length === 1);
    const ctx = h.contexts[0];
    expect((ctx.client as unknown as { boundTo: AbortSignal }).boundTo).to.equal(ctx.signal);
    expect(h.limitClock.pending, "the time limit's timer is cancelled after the reconcile").to.equal(0);
    await h.controller.stop(true);
  });

  it("aborts a reconcile at its time limit, logs and counts it, and retries it with backoff", async () => {
    const h = harness((ctx, attempt) => (attempt === 1 ? untilAborted(ctx) : Promise.resolve()));
    h.controller.start();
    h.enqueue();
    await until("the first attempt", () => h.contexts.length === 1);
    h.limitClock.advance(59_999);
    expect(h.contexts[0].signal.aborted, "not before the limit").to.equal(false);
    h.limitClock.advance(1);
    expect(h.contexts[0].signal.reason).to.be.instanceOf(ReconcileAbortedError).and.to.include({ why: "timeout" });
    await until("the retry succeeds", () => h.outcomes.length === 2);
    expect(h.outcomes[1]).to.equal("ok");
    expect(await h.metric("controller_runtime_reconcile_timeouts_total", { controller: "c" })).to.equal(1);
    expect(await h.metric("controller_runtime_reconcile_total", { controller: "c", result: "error" })).to.equal(1);
    expect(await h.metric("controller_runtime_reconcile_total", { controller: "c", result: "success" })).to.equal(1);
    expect(await h.metric("workqueue_retries_total", { name: "c" })).to.equal(1);
    expect(h.lines.find((l) => l.message === "reconcile ran past its time limit: aborted, will retry")).to.include({ name: "a", controller: "c" });
    await h.controller.stop(true);
  });

  it("counts a reconcile that ignored its signal and returned after the limit as timed out, and retries it", async () => {
    const h = harness(async (_ctx, attempt) => {
      if (attempt === 1) h.limitClock.advance(60_000); // "runs" past the limit, then returns as if it succeeded
    });
    h.controller.start();
    h.enqueue();
    await until("the retry", () => h.outcomes.length === 2);
    expect(await h.metric("controller_runtime_reconcile_timeouts_total", { controller: "c" })).to.equal(1);
    await h.controller.stop(true);
  });

  it("a controller option overrides the manager's limit; 0 sets none", async () => {
    const h = harness(async () => undefined, { reconcileTimeoutMs: 0 });
    h.controller.start();
    h.enqueue();
    await until("the first attempt", () => h.contexts.length === 1);
    expect(h.limitClock.pending).to.equal(0);
    await h.controller.stop(true);
  });

  it("losing leadership aborts the reconcile at once; it is not retried here (the next leader replays its keys)", async () => {
    const h = harness((ctx) => untilAborted(ctx));
    h.controller.start();
    h.enqueue();
    await until("the reconcile", () => h.contexts.length === 1);
    const stopped = h.controller.stop(false, "leadership-lost");
    expect(h.contexts[0].signal.reason).to.be.instanceOf(ReconcileAbortedError).and.to.include({ why: "leadership-lost" });
    await stopped;
    expect(await h.metric("controller_runtime_reconcile_total", { controller: "c", result: "aborted" })).to.equal(1);
    expect(await h.metric("controller_runtime_reconcile_errors_total", { controller: "c" })).to.equal(0);
    expect(h.lines.find((l) => l.message === "reconcile aborted")).to.include({ why: "leadership-lost" });
    expect(h.contexts).to.have.length(1);
  });

  it("a graceful stop lets the reconcile run; abortInFlight() then aborts it with why=shutdown", async () => {
    const h = harness((ctx) => untilAborted(ctx));
    h.controller.start();
    h.enqueue();
    await until("the reconcile", () => h.contexts.length === 1);
    const stopped = h.controller.stop(true);
    await new Promise((r) => setTimeout(r, 20));
    expect(h.contexts[0].signal.aborted, "graceful: not aborted").to.equal(false);
    h.controller.abortInFlight("shutdown");
    await stopped;
    expect(h.contexts[0].signal.reason).to.include({ why: "shutdown" });
  });

  it("leadership lost while a graceful stop drains still aborts the reconcile at once", async () => {
    const h = harness((ctx) => untilAborted(ctx));
    h.controller.start();
    h.enqueue();
    await until("the reconcile", () => h.contexts.length === 1);
    const draining = h.controller.stop(true);
    await h.controller.stop(false, "leadership-lost");
    expect(h.contexts[0].signal.reason).to.include({ why: "leadership-lost" });
    await draining;
  });
});
