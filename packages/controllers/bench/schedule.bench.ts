// npm run bench:schedule — 1,000 BackupPolicies firing every minute ("* * * * *"): lag from
// each tick to its Backup appearing (watch ADDED time - tick), p50/p99, and the operator's
// CPU and RSS (a separate process running only the backuppolicy controller, real clock).
// The bench stands in for the Backup controller: it marks each new Backup Completed so the
// next tick is not skipped, BENCH_COMPLETE_AFTER_MS (default 30 s) after its tick, so its own
// 1,000 status patches do not land in the window it measures (0: as soon as seen).
// Writes the "schedule" section of docs/benchmarks.md with --write.
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crdDocuments, DataProtectionAPIVersion, type Backup, type BackupPolicy } from "@dataprotection/api";
import { installCrds, startControlPlane } from "@dataprotection/testenv";
import { KubeClient, type KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../src/index.ts";

const N = Number(process.env.BENCH_POLICIES ?? 1000);
const TICKS = Number(process.env.BENCH_TICKS ?? 3);
const CONCURRENCY = 16;
const COMPLETE_AFTER_MS = Number(process.env.BENCH_COMPLETE_AFTER_MS ?? 30_000);
const ns = "bench-schedule";
const tool = "bench-noop";

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]);
  }));
}

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The tick a scheduled Backup's name carries: <policy>-datafile-yyyymmddhhmm. */
function tickOf(name: string): number {
  const m = /-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(name);
  if (!m) throw new Error(`not a scheduled Backup name: ${name}`);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]);
}

/** From the operator: ms after the tick each of its Backup creates was sent and answered. */
interface TickStats {
  tick: number;
  sent: number[];
  answered: number[];
  cpuMs: number;
}

/** utime+stime in seconds and RSS in bytes of a process, from /proc. */
async function procSample(pid: number): Promise<{ cpu: number; rss: number }> {
  const stat = (await readFile(`/proc/${pid}/stat`, "utf8")).split(") ")[1].split(" ");
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return { cpu: (Number(stat[11]) + Number(stat[12])) / 100, rss: rssKb * 1024 };
}

const cp = await startControlPlane({ controllerManager: false, scheduler: false });
const client = new KubeClient(cp.kubeConfig);
let child: ReturnType<typeof spawn> | undefined;
try {
  await installCrds(cp.kubeConfig, crdDocuments() as never);
  await client.create(Kinds.Namespace, { metadata: { name: ns } });
  await client.create(Kinds.BackupTool, { apiVersion: DataProtectionAPIVersion, kind: "BackupTool", metadata: { name: tool }, spec: { image: "busybox", deployKind: "job", backupCommands: ["true"] } });
  const names = Array.from({ length: N }, (_, i) => `p${String(i).padStart(4, "0")}`);
  const tc = performance.now();
  await pool(names, CONCURRENCY, async (name) => {
    const policy: BackupPolicy & KubeObject = {
      apiVersion: DataProtectionAPIVersion, kind: "BackupPolicy", metadata: { name, namespace: ns },
      spec: {
        datafile: { target: { labelsSelector: { matchLabels: { app: "db" } } }, backupToolName: tool, backupsHistoryLimit: 0 },
        schedule: { datafile: { cronExpression: "* * * * *", enable: true } },
      },
    };
    await client.create(Kinds.BackupPolicy, policy);
  });
  const createSeconds = (performance.now() - tc) / 1000;

  const dir = dirname(fileURLToPath(import.meta.url));
  const proc = spawn(process.execPath, ["--import", "tsx", join(dir, "schedule-operator.ts"), cp.kubeconfigPath, ns], { stdio: ["ignore", "pipe", "inherit"] });
  child = proc;
  const ts = performance.now();
  const tickStats = new Map<number, TickStats>();
  let out = "";
  await new Promise<void>((resolve, reject) => {
    proc.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
        const line = out.slice(0, nl);
        out = out.slice(nl + 1);
        if (line === "ready") resolve();
        else if (line.startsWith('{"tickStats"')) {
          const t = (JSON.parse(line) as { tickStats: TickStats }).tickStats;
          tickStats.set(t.tick, t);
        }
      }
    });
    proc.once("exit", (code) => reject(new Error(`operator exited with ${code}`)));
  });
  const startSeconds = (performance.now() - ts) / 1000;
  for (;;) {
    const list = await client.list<BackupPolicy & KubeObject>(Kinds.BackupPolicy, { namespace: ns });
    if (list.items.filter((p) => p.status?.phase === "Available").length === N) break;
    await sleep(500);
  }

  // Watch Backups: record arrival - tick, and complete each one (the Backup controller's part).
  const lags = new Map<number, number[]>();
  const toComplete: Array<{ name: string; tick: number }> = [];
  const abort = new AbortController();
  const list = await client.list<Backup & KubeObject>(Kinds.Backup, { namespace: ns });
  // The API server closes a watcher that falls behind a burst: resume from the last
  // resourceVersion seen (the replayed events arrive late, and count so).
  // A tick during setup may have made Backups before this list: complete them too, or their
  // policies skip every later tick ("previous still running").
  for (const b of list.items) {
    const name = b.metadata.name ?? "";
    if (b.status?.phase !== "Completed") toComplete.push({ name, tick: tickOf(name) });
  }
  let rv = list.metadata.resourceVersion;
  let watchRestarts = 0;
  const watching = (async () => {
    while (!abort.signal.aborted) {
      await client.watch(Kinds.Backup, { namespace: ns, resourceVersion: rv, signal: abort.signal }, (e) => {
        rv = e.object.metadata.resourceVersion ?? rv;
        if (e.type !== "ADDED") return;
        const name = e.object.metadata.name ?? "";
        const tick = tickOf(name);
        const lag = Date.now() - tick;
        const l = lags.get(tick) ?? [];
        lags.set(tick, l);
        l.push(lag);
        toComplete.push({ name, tick });
      }).catch(() => undefined);
      if (!abort.signal.aborted) watchRestarts++;
    }
  })();
  let completing = true;
  const completer = (async () => {
    while (completing || toComplete.length) {
      const due = completing ? Date.now() - COMPLETE_AFTER_MS : Infinity;
      const batch = toComplete.filter((b) => b.tick <= due).map((b) => b.name);
      if (!batch.length) {
        await sleep(100);
        continue;
      }
      const taken = new Set(batch);
      toComplete.splice(0, toComplete.length, ...toComplete.filter((b) => !taken.has(b.name)));
      await pool(batch, 8, async (name) => {
        await client.patch(Kinds.Backup, name, ns, { status: { phase: "Completed", completionTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") } }, { subresource: "status" });
      });
    }
  })();

  // Measure TICKS whole ticks: from just before the first to when the last tick's Backups are all in.
  const firstTick = Math.ceil((Date.now() + 5_000) / 60_000) * 60_000;
  await sleep(firstTick - Date.now() - 2_000);
  const pid = proc.pid ?? 0;
  const loadBefore = loadavg();
  const before = await procSample(pid);
  const t0 = performance.now();
  const rss: number[] = [];
  const lastTick = firstTick + (TICKS - 1) * 60_000;
  const deadline = lastTick + 30_000;
  while (Date.now() < deadline && (lags.get(lastTick)?.length ?? 0) < N) {
    rss.push((await procSample(pid)).rss);
    await sleep(1000);
  }
  const after = await procSample(pid);
  const ticksReported = (): number => [...tickStats.keys()].filter((t) => t >= firstTick && t <= lastTick).length;
  // The operator reports a tick's creates 25 s after it.
  while (Date.now() < lastTick + 40_000 && ticksReported() < TICKS) await sleep(500);
  const wall = (performance.now() - t0) / 1000;
  completing = false;
  await completer;
  abort.abort();
  await watching;

  const ticks = Array.from({ length: TICKS }, (_, i) => firstTick + i * 60_000);
  const all = ticks.flatMap((t) => lags.get(t) ?? []).sort((a, b) => a - b);
  const perTick = ticks.map((t) => {
    const l = (lags.get(t) ?? []).sort((a, b) => a - b);
    const s = tickStats.get(t);
    const sent = (s?.sent ?? []).sort((a, b) => a - b);
    const answered = (s?.answered ?? []).sort((a, b) => a - b);
    const ops = s ? `${sent[0]} | ${pct(sent, 99)} | ${pct(answered, 99)} | ${s.cpuMs}` : "- | - | - | -";
    return { tick: new Date(t).toISOString(), created: l.length, p50: pct(l, 50), p99: pct(l, 99), max: l[l.length - 1], ops };
  });
  const cpuPct = ((after.cpu - before.cpu) / wall) * 100;
  const mib = (b: number): string => (b / 1024 / 1024).toFixed(0);
  const loadAfter = loadavg();
  const load = `1-min load average ${loadBefore[0].toFixed(1)} before the first tick, ${loadAfter[0].toFixed(1)} after the last; 5-min ${loadAfter[1].toFixed(1)}`;
  const date = new Date().toISOString().slice(0, 10);
  const missing = N * TICKS - all.length;

  const lines = [
    `\`npm run bench:schedule\` (${N} policies, cron \`* * * * *\`, ${TICKS} ticks, private control plane without controller-manager/scheduler), ${date}.`,
    "",
    `2 cores shared with other work (${load}). Create ${N} policies: ${createSeconds.toFixed(1)} s; operator start to synced: ${startSeconds.toFixed(2)} s.`,
    "Lag = time the bench's watch saw the Backup ADDED - the tick (includes watch delivery). The operator runs the backuppolicy controller only, as the admin user (exempt from API Priority and Fairness).",
    `The bench marks each Backup Completed (standing in for the Backup controller) ${COMPLETE_AFTER_MS ? `${COMPLETE_AFTER_MS / 1000} s after its tick, outside the measured window` : "as soon as it sees it, inside the measured window"}; backupsHistoryLimit 0, so no pruning.`,
    "",
    "Operator columns: ms after the tick its first Backup create was sent, its p99 create was sent, its p99 create was answered; CPU ms it used from its first create to its last answer.",
    "",
    "| tick (UTC) | Backups | p50 ms | p99 ms | max ms | first sent | p99 sent | p99 answered | CPU ms |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...perTick.map((t) => `| ${t.tick.slice(11, 16)} | ${t.created} | ${t.p50 ?? "-"} | ${t.p99 ?? "-"} | ${t.max ?? "-"} | ${t.ops} |`),
    `| all | ${all.length} | ${pct(all, 50) ?? "-"} | ${pct(all, 99) ?? "-"} | ${all[all.length - 1] ?? "-"} | | | | |`,
    "",
    `Operator process over ${wall.toFixed(0)} s: CPU ${cpuPct.toFixed(1)}% of one core (${(after.cpu - before.cpu).toFixed(1)} s), RSS mean ${mib(rss.reduce((a, b) => a + b, 0) / Math.max(1, rss.length))} MiB, max ${mib(Math.max(...rss, after.rss))} MiB.`,
    `The bench's watch was resumed ${watchRestarts} times.`,
    `Goal p99 < 2000 ms: ${pct(all, 99) !== undefined && pct(all, 99) < 2000 ? "met" : "not met"}${missing ? `; ${missing} Backups missing at the deadline` : ""}.`,
  ];
  const section = `<!-- schedule:begin -->\n## schedule\n\n${lines.join("\n")}\n<!-- schedule:end -->`;
  console.log(section);
  if (process.argv.includes("--write")) {
    const file = join(dir, "../../../docs/benchmarks.md");
    const doc = await readFile(file, "utf8").catch(() => "# Benchmarks\n");
    const re = /<!-- schedule:begin -->[\s\S]*?<!-- schedule:end -->/;
    await writeFile(file, re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`);
  }
} finally {
  child?.kill("SIGTERM");
  client.close();
  await cp.stop();
}
