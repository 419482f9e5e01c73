import { expect } from "chai";
import type { Cache } from "./cache.ts";
import type { KubeClient } from "./client.ts";
import { FakeClock } from "./clock.ts";
import { Controller, STALE_WAIT_MS, specChanged, type ControllerOptions, type ReconcileContext, type WatchSpec } from "./controller.ts";
import { EventRecorder } from "./events.ts";
import type { EventHandler } from "./informer.ts";
import { Kinds, kindId, type Kind } from "./kinds.ts";
import { createLogger } from "./logging.ts";
import { RuntimeMetrics } from "./metrics.ts";
import type { KubeObject } from "./object.ts";

/** A controller for ConfigMaps over a fake cache whose informers the test drives; reconciled names are recorded. */
function harness(primaries: KubeObject[], o: ControllerOptions & { watches?: WatchSpec[]; onReconcile?: (ctx: ReconcileContext) => void } = {}) {
  const handlers = new Map<string, EventHandler[]>();
  const cache = {
    informer: (k: Kind) => ({ addHandler: (h: EventHandler) => (handlers.set(kindId(k), [...(handlers.get(kindId(k)) ?? []), h]), () => undefined) }),
    list: () => primaries,
    get: (_k: Kind, name: string) => primaries.find((p) => p.metadata.name === name),
  } as unknown as Cache;
  const clock = new FakeClock();
  const metrics = new RuntimeMetrics(undefined, false);
  const reconciled: string[] = [];
  const { watches = [], onReconcile, ...options } = o;
  const controller = new Controller(
    { ...options, name: "c", forKind: Kinds.ConfigMap, owns: [], watches, reconciler: { reconcile: async (req, ctx) => void (reconciled.push(req.name), onReconcile?.(ctx)) } },
    {
      cache, client: { withSignal: () => ({}) } as unknown as KubeClient, clock, limitClock: new FakeClock(), reconcileTimeoutMs: 0,
      events: new EventRecorder({ create: async () => undefined, update: async () => undefined }, { component: "t" }),
      metrics, logger: createLogger({ level: "error" }),
    },
  );
  const on = (k: Kind): EventHandler[] => handlers.get(kindId(k)) ?? [];
  const metric = async (result: string): Promise<number> =>
    (await metrics.registry.getSingleMetric("controller_runtime_reconcile_total")!.get()).values.filter((v) => v.labels.result === result).reduce((n, v) => n + v.value, 0);
  return { controller, clock, reconciled, on, metric };
}

/** Lets the workers take what was enqueued (they run on real timers and promises). */
async function settle(): Promise<void> {
  await new Promise((r) => setTimeout(r, 30));
}

const cm = (name: string, phase?: string): KubeObject => ({ metadata: { name, namespace: "ns" }, ...(phase ? { status: { phase } } : {}) } as KubeObject);
const secret = (generation: number, extra: Partial<KubeObject["metadata"]> = {}, data = "x"): KubeObject =>
  ({ metadata: { name: "s", namespace: "ns", generation, ...extra }, data: { k: data } } as KubeObject);

describe("Controller: which watch updates and which resyncs enqueue", () => {
  it("an update predicate drops updates it rejects (a status write); adds, deletes and accepted updates still map", async () => {
    const h = harness([], { watches: [{ kind: Kinds.Secret, map: () => [{ namespace: "ns", name: "child" }], updated: specChanged }] });
    h.controller.start();
    const [w] = h.on(Kinds.Secret);
    w!.onUpdate!(secret(1), secret(1, {}, "changed status only"));
    await settle();
    expect(h.reconciled, "same generation, labels and annotations").to.deep.equal([]);
    w!.onUpdate!(secret(1), secret(2));
    await settle();
    expect(h.reconciled, "generation moved").to.deep.equal(["child"]);
    w!.onUpdate!(secret(2), secret(2, { annotations: { a: "1" } }));
    await settle();
    w!.onUpdate!(secret(2), secret(2, { deletionTimestamp: new Date("2026-01-01T00:00:00Z") }));
    await settle();
    w!.onAdd!(secret(3));
    await settle();
    w!.onDelete!(secret(3));
    await settle();
    expect(h.reconciled).to.deep.equal(["child", "child", "child", "child", "child"]);
    await h.controller.stop(true);
  });

  it("without a predicate every update maps, as before", async () => {
    const h = harness([], { watches: [{ kind: Kinds.Secret, map: () => [{ namespace: "ns", name: "child" }] }] });
    h.controller.start();
    h.on(Kinds.Secret)[0]!.onUpdate!(secret(1), secret(1, {}, "y"));
    await settle();
    expect(h.reconciled).to.deep.equal(["child"]);
    await h.controller.stop(true);
  });

  it("the resync re-enqueues only the primaries its filter accepts, every period", async () => {
    const h = harness([cm("done", "Completed"), cm("busy", "Running"), cm("new")], { resyncPeriodMs: 60_000, resyncFilter: (o) => (o as { status?: { phase?: string } }).status?.phase !== "Completed" });
    h.controller.start();
    h.clock.advance(60_000);
    await settle();
    expect([...h.reconciled].sort()).to.deep.equal(["busy", "new"]);
    h.clock.advance(60_000);
    await settle();
    expect([...h.reconciled].sort()).to.deep.equal(["busy", "busy", "new", "new"]);
    await h.controller.stop(true);
  });

  it("without a filter the resync re-enqueues every primary", async () => {
    const h = harness([cm("done", "Completed"), cm("busy", "Running")], { resyncPeriodMs: 1_000 });
    h.controller.start();
    h.clock.advance(1_000);
    await settle();
    expect([...h.reconciled].sort()).to.deep.equal(["busy", "done"]);
    await h.controller.stop(true);
  });

  it("a key whose cached object is the version its last reconcile replaced waits for the watch event of that write", async () => {
    const obj = { metadata: { name: "b", namespace: "ns", resourceVersion: "1" } } as KubeObject;
    let wrote = false;
    const h = harness([obj], { onReconcile: (ctx) => (wrote ? undefined : ((wrote = true), ctx.superseded!("1"))) });
    h.controller.start();
    const [own] = h.on(Kinds.ConfigMap);
    own!.onAdd!(obj);
    await settle();
    expect(h.reconciled).to.deep.equal(["b"]);
    // An event of another object wakes the key while the cache still holds version 1: no reconcile.
    own!.onAdd!(obj);
    await settle();
    expect(h.reconciled, "decided from the version it replaced").to.deep.equal(["b"]);
    expect(await h.metric("cache_behind")).to.equal(1);
    // The write's own event: the cache holds version 2 now.
    obj.metadata.resourceVersion = "2";
    own!.onUpdate!({ ...obj, metadata: { ...obj.metadata, resourceVersion: "1" } }, obj);
    await settle();
    expect(h.reconciled).to.deep.equal(["b", "b"]);
    // The delayed requeue is the net for an event that never comes; it runs against the fresh cache.
    h.clock.advance(STALE_WAIT_MS);
    await settle();
    expect(h.reconciled).to.deep.equal(["b", "b", "b"]);
    await h.controller.stop(true);
  });
});
