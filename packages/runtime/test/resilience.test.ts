import { expect } from "chai";
import { sharedControlPlane } from "@dataprotection/testenv";
import { childName, Kinds, KubeClient, Manager, type GenericObject } from "../src/index.ts";
import { memoryLogger, metricSum, retrying, TcpProxy, testNamespace, waitFor } from "./helpers.ts";
import { MirrorReconciler, ParentLabel } from "./mirror.ts";

// Short watch backoff so reconnects after a restart are quick in tests.
const informer = { backoff: { baseMs: 100, capMs: 1000, jitter: 0.5 } };

describe("runtime: watch resilience", function () {
  this.timeout(240_000);

  it("loses no update when kube-apiserver restarts mid-run, and counts the watch restart", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-restart");
    const mgr = new Manager({ kubeConfig: cp.kubeConfig, namespace: ns.name, logger: memoryLogger().logger, informer });
    const r = new MirrorReconciler();
    mgr.controller("mirror").for(Kinds.ConfigMap).owns(Kinds.ConfigMap).withOptions({ workers: 4 }).reconciler(r);
    try {
      const names = Array.from({ length: 20 }, (_, i) => `obj-${i}`);
      await Promise.all(names.map((name) => client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name, namespace: ns.name, labels: ParentLabel }, data: { v: "init" } })));
      await mgr.start();
      const restartsBefore = await metricSum(mgr.metrics.registry, "runtime_watch_restarts_total", { reason: "error" });
      let written = 0;
      const updates = Promise.all(names.map(async (name) => {
        for (let i = 0; i < 30; i++) {
          await retrying(() => client.patch(Kinds.ConfigMap, name, ns.name, { data: { v: String(i) } }));
          written++;
          await new Promise((res) => setTimeout(res, 20));
        }
      }));
      await waitFor("some updates written", () => written >= 150);
      await cp.restartApiServer();
      await updates;
      await waitFor("every object reconciled at its last state", () => names.every((n) => r.lastSeen.get(`${ns.name}/${n}`) === "29"), 120_000);
      const restarts = await metricSum(mgr.metrics.registry, "runtime_watch_restarts_total", { reason: "error" });
      expect(restarts - restartsBefore, "watch restarts counted").to.be.at.least(1);
      expect(r.overlaps).to.equal(0);
    } finally {
      await mgr.stop();
      await ns.remove();
    }
  });

  it("relists after 410 Gone (etcd compacted, watch cache reset) and sees deletes made during the gap", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-gone");
    const target = new URL(cp.server);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.listen();
    const mgr = new Manager({ kubeConfig: proxy.kubeConfigFor(cp.kubeConfig), namespace: ns.name, logger: memoryLogger().logger, informer });
    const r = new MirrorReconciler();
    mgr.controller("mirror").for(Kinds.ConfigMap).withOptions({ workers: 2 }).reconciler(r);
    try {
      const names = Array.from({ length: 30 }, (_, i) => `obj-${i}`);
      await Promise.all(names.map((name) => client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name, namespace: ns.name, labels: { other: "x" } }, data: { v: "0" } })));
      await mgr.start();
      await waitFor("all reconciled", () => names.every((n) => r.lastSeen.has(`${ns.name}/${n}`)));
      // Disconnect the manager only; change the world while it cannot watch.
      proxy.cut();
      const deleted = names.slice(0, 10);
      const updated = names.slice(10, 20);
      await Promise.all(deleted.map((n) => client.delete(Kinds.ConfigMap, n, ns.name)));
      await Promise.all(updated.map((n) => client.patch(Kinds.ConfigMap, n, ns.name, { metadata: { labels: ParentLabel }, data: { v: "gap" } })));
      await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "born-in-gap", namespace: ns.name, labels: ParentLabel }, data: { v: "new" } });
      await cp.compactEtcd();
      // The new kube-apiserver's watch cache starts after the compaction: the old resourceVersion is gone.
      await cp.restartApiServer();
      proxy.restore();
      await waitFor("relist after 410", async () => (await metricSum(mgr.metrics.registry, "runtime_cache_relists_total")) >= 1);
      await waitFor("gap changes reconciled", () =>
        deleted.every((n) => r.lastSeen.has(`${ns.name}/${n}`) && r.lastSeen.get(`${ns.name}/${n}`) === undefined) &&
        updated.every((n) => r.lastSeen.get(`${ns.name}/${n}`) === "gap") &&
        r.lastSeen.get(`${ns.name}/born-in-gap`) === "new");
      expect(await metricSum(mgr.metrics.registry, "runtime_watch_restarts_total", { reason: "expired" })).to.be.at.least(1);
      // The reconciles above create mirrors: lastSeen is set before a mirror is created, so some
      // creations may still be in flight, and their watch events reach the cache a moment later.
      // Wait until every parent's mirror is cached and the cache equals the server, and assert on
      // that very observation (a second read could catch a mirror created in between).
      const mirrors = [...updated, "born-in-gap"].map((n) => childName(n, "mirror"));
      const cacheAndServer = async (): Promise<[string[], string[]]> => [
        mgr.cache.list<GenericObject>(Kinds.ConfigMap, { namespace: ns.name }).map((o) => o.metadata.name!).sort(),
        (await client.list<GenericObject>(Kinds.ConfigMap, { namespace: ns.name })).items.map((o) => o.metadata.name!).sort(),
      ];
      let cached: string[] = [];
      let server: string[] = [];
      try {
        await waitFor("every mirror cached and the cache holding what the server holds", async () => {
          [cached, server] = await cacheAndServer();
          return mirrors.every((m) => cached.includes(m)) && JSON.stringify(cached) === JSON.stringify(server);
        }, 60_000);
      } catch (e) {
        throw new Error(`${String(e)}; last seen cache [${cached.join(", ")}], server [${server.join(", ")}]`);
      }
      expect(cached).to.deep.equal(server);
      for (const n of deleted) expect(cached).to.not.include(n);
    } finally {
      await mgr.stop();
      await proxy.close();
      await ns.remove();
    }
  });

  it("restarts a watch that went silent (connection open, no bytes) and sees the updates it missed", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-stall");
    const target = new URL(cp.server);
    const proxy = new TcpProxy({ host: target.hostname, port: Number(target.port) });
    await proxy.listen();
    const mgr = new Manager({ kubeConfig: proxy.kubeConfigFor(cp.kubeConfig), namespace: ns.name, logger: memoryLogger().logger, informer: { ...informer, idleTimeoutMs: 3000, watchTimeoutSeconds: () => 600 } });
    const r = new MirrorReconciler();
    mgr.controller("mirror").for(Kinds.ConfigMap).reconciler(r);
    try {
      await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "quiet", namespace: ns.name }, data: { v: "0" } });
      await mgr.start();
      await waitFor("reconciled", () => r.lastSeen.get(`${ns.name}/quiet`) === "0");
      const before = await metricSum(mgr.metrics.registry, "runtime_watch_restarts_total", { reason: "stalled" });
      proxy.freeze();
      await client.patch(Kinds.ConfigMap, "quiet", ns.name, { data: { v: "1" } });
      await waitFor("update seen through a new watch", () => r.lastSeen.get(`${ns.name}/quiet`) === "1", 30_000);
      expect(await metricSum(mgr.metrics.registry, "runtime_watch_restarts_total", { reason: "stalled" })).to.be.greaterThan(before);
    } finally {
      await mgr.stop();
      await proxy.close();
      await ns.remove();
    }
  });
});
