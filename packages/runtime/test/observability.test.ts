import { expect } from "chai";
import { sharedControlPlane } from "@dataprotection/testenv";
import { Kinds, KubeClient, Manager, type GenericObject } from "../src/index.ts";
import { memoryLogger, testNamespace, waitFor } from "./helpers.ts";

describe("runtime: observability", function () {
  this.timeout(120_000);

  it("serves /metrics with reconcile, queue, watch and leader series, /healthz and /readyz; logs are JSON lines", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-obs");
    const { logger, lines } = memoryLogger();
    const mgr = new Manager({
      kubeConfig: cp.kubeConfig,
      namespace: ns.name,
      logger,
      healthPort: 0,
      healthHost: "127.0.0.1",
      leaderElection: { leaseName: "obs", namespace: ns.name, leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200 },
    });
    const failedOnce = new Set<string>();
    mgr.controller("obs")
      .for(Kinds.ConfigMap)
      .withOptions({ backoff: { baseMs: 10, capMs: 100, jitter: 0 } })
      .reconciler(async (req, ctx) => {
        ctx.log.info("reconciling");
        if (req.name.startsWith("flaky") && !failedOnce.has(req.name)) {
          failedOnce.add(req.name);
          throw new Error("transient");
        }
        return { requeueAfter: req.name === "periodic" ? 60_000 : undefined };
      });
    try {
      await mgr.start();
      await waitFor("leader", () => mgr.isLeader);
      for (const name of ["flaky-1", "periodic", "plain"]) await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name, namespace: ns.name } });
      const base = `http://127.0.0.1:${mgr.port}`;
      const want = [
        'controller_runtime_reconcile_total{controller="obs",result="success"}',
        'controller_runtime_reconcile_total{controller="obs",result="error"}',
        'controller_runtime_reconcile_total{controller="obs",result="requeue_after"}',
        'controller_runtime_reconcile_errors_total{controller="obs"}',
        'controller_runtime_reconcile_time_seconds_count{controller="obs"}',
        'workqueue_depth{name="obs"}',
        'workqueue_queue_duration_seconds_count{name="obs"}',
        'workqueue_retries_total{name="obs"}',
        'workqueue_adds_total{name="obs"}',
        'leader_election_master_status{name="obs"} 1',
        "process_resident_memory_bytes",
      ];
      let text = "";
      await waitFor("series exported", async () => {
        text = await (await fetch(`${base}/metrics`)).text();
        return want.every((w) => text.includes(w));
      }, 30_000, 200);
      expect(text).to.include("# TYPE runtime_watch_restarts_total counter");
      expect(text).to.include("# TYPE runtime_cache_relists_total counter");
      expect((await fetch(`${base}/healthz`)).status).to.equal(200);
      expect((await fetch(`${base}/readyz`)).status).to.equal(200);
      expect((await fetch(`${base}/nope`)).status).to.equal(404);

      // Log lines reach `lines` through a stream, a tick or more after the metrics they go with.
      const parse = (): Array<Record<string, unknown>> => lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      await waitFor("the retry and three reconciles logged", () => {
        const p = parse();
        return p.filter((l) => l.message === "reconciling").length >= 3 && p.some((l) => l.message === "reconcile failed, will retry");
      }, 30_000);
      const parsed = parse();
      const rec = parsed.filter((l) => l.message === "reconciling");
      expect(rec.length).to.be.at.least(3);
      for (const l of rec) {
        expect(l).to.include({ controller: "obs", kind: "ConfigMap", namespace: ns.name, level: "info" });
        expect(l.reconcileID).to.match(/^[0-9a-f-]{36}$/);
        expect(l.name).to.be.a("string");
        expect(l.timestamp).to.be.a("string");
      }
      const ids = new Set(rec.map((l) => l.reconcileID));
      expect(ids.size, "one reconcileID per reconcile").to.equal(rec.length);
      expect(parsed.some((l) => l.message === "reconcile failed, will retry" && l.level === "error" && l.name === "flaky-1")).to.equal(true);
    } finally {
      await mgr.stop();
      await ns.remove();
    }
  });
});
