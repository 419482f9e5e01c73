import { expect } from "chai";
import { installCrds, sharedControlPlane } from "@dataprotection/testenv";
import { addFinalizer, hasFinalizer, Kinds, KubeClient, Manager, removeFinalizer, TerminalError, updateStatus, type CoreEvent, type GenericObject } from "../src/index.ts";
import { memoryLogger, metricSum, testNamespace, waitFor } from "./helpers.ts";
import { WidgetKind, widgetCrd } from "./widget-crd.ts";

interface Widget extends GenericObject {
  spec?: { size?: number; valid?: boolean };
  status?: { phase?: string; seen?: number; reason?: string; note?: string };
}

describe("runtime: API helpers against the API server", function () {
  this.timeout(120_000);
  let client: KubeClient;
  let ns: { name: string; remove(): Promise<void> };

  before(async () => {
    const cp = await sharedControlPlane();
    await installCrds(cp.kubeConfig, [widgetCrd]);
    client = new KubeClient(cp.kubeConfig);
    ns = await testNamespace(client, "rt-helpers");
  });
  after(async () => ns?.remove());

  const widget = (name: string, spec: Widget["spec"] = { size: 1 }): Promise<Widget> => client.create<Widget>(WidgetKind, { metadata: { name, namespace: ns.name }, spec });

  for (const mode of ["replace", "merge"] as const) {
    it(`updateStatus (${mode}) writes through the status subresource and absorbs a conflict`, async () => {
      const w = await widget(`status-${mode}`);
      // Someone changes the object after we read it: our copy is stale.
      await client.patch(WidgetKind, w.metadata.name!, ns.name, { spec: { size: 2 } });
      let calls = 0;
      const out = await updateStatus(client, WidgetKind, w, (d) => {
        calls++;
        d.status = { ...d.status, phase: "Ready", seen: d.spec?.size };
      }, { mode });
      expect(calls, "mutate re-run on the fresh object").to.equal(2);
      expect(out.status).to.deep.include({ phase: "Ready", seen: 2 });
      const stored = await client.get<Widget>(WidgetKind, w.metadata.name!, ns.name);
      expect(stored.status).to.deep.include({ phase: "Ready", seen: 2 });
      expect(stored.spec?.size, "spec untouched by a status write").to.equal(2);
      const again = await updateStatus(client, WidgetKind, stored, (d) => void (d.status!.phase = "Ready"));
      expect(again.metadata.resourceVersion, "no write when nothing changes").to.equal(stored.metadata.resourceVersion);
    });
  }

  it("adds and removes a finalizer without dropping a concurrent one", async () => {
    const w = await widget("fin");
    await client.patch(WidgetKind, "fin", ns.name, { metadata: { finalizers: ["other.io/keep"] } });
    const added = await addFinalizer(client, WidgetKind, w, "dataprotection.io/test"); // w is stale: conflict, re-read
    expect(added.metadata.finalizers).to.have.members(["other.io/keep", "dataprotection.io/test"]);
    expect(hasFinalizer(added, "dataprotection.io/test")).to.equal(true);
    const same = await addFinalizer(client, WidgetKind, added, "dataprotection.io/test");
    expect(same.metadata.resourceVersion).to.equal(added.metadata.resourceVersion);
    const removed = await removeFinalizer(client, WidgetKind, added, "dataprotection.io/test");
    expect(removed.metadata.finalizers).to.deep.equal(["other.io/keep"]);
    await removeFinalizer(client, WidgetKind, removed, "other.io/keep");
  });

  it("a terminal error marks the object, records a Warning Event and stops retrying; repeats aggregate into one Event", async () => {
    const cp = await sharedControlPlane();
    const mgr = new Manager({ kubeConfig: cp.kubeConfig, namespace: ns.name, logger: memoryLogger().logger });
    let attempts = 0;
    mgr.controller("widget")
      .for(WidgetKind)
      .withOptions({
        backoff: { baseMs: 10, capMs: 100, jitter: 0 },
        onTerminalError: async (obj, err, ctx) => {
          await updateStatus(ctx.client, WidgetKind, obj as Widget, (d) => void (d.status = { ...d.status, phase: "Failed", reason: err.reason }));
        },
      })
      .reconciler(async (req, ctx) => {
        if (req.name !== "bad") return; // other tests' widgets share the namespace
        const w = ctx.cache.get<Widget>(WidgetKind, req.name, req.namespace);
        if (!w || w.spec?.valid || w.status?.phase === "Failed") return;
        attempts++;
        throw new TerminalError("InvalidSpec", `Widget "${req.name}" is invalid: set spec.valid`);
      });
    await mgr.start();
    try {
      await widget("bad", { valid: false });
      await waitFor("marked Failed", async () => (await client.get<Widget>(WidgetKind, "bad", ns.name)).status?.phase === "Failed");
      await new Promise((r) => setTimeout(r, 500));
      expect(attempts, "no retries after a terminal error").to.equal(1);
      expect(await metricSum(mgr.metrics.registry, "controller_runtime_reconcile_total", { result: "terminal" })).to.equal(1);
      const w = mgr.cache.get<Widget>(WidgetKind, "bad", ns.name)!;
      for (let i = 0; i < 20; i++) mgr.events.warning(w, "InvalidSpec", `Widget "bad" is invalid: set spec.valid`);
      await mgr.events.flush();
      await waitFor("Event aggregated", async () => {
        const evs = (await client.list<CoreEvent>(Kinds.Event, { namespace: ns.name, fieldSelector: "involvedObject.name=bad" })).items;
        return evs.length === 1 && evs[0].count === 21 && evs[0].reason === "InvalidSpec" && evs[0].type === "Warning";
      });
    } finally {
      await mgr.stop();
    }
  });
});
