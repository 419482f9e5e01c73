import { expect } from "chai";
import { sharedControlPlane } from "@dataprotection/testenv";
import { childName, Kinds, KubeClient, Manager, type GenericObject } from "../src/index.ts";
import { memoryLogger, testNamespace, waitFor } from "./helpers.ts";
import { MirrorReconciler, ParentLabel } from "./mirror.ts";

describe("runtime: convergence under rapid updates", function () {
  this.timeout(180_000);

  it("converges after 1,000 rapid updates to 50 objects, one reconcile in flight per key, last state seen", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-converge");
    const { logger } = memoryLogger();
    const mgr = new Manager({ kubeConfig: cp.kubeConfig, namespace: ns.name, logger });
    const r = new MirrorReconciler();
    mgr.controller("mirror").for(Kinds.ConfigMap).owns(Kinds.ConfigMap).withOptions({ workers: 8 }).reconciler(r);
    try {
      const names = Array.from({ length: 50 }, (_, i) => `obj-${i}`);
      await Promise.all(names.map((name) => client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name, namespace: ns.name, labels: ParentLabel }, data: { v: "init" } })));
      await mgr.start();
      // 20 updates per object, the 50 objects in parallel: 1,000 updates.
      await Promise.all(names.map(async (name) => {
        for (let i = 0; i < 20; i++) await client.patch(Kinds.ConfigMap, name, ns.name, { data: { v: String(i) } });
      }));
      await waitFor("every object reconciled at its last state", () => names.every((n) => {
        const mirror = mgr.cache.get<GenericObject>(Kinds.ConfigMap, childName(n, "mirror"), ns.name);
        return r.lastSeen.get(`${ns.name}/${n}`) === "19" && mirror?.data?.v === "19";
      }), 120_000);
      expect(r.overlaps, "two reconciles of one key at once").to.equal(0);
      expect(r.maxParallel, "workers run different keys in parallel").to.be.greaterThan(1);
      for (const n of names) {
        const m = await client.get<GenericObject>(Kinds.ConfigMap, childName(n, "mirror"), ns.name);
        expect(m.data?.v).to.equal("19");
      }
      console.log(`      ${r.reconciles} reconciles for 1,000 updates (dedup), max ${r.maxParallel} in parallel`);
    } finally {
      await mgr.stop();
      await ns.remove();
    }
  });
});
