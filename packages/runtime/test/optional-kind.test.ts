// An optional kind (a CRD that may not be installed, e.g. VolumeSnapshot) must not block cache
// sync: it syncs empty and unavailable, is looked for in discovery (not LISTed) while absent,
// is picked up once its CRD appears, and emptied again if the CRD goes away.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { installCrds, sharedControlPlane } from "@dataprotection/testenv";
import { Cache, KubeClient, type GenericObject, type Kind } from "../src/index.ts";
import { testNamespace, waitFor } from "./helpers.ts";
import { widgetCrd } from "./widget-crd.ts";

const CrdKind: Kind = { group: "apiextensions.k8s.io", version: "v1", kind: "CustomResourceDefinition", plural: "customresourcedefinitions", namespaced: false };

describe("runtime: optional kinds", function () {
  this.timeout(120_000);

  it("syncs an unserved optional kind as empty, serves it once its CRD is installed, and empties it when the CRD is deleted", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-optional");
    // A group of its own, so no other test has installed it.
    const group = `opt${randomBytes(3).toString("hex")}.runtime.test.dataprotection.io`;
    const kind: Kind = { group, version: "v1", kind: "Widget", plural: "widgets", namespaced: true };
    const crd = structuredClone(widgetCrd) as GenericObject & { spec: { group: string } };
    crd.metadata = { name: `widgets.${group}` };
    crd.spec.group = group;
    const cache = new Cache(client, { informer: { absentRetryMs: 200, backoff: { baseMs: 50, capMs: 500, jitter: 0 } } });
    cache.informer(kind, { optional: true });
    try {
      // While absent, the kind is looked for in discovery (GETs), never LISTed again.
      const calls = { list: 0, serves: 0 };
      const list = client.list.bind(client);
      const serves = client.serves.bind(client);
      client.list = ((k: Kind, o?: object) => {
        if (k.plural === kind.plural) calls.list++;
        return list(k, o);
      }) as typeof client.list;
      client.serves = ((k: Kind, o?: object) => {
        if (k.plural === kind.plural) calls.serves++;
        return serves(k, o);
      }) as typeof client.serves;
      cache.start();
      await cache.waitForSync();
      expect(cache.isAvailable(kind)).to.equal(false);
      expect(cache.list(kind)).to.deep.equal([]);
      await waitFor("discovery asked three times", () => calls.serves >= 3);
      expect(calls.list, "LISTs of the absent kind").to.equal(1);

      await installCrds(cp.kubeConfig, [crd]);
      await waitFor("the kind served", async () => {
        try {
          await client.create(kind, { apiVersion: `${group}/v1`, kind: "Widget", metadata: { name: "w1", namespace: ns.name }, spec: { size: 1 } });
          return true;
        } catch {
          return false;
        }
      });
      await waitFor("the widget cached", () => cache.isAvailable(kind) && !!cache.get(kind, "w1", ns.name));

      await client.delete(CrdKind, crd.metadata.name!);
      await waitFor("the kind unavailable and empty again", () => !cache.isAvailable(kind) && cache.list(kind).length === 0);
    } finally {
      await cache.stop();
      await client.delete(CrdKind, crd.metadata.name!).catch(() => undefined);
      await ns.remove();
    }
  });
});
