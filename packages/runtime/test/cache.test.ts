import { expect } from "chai";
import { sharedControlPlane } from "@dataprotection/testenv";
import { Cache, Kinds, KubeClient, setControllerReference, type GenericObject } from "../src/index.ts";
import { testNamespace, waitFor } from "./helpers.ts";

describe("runtime: cache reads", function () {
  this.timeout(60_000);

  it("serves typed get/list, custom and owner indexes, label selectors, and frozen objects", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-cache");
    const cache = new Cache(client, { namespace: ns.name });
    // An index like "Backups by policy": here ConfigMaps by data.policy.
    cache.addIndex(Kinds.ConfigMap, "byPolicy", (o) => {
      const p = (o as GenericObject).data?.policy;
      return p ? [p] : [];
    });
    try {
      const owner = await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "owner", namespace: ns.name } });
      for (let i = 0; i < 4; i++) {
        const cm: GenericObject = { metadata: { name: `c${i}`, namespace: ns.name, labels: { app: i % 2 ? "pg" : "redis", tier: "db" } }, data: { policy: i < 3 ? "daily" : "weekly" } };
        if (i < 2) setControllerReference(cm, owner, Kinds.ConfigMap);
        await client.create(Kinds.ConfigMap, cm);
      }
      cache.start();
      await cache.waitForSync();
      await waitFor("all cached", () => cache.list(Kinds.ConfigMap, { namespace: ns.name }).length >= 5);
      expect(cache.get<GenericObject>(Kinds.ConfigMap, "c1", ns.name)?.data?.policy).to.equal("daily");
      expect(cache.get(Kinds.ConfigMap, "missing", ns.name)).to.equal(undefined);
      expect(cache.list<GenericObject>(Kinds.ConfigMap, { index: { name: "byPolicy", value: "daily" } }).map((o) => o.metadata.name).sort()).to.deep.equal(["c0", "c1", "c2"]);
      expect(cache.ownedBy(Kinds.ConfigMap, owner.metadata.uid!).map((o) => o.metadata.name).sort()).to.deep.equal(["c0", "c1"]);
      expect(cache.list(Kinds.ConfigMap, { namespace: ns.name, labels: { app: "pg" } }).map((o) => o.metadata.name).sort()).to.deep.equal(["c1", "c3"]);
      const sel = { matchExpressions: [{ key: "app", operator: "In", values: ["redis"] }], matchLabels: { tier: "db" } };
      expect(cache.list(Kinds.ConfigMap, { namespace: ns.name, labels: sel }).map((o) => o.metadata.name).sort()).to.deep.equal(["c0", "c2"]);
      const c0 = cache.get<GenericObject>(Kinds.ConfigMap, "c0", ns.name)!;
      expect(c0.kind).to.equal("ConfigMap");
      expect(() => void (c0.data!.policy = "x")).to.throw(TypeError);
      expect(() => void c0.metadata.labels!.app).to.not.throw();
      await client.patch(Kinds.ConfigMap, "c3", ns.name, { data: { policy: "daily" } });
      await waitFor("index follows updates", () => cache.list(Kinds.ConfigMap, { index: { name: "byPolicy", value: "daily" } }).length === 4);
    } finally {
      await cache.stop();
      await ns.remove();
    }
  });
});
