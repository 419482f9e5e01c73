// Cancellation against a real API server behind HoldProxy, which holds chosen requests on
// the wire: SIGTERM and lost leadership abort a reconcile blocked in a held request within
// 1 s, and the held write never reaches the server; a reconcile over its time limit is
// aborted, counted and retried, and the retry succeeds once the proxy lets requests through.
import { spawn } from "node:child_process";
import { rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { sharedControlPlane, type ControlPlane } from "@dataprotection/testenv";
import { clone, isNotFound, Kinds, KubeClient, Manager, ReconcileAbortedError, type GenericObject, type KubeObject } from "../src/index.ts";
import { HoldProxy } from "./hold-proxy.ts";
import { memoryLogger, metricSum, testNamespace, waitFor } from "./helpers.ts";
import { ParentLabel } from "./mirror.ts";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "manager-process.ts");
const lease = { leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200 };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const notLease = (line: string): boolean => !line.includes("/leases/");

interface Setup {
  cp: ControlPlane;
  client: KubeClient;
  ns: string;
  proxy: HoldProxy;
  done(): Promise<void>;
}

async function setup(prefix: string): Promise<Setup> {
  const cp = await sharedControlPlane();
  const client = new KubeClient(cp.kubeConfig);
  const ns = await testNamespace(client, prefix);
  const proxy = new HoldProxy(cp);
  await proxy.listen();
  return { cp, client, ns: ns.name, proxy, done: async () => (await proxy.close(), await ns.remove()) };
}

/** Time of the first log line with this message (winston's ISO timestamp). */
function loggedAt(lines: string[], message: string): number | undefined {
  const line = lines.map((l) => JSON.parse(l) as { message: string; timestamp: string }).find((l) => l.message === message);
  return line && Date.parse(line.timestamp);
}

async function absent(client: KubeClient, name: string, ns: string): Promise<boolean> {
  return client.get(Kinds.ConfigMap, name, ns).then(() => false, (e: unknown) => isNotFound(e) || Promise.reject(e));
}

describe("runtime: cancellation", function () {
  this.timeout(120_000);

  it("SIGTERM aborts a reconcile held in a request within 1 s; its create never reaches the server; exit 0", async () => {
    const s = await setup("rt-cancel-term");
    const kubeconfig = join(tmpdir(), `${s.ns}.kubeconfig`);
    await writeFile(kubeconfig, s.proxy.kubeConfig().exportConfig(), { mode: 0o600 });
    const child = spawn(process.execPath, ["--import", "tsx", fixture], {
      env: { ...process.env, KUBECONFIG: kubeconfig, NAMESPACE: s.ns, IDENTITY: "term", LEASE_MS: String(lease.leaseDurationMs), RENEW_MS: String(lease.renewDeadlineMs), RETRY_MS: String(lease.retryPeriodMs) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const logs: Array<{ message: string; [k: string]: unknown }> = [];
    let buf = "";
    child.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      for (let i = buf.indexOf("\n"); i >= 0; i = buf.indexOf("\n")) {
        logs.push(JSON.parse(buf.slice(0, i)) as { message: string });
        buf = buf.slice(i + 1);
      }
    });
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      await waitFor("the child leads", () => logs.some((l) => l.message === "became leader"), 60_000);
      s.proxy.hold((line) => line.startsWith(`POST /api/v1/namespaces/${s.ns}/configmaps`));
      await s.client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "p1", namespace: s.ns, labels: ParentLabel }, data: { v: "1" } });
      await waitFor("the mirror's create is held", () => s.proxy.held.length === 1, 30_000, 10);

      const termAt = Date.now();
      child.kill("SIGTERM");
      const held = s.proxy.held[0];
      await waitFor("the held request is aborted", () => held.closedAt !== undefined, 5000, 5);
      const abortMs = held.closedAt! - termAt;
      expect(await exited, "exit code").to.equal(0);
      s.proxy.release();
      await sleep(500);

      expect(abortMs, "ms from SIGTERM to the held request's end").to.be.below(1000);
      expect(logs.find((l) => l.message === "reconcile aborted"), "the reconcile saw its abort").to.include({ why: "shutdown", name: "p1" });
      expect(logs.some((l) => l.message === "released lease"), "lease released").to.equal(true);
      expect(await absent(s.client, "p1-mirror", s.ns), "the held create was not applied").to.equal(true);
      expect(s.proxy.writesSince(termAt, notLease), "writes after SIGTERM (other than the lease)").to.deep.equal([]);
      console.log(`      SIGTERM -> held request aborted in ${abortMs} ms`);
    } finally {
      child.kill("SIGKILL");
      await exited;
      await rm(kubeconfig, { force: true });
      await s.done();
    }
  });

  it("lost leadership aborts a reconcile held in a write within 1 s; neither the write nor its Event reaches the server", async () => {
    const s = await setup("rt-cancel-lost");
    const { logger, lines } = memoryLogger();
    const mgr = new Manager({ kubeConfig: s.proxy.kubeConfig(), namespace: s.ns, logger, leaderElection: { leaseName: "cancel", namespace: s.ns, identity: "leader", ...lease } });
    let failure: { at: number; error: unknown } | undefined;
    mgr.controller("writer").for(Kinds.ConfigMap).reconciler(async (req, ctx) => {
      const cm = ctx.cache.get<GenericObject>(Kinds.ConfigMap, req.name, req.namespace);
      if (req.name !== "target" || !cm || cm.data?.v === "written") return;
      ctx.events.normal(cm, "Writing", `writing ConfigMap "${req.name}"`);
      const next = clone(cm);
      next.data = { v: "written" };
      try {
        await ctx.client.replace(Kinds.ConfigMap, next);
      } catch (e) {
        failure = { at: Date.now(), error: e };
        throw e;
      }
    });
    try {
      await mgr.start();
      await waitFor("leader", () => mgr.isLeader);
      s.proxy.hold((line) => new RegExp(`^(POST|PUT|PATCH) /api/v1/namespaces/${s.ns}/(configmaps|events)`).test(line));
      await s.client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "target", namespace: s.ns }, data: { v: "1" } });
      await waitFor("the Event and the replace are held", () => s.proxy.held.length === 2, 30_000, 10);

      // Someone else takes the lease: the leader sees it on its next renew (every 200 ms) and steps down.
      const l = await s.client.get<KubeObject & { spec: Record<string, unknown> }>(Kinds.Lease, "cancel", s.ns);
      l.spec = { ...l.spec, holderIdentity: "thief", leaseDurationSeconds: 3600, renewTime: new Date().toISOString().replace("Z", "000Z") };
      await s.client.replace(Kinds.Lease, l);
      await waitFor("lost leadership", () => loggedAt(lines, "lost leadership") !== undefined, 30_000, 10);
      await waitFor("the reconcile is aborted", () => failure !== undefined, 5000, 5);
      await waitFor("both held requests end", () => s.proxy.held.every((h) => h.closedAt !== undefined), 5000, 5);
      const lostAt = loggedAt(lines, "lost leadership")!;
      s.proxy.release();
      await sleep(1000);

      expect(failure!.at - lostAt, "ms from lost leadership to the reconcile's abort").to.be.below(1000);
      for (const h of s.proxy.held) expect(h.closedAt! - lostAt, `ms to the end of ${h.line}`).to.be.below(1000);
      expect(failure!.error).to.be.instanceOf(ReconcileAbortedError).and.to.include({ why: "leadership-lost" });
      expect(loggedAt(lines, "dropping queued Events"), "the recorder logs what it dropped").to.be.a("number");
      const target = await s.client.get<GenericObject>(Kinds.ConfigMap, "target", s.ns);
      expect(target.data, "the held replace was not applied").to.deep.equal({ v: "1" });
      const events = await s.client.list<KubeObject & { reason?: string }>(Kinds.Event, { namespace: s.ns });
      expect(events.items.filter((e) => e.reason === "Writing"), "the held Event was not written").to.deep.equal([]);
      expect(s.proxy.writesSince(lostAt, notLease), "writes after losing leadership (other than the lease)").to.deep.equal([]);
      console.log(`      lost leadership -> reconcile aborted in ${failure!.at - lostAt} ms`);
    } finally {
      await mgr.stop();
      await s.done();
    }
  });

  it("a reconcile over its time limit is aborted, logged and counted, then retried with backoff until it succeeds", async () => {
    const s = await setup("rt-cancel-limit");
    const { logger, lines } = memoryLogger();
    const mgr = new Manager({ kubeConfig: s.proxy.kubeConfig(), namespace: s.ns, logger, reconcileTimeoutMs: 1000 });
    const failures: Array<{ ms: number; error: unknown }> = [];
    let attempts = 0;
    let succeeded = 0;
    // Each attempt creates its own ConfigMap, so the server shows which attempts' writes landed.
    mgr.controller("slow").for(Kinds.ConfigMap).reconciler(async (req, ctx) => {
      if (req.name !== "slow") return;
      const n = ++attempts;
      const started = Date.now();
      try {
        await ctx.client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: `slow-out-${n}`, namespace: s.ns } });
        succeeded = n;
      } catch (e) {
        failures.push({ ms: Date.now() - started, error: e });
        throw e;
      }
    });
    try {
      await mgr.start();
      s.proxy.hold((line) => line.startsWith(`POST /api/v1/namespaces/${s.ns}/configmaps`));
      await s.client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "slow", namespace: s.ns } });
      const timeouts = (): Promise<number> => metricSum(mgr.metrics.registry, "controller_runtime_reconcile_timeouts_total", { controller: "slow" });
      await waitFor("a reconcile times out", async () => (await timeouts()) >= 1, 30_000, 10);
      // The timeout is counted before the aborted socket's close reaches the proxy; release()
      // forwards what is held on open connections, so wait for a moment when every held create
      // was aborted (retries back off, so such a moment comes between attempts).
      await waitFor("the aborted creates' connections close", () => s.proxy.held.length > 0 && s.proxy.held.every((h) => h.closedAt !== undefined), 30_000, 2);
      s.proxy.release();
      await waitFor("the retry succeeds", () => succeeded > 0, 30_000);

      expect(failures[0].error).to.be.instanceOf(ReconcileAbortedError).and.to.include({ why: "timeout" });
      expect(failures[0].ms, "aborted at its time limit").to.be.within(1000, 2000);
      expect(await timeouts(), "timeouts counted").to.equal(failures.length);
      expect(succeeded, "the last attempt succeeded").to.equal(attempts).and.to.be.at.least(2);
      expect(await metricSum(mgr.metrics.registry, "controller_runtime_reconcile_total", { controller: "slow", result: "error" })).to.equal(failures.length);
      expect(await metricSum(mgr.metrics.registry, "workqueue_retries_total", { name: "slow" }), "retried with backoff").to.be.at.least(1);
      expect(loggedAt(lines, "reconcile ran past its time limit: aborted, will retry")).to.be.a("number");
      await sleep(500);
      const outs = (await s.client.list<GenericObject>(Kinds.ConfigMap, { namespace: s.ns })).items.map((c) => c.metadata.name!).filter((n) => n.startsWith("slow-out-"));
      expect(outs, "only the successful attempt's create reached the server").to.deep.equal([`slow-out-${succeeded}`]);
      console.log(`      time limit 1000 ms: aborted after ${failures[0].ms} ms, ${failures.length} timeout(s), attempt ${succeeded} succeeded`);
    } finally {
      await mgr.stop();
      await s.done();
    }
  });
});
