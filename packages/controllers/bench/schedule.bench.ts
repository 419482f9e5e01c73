// npm run bench:schedule — 1,000 BackupPolicies firing every minute ("* * * * *"): lag from
// each tick to its Backup appearing (watch ADDED time - tick), p50/p99, and the operator's
// CPU and RSS (a separate process running only the backuppolicy controller, real clock).
// The floor in the same run (issue 19: p99 lag / a bare client's <= 1.2), interleaved with it:
// BENCH_TICKS rounds of one operator tick then one tick of a bare KubeClient (schedule-operator.ts
// "bare", the operator stopped) creating the same 1,000 Backups, measured by the same watch, so
// load drift on the shared machine falls on both; the section gives the ratio of the p99s.
// The bench stands in for the Backup controller: it marks each new Backup Completed so the
// next tick is not skipped, BENCH_COMPLETE_AFTER_MS (default 30 s) after its tick, so its own
// 1,000 status patches do not land in the window it measures (0: as soon as seen).
// Writes the "schedule" section of docs/benchmarks.md with --write.
import { spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { crdDocuments, DataProtectionAPIVersion, type Backup, type BackupPolicy } from "@dataprotection/api";
import { installCrds, operatorNodeFlags, startControlPlane } from "@dataprotection/testenv";
import { KubeClient, type KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../src/index.ts";

const N = Number(process.env.BENCH_POLICIES ?? 1000);
const TICKS = Number(process.env.BENCH_TICKS ?? 3);
/** The backuppolicy controller's workers; the bare client keeps as many creates in flight (schedule-operator.ts). */
const BARE_IN_FLIGHT = 64;
const GOAL_RATIO = 1.2;
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
  /** GC pauses and work in that window (schedule-operator.ts), all and major. */
  gcMs?: number;
  majorGcMs?: number;
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
  const tickStats = new Map<number, TickStats>();
  /** Starts the driver (schedule-operator.ts) in a mode; resolves once it printed "ready". */
  const startDriver = async (mode: "operator" | "bare"): Promise<{ proc: ReturnType<typeof spawn>; startSeconds: number }> => {
    // The operator with the node flags its image runs it with; the bare client as plain node.
    // Hand-run diagnostics: BENCH_CPU_PROF=DIR, each process writes a V8 CPU profile there;
    // BENCH_OPERATOR_FLAGS="--trace-gc ...", more node flags for the operator only.
    const prof = process.env.BENCH_CPU_PROF ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}/${mode}`] : [];
    const extra = mode === "operator" ? (process.env.BENCH_OPERATOR_FLAGS ?? "").split(/\s+/).filter((f) => f !== "") : [];
    const flags = [...(mode === "operator" ? operatorNodeFlags() : []), ...extra, ...prof];
    const proc = spawn(process.execPath, [...flags, "--import", "tsx", join(dir, "schedule-operator.ts"), cp.kubeconfigPath, ns, mode], { stdio: ["ignore", "pipe", "inherit"] });
    child = proc;
    const ts = performance.now();
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
      proc.once("exit", (code) => reject(new Error(`${mode} driver exited with ${code}`)));
    });
    return { proc, startSeconds: (performance.now() - ts) / 1000 };
  };
  const stopDriver = async (proc: ReturnType<typeof spawn>): Promise<void> => {
    if (proc.exitCode !== null || proc.signalCode !== null) return;
    // Its start's listener would take this exit for a failure.
    proc.removeAllListeners("exit");
    const exited = new Promise<void>((r) => proc.once("exit", () => r()));
    proc.kill("SIGTERM");
    await exited;
  };

  const { proc, startSeconds } = await startDriver("operator");
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

  /** Measures `count` whole ticks of the driver `pid`: from just before the first to when the last tick's Backups are all in. */
  const measure = async (pid: number, count: number) => {
    const firstTick = Math.ceil((Date.now() + 5_000) / 60_000) * 60_000;
    await sleep(firstTick - Date.now() - 2_000);
    const loadBefore = loadavg();
    const before = await procSample(pid);
    const t0 = performance.now();
    const rss: number[] = [];
    const lastTick = firstTick + (count - 1) * 60_000;
    const deadline = lastTick + 30_000;
    while (Date.now() < deadline && (lags.get(lastTick)?.length ?? 0) < N) {
      rss.push((await procSample(pid)).rss);
      await sleep(1000);
    }
    const after = await procSample(pid);
    const ticks = Array.from({ length: count }, (_, i) => firstTick + i * 60_000);
    // The driver reports a tick's creates 25 s after it.
    while (Date.now() < lastTick + 40_000 && ticks.some((t) => !tickStats.has(t))) await sleep(500);
    const wall = (performance.now() - t0) / 1000;
    const loadAfter = loadavg();
    return { ticks, wall, before, after, rss, loadBefore, loadAfter };
  };
  // Rounds: an operator tick, then it stops (it would create the same Backups) and the bare client
  // takes the next tick; then the operator starts again (it finds the bare tick's Backups already
  // there: 409s on a catch-up, between ticks).
  type Measured = Awaited<ReturnType<typeof measure>>;
  const opRounds: Measured[] = [];
  const bareRounds: Measured[] = [];
  const restarts: number[] = [];
  let opProc = proc;
  for (let r = 0; r < TICKS; r++) {
    if (r > 0) {
      const again = await startDriver("operator");
      opProc = again.proc;
      restarts.push(again.startSeconds);
    }
    opRounds.push(await measure(opProc.pid ?? 0, 1));
    await stopDriver(opProc);
    const b = await startDriver("bare");
    bareRounds.push(await measure(b.proc.pid ?? 0, 1));
    await stopDriver(b.proc);
  }
  const merge = (ms: Measured[]) => ({
    ticks: ms.flatMap((m) => m.ticks), wall: ms.reduce((a, m) => a + m.wall, 0), cpu: ms.reduce((a, m) => a + m.after.cpu - m.before.cpu, 0),
    rss: ms.flatMap((m) => [...m.rss, m.after.rss]), loads: ms.map((m) => `${m.loadBefore[0].toFixed(1)}/${m.loadAfter[0].toFixed(1)}`),
  });
  const op = merge(opRounds);
  const bare = merge(bareRounds);
  completing = false;
  await completer;
  abort.abort();
  await watching;

  const mib = (b: number): string => (b / 1024 / 1024).toFixed(0);
  const rowOf = (driver: string, t: number) => {
    const l = (lags.get(t) ?? []).sort((a, b) => a - b);
    const s = tickStats.get(t);
    const sent = (s?.sent ?? []).sort((a, b) => a - b);
    const answered = (s?.answered ?? []).sort((a, b) => a - b);
    const ops = s ? `${sent[0]} | ${pct(sent, 99)} | ${pct(answered, 99)} | ${s.cpuMs} | ${s.gcMs ?? "-"} (${s.majorGcMs ?? "-"})` : "- | - | - | - | -";
    return `| ${driver} | ${new Date(t).toISOString().slice(11, 16)} | ${l.length} | ${pct(l, 50) ?? "-"} | ${pct(l, 99) ?? "-"} | ${l[l.length - 1] ?? "-"} | ${ops} |`;
  };
  const inOrder = [...op.ticks.map((t) => ({ t, driver: "operator" })), ...bare.ticks.map((t) => ({ t, driver: "bare client" }))].sort((a, b) => a.t - b.t);
  const allOf = (ticks: number[]) => ticks.flatMap((t) => lags.get(t) ?? []).sort((a, b) => a - b);
  const opAll = allOf(op.ticks);
  const bareAll = allOf(bare.ticks);
  const allRow = (driver: string, all: number[]) => `| ${driver} | all | ${all.length} | ${pct(all, 50) ?? "-"} | ${pct(all, 99) ?? "-"} | ${all[all.length - 1] ?? "-"} | | | | | |`;
  const load = (m: typeof op) => `1-min load average before/after each tick ${m.loads.join(", ")}`;
  const proc1 = (what: string, m: typeof op) => `${what} processes over their ${m.ticks.length} measured ticks (${m.wall.toFixed(0)} s): CPU ${((m.cpu / m.wall) * 100).toFixed(1)}% of one core (${m.cpu.toFixed(1)} s), RSS mean ${mib(m.rss.reduce((a, b) => a + b, 0) / Math.max(1, m.rss.length))} MiB, max ${mib(Math.max(...m.rss))} MiB`;
  const date = new Date().toISOString().slice(0, 16).replace("T", " ");
  const missing = N * TICKS - opAll.length;
  const bareMissing = N * TICKS - bareAll.length;
  // A tick with Backups missing (policies that skipped it: the previous Backup not yet marked
  // Completed) is a smaller burst: the ratio uses whole ticks only, and says so.
  const whole = (ticks: number[]) => ticks.filter((t) => (lags.get(t)?.length ?? 0) === N);
  const opP99 = pct(allOf(whole(op.ticks)), 99);
  const bareP99 = pct(allOf(whole(bare.ticks)), 99);
  const ratio = opP99 !== undefined && bareP99 ? opP99 / bareP99 : undefined;
  const perTickRatios = op.ticks.map((t) => pct((lags.get(t) ?? []).sort((a, b) => a - b), 99));
  const barePerTick = bare.ticks.map((t) => pct((lags.get(t) ?? []).sort((a, b) => a - b), 99));

  const lines = [
    `\`npm run bench:schedule\` (${N} policies, cron \`* * * * *\`, ${TICKS} rounds of one operator tick then one bare-client tick, private control plane without controller-manager/scheduler), ${date} UTC. Written by the bench; the next run replaces this section.`,
    "",
    `Machine (read by the bench): ${cpus().length} cores shared with other work, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB. Operator ticks: ${load(op)}. Bare-client ticks: ${load(bare)}. Create ${N} policies: ${createSeconds.toFixed(1)} s; operator start to synced: ${startSeconds.toFixed(2)} s (restarts between rounds: ${restarts.map((x) => x.toFixed(2)).join(", ") || "-"} s).`,
    `Lag = time the bench's watch saw the Backup ADDED - the tick (includes watch delivery). The operator runs the backuppolicy controller only, as the admin user (exempt from API Priority and Fairness), with the node flags of the image's entrypoint (${operatorNodeFlags().join(" ") || "none"}).`,
    `The bench marks each Backup Completed (standing in for the Backup controller) ${COMPLETE_AFTER_MS ? `${COMPLETE_AFTER_MS / 1000} s after its tick, outside the measured window` : "as soon as it sees it, inside the measured window"}; backupsHistoryLimit 0, so no pruning.`,
    `Floor, the in-run reference, interleaved: after each operator tick the bench stops the operator and starts the same driver process in "bare" mode (schedule-operator.ts) for the next tick: no operator, one KubeClient, also the admin user, that at the tick creates the same ${N} Backups (the operator's builder and names, one per policy) with ${BARE_IN_FLIGHT} creates in flight (the backuppolicy controller's workers), warmed first as the operator is by its start (it GETs every policy, ${BARE_IN_FLIGHT} in flight, so its connections are open); the same watch measures it; then the operator starts again for the next round (a round may skip a minute when a start is slow).`,
    "",
    "Driver columns: ms after the tick its first Backup create was sent, its p99 create was sent, its p99 create was answered; CPU ms it used from its first create to its last answer (read at most every 20 ms, so to within 20 ms of it); GC ms in that window, V8's garbage collections by their duration (of it major: mark-compact), from a PerformanceObserver in the driver.",
    "",
    "| driver | tick (UTC) | Backups | p50 ms | p99 ms | max ms | first sent | p99 sent | p99 answered | CPU ms | GC ms (major) |",
    "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ...inOrder.map((r) => rowOf(r.driver, r.t)),
    allRow("operator", opAll),
    allRow("bare client", bareAll),
    "",
    `${proc1("Operator", op)}. ${proc1("Bare client", bare)}.`,
    `The bench's watch was resumed ${watchRestarts} times.${missing ? ` ${missing} operator Backups missing at the deadline.` : ""}${bareMissing ? ` ${bareMissing} bare-client Backups missing at the deadline.` : ""}`,
    `Schedule lag p99 over the ticks with all ${N} Backups (operator ${whole(op.ticks).length} of ${TICKS}, bare client ${whole(bare.ticks).length} of ${TICKS}), operator / bare client: ${opP99 ?? "-"} / ${bareP99 ?? "-"} ms = ${ratio !== undefined ? `${ratio.toFixed(2)}x` : "-"} (goal <= ${GOAL_RATIO}: ${ratio === undefined ? "not measured" : ratio <= GOAL_RATIO ? "met" : "not met"}; per-tick p99s ${perTickRatios.join(", ")} against ${barePerTick.join(", ")}). Operator p99 against the absolute goal < 2000 ms: ${opP99 !== undefined && opP99 < 2000 ? "met" : "not met"}.`,
  ];
  const section = `<!-- schedule:begin -->\n## schedule\n\n${lines.join("\n")}\n<!-- schedule:end -->`;
  console.log(section);
  if (process.argv.includes("--write")) {
    const file = join(dir, "../../../docs/benchmarks.md");
    const doc = await readFile(file, "utf8").catch(() => "# Benchmarks\n");
    const re = /<!-- schedule:begin -->[\s\S]*?<!-- schedule:end -->/;
    await writeFile(file, re.test(doc) ? doc.replace(re, () => section) : `${doc.trimEnd()}\n\n${section}\n`);
  }
} finally {
  child?.kill("SIGTERM");
  client.close();
  await cp.stop();
}
