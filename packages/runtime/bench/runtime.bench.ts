// npm run bench:runtime — reconcile throughput and update->reconcile latency for
// N ConfigMaps (default 5,000), beside a bare list+watch of the same objects in the
// same run, plus RSS per 1,000 cached objects. Writes the "runtime" section of
// docs/benchmarks.md when run with --write.
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { loadavg } from "node:os";
import { startControlPlane } from "@dataprotection/testenv";
import { createLogger, Kinds, KubeClient, Manager, type GenericObject } from "../src/index.ts";

const N = Number(process.env.BENCH_OBJECTS ?? 5000);
const CONCURRENCY = 32;
const payload = "x".repeat(256);
const ns = "bench-runtime";

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

function pct(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

interface Round {
  seconds: number;
  perSecond: number;
  p50: number;
  p99: number;
}

/** Updates every object to v and waits until seen(name) reports each; latency per object = seen - sent. */
async function round(client: KubeClient, names: string[], v: string, seen: Map<string, number>): Promise<Round> {
  const sent = new Map<string, number>();
  const t0 = performance.now();
  await pool(names, CONCURRENCY, async (name) => {
    sent.set(name, performance.now());
    await client.patch(Kinds.ConfigMap, name, ns, { data: { v } });
  });
  while (seen.size < names.length) await new Promise((r) => setTimeout(r, 20));
  const last = Math.max(...seen.values());
  const lat = names.map((n) => seen.get(n)! - sent.get(n)!).sort((a, b) => a - b);
  const seconds = (last - t0) / 1000;
  return { seconds, perSecond: names.length / seconds, p50: pct(lat, 50), p99: pct(lat, 99) };
}

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();
const mib = (b: number): number => b / 1024 / 1024;

const cp = await startControlPlane({ controllerManager: false, scheduler: false });
try {
  const client = new KubeClient(cp.kubeConfig);
  await client.create(Kinds.Namespace, { metadata: { name: ns } });
  const names = Array.from({ length: N }, (_, i) => `cm-${i}`);
  const tc = performance.now();
  await pool(names, CONCURRENCY, async (name) => void (await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name, namespace: ns, labels: { bench: "runtime" } }, data: { v: "0", payload } })));
  const createSeconds = (performance.now() - tc) / 1000;

  // Floor: a bare list + one watch, no cache, no queue.
  const tl = performance.now();
  const list = await client.listAll(Kinds.ConfigMap, { namespace: ns });
  const listSeconds = (performance.now() - tl) / 1000;
  const floorSeen = new Map<string, number>();
  const ac = new AbortController();
  const watching = client.watch(Kinds.ConfigMap, { namespace: ns, resourceVersion: list.metadata.resourceVersion, signal: ac.signal }, (e) => {
    const o = e.object as GenericObject;
    if (e.type === "MODIFIED" && o.data?.v === "1" && !floorSeen.has(o.metadata.name!)) floorSeen.set(o.metadata.name!, performance.now());
  }).catch(() => undefined);
  const floor = await round(client, names, "1", floorSeen);
  ac.abort();
  await watching;

  // The runtime: cache + workqueue + 4 workers + reconcile reading from the cache.
  gc();
  const rss0 = process.memoryUsage().rss;
  const heap0 = process.memoryUsage().heapUsed;
  const mgr = new Manager({ kubeConfig: cp.kubeConfig, namespace: ns, logger: createLogger({ level: "warn" }) });
  const rtSeen = new Map<string, number>();
  let reconciles = 0;
  mgr.controller("bench").for(Kinds.ConfigMap).withOptions({ workers: 4 }).reconciler(async (req, ctx) => {
    reconciles++;
    const cm = ctx.cache.get<GenericObject>(Kinds.ConfigMap, req.name, req.namespace);
    if (cm?.data?.v === "2" && !rtSeen.has(req.name)) rtSeen.set(req.name, performance.now());
  });
  const ts = performance.now();
  await mgr.start();
  const syncSeconds = (performance.now() - ts) / 1000;
  const ti = performance.now();
  while (reconciles < N) await new Promise((r) => setTimeout(r, 5)); // initial reconcile of every object, all queued at once
  const initialPerSecond = N / ((performance.now() - ti) / 1000);
  gc();
  const rss1 = process.memoryUsage().rss;
  const heap1 = process.memoryUsage().heapUsed;
  reconciles = 0;
  const rt = await round(client, names, "2", rtSeen);
  const rtReconciles = reconciles;
  await mgr.stop();

  const fmt = (x: number, d = 0): string => x.toFixed(d);
  const lines = [
    `\`npm run bench:runtime\` (${N} ConfigMaps of ~0.5 KiB, ${CONCURRENCY} updates in flight, private control plane), ${new Date().toISOString().slice(0, 10)}.`,
    "",
    `2 cores shared with other work (load ${loadavg()[0].toFixed(1)}). Create ${N}: ${fmt(createSeconds, 1)} s; bare list ${fmt(listSeconds, 2)} s; manager start to synced ${fmt(syncSeconds, 2)} s.`,
    "",
    "Both rounds patch every object once; \"seen\" is the watch event (floor) or the reconcile that reads the new value from the cache (runtime).",
    "",
    "| path | updates | seconds | per second | p50 ms (update -> seen) | p99 ms |",
    "|---|---:|---:|---:|---:|---:|",
    `| bare list+watch (floor) | ${N} | ${fmt(floor.seconds, 1)} | ${fmt(floor.perSecond)} | ${fmt(floor.p50, 1)} | ${fmt(floor.p99, 1)} |`,
    `| runtime: cache -> workqueue -> reconcile (4 workers) | ${N} | ${fmt(rt.seconds, 1)} | ${fmt(rt.perSecond)} | ${fmt(rt.p50, 1)} | ${fmt(rt.p99, 1)} |`,
    "",
    `Queue + reconcile alone (all ${N} keys queued at once after sync, reconcile reads the cache): ${fmt(initialPerSecond)} reconciles/s.`,
    `Reconciles during the runtime round: ${rtReconciles}. Runtime/floor throughput ${fmt(rt.perSecond / floor.perSecond, 2)}x, p99 latency ${fmt(rt.p99 / floor.p99, 2)}x.`,
    `Memory for the cached objects (after GC): RSS ${fmt(mib(rss1 - rss0) / (N / 1000), 2)} MiB per 1,000 objects, heap ${fmt(mib(heap1 - heap0) / (N / 1000), 2)} MiB per 1,000.`,
  ];
  console.log(lines.join("\n"));
  if (process.argv.includes("--write")) {
    const file = join(dirname(fileURLToPath(import.meta.url)), "../../../docs/benchmarks.md");
    const section = `<!-- runtime:begin -->\n## runtime\n\n${lines.join("\n")}\n<!-- runtime:end -->`;
    const doc = await readFile(file, "utf8").catch(() => "# Benchmarks\n");
    const re = /<!-- runtime:begin -->[\s\S]*?<!-- runtime:end -->/;
    await writeFile(file, re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`);
    console.log(`wrote the runtime section of ${file}`);
  }
  client.close();
} finally {
  await cp.stop();
}
