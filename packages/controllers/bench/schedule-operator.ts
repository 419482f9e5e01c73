// The driver of bench:schedule, in its own process so its CPU and RSS are its own. Mode
// "operator" (default): the operator under test, only the backuppolicy controller, real clock,
// one namespace. Mode "bare": the floor, no operator: a bare KubeClient that at every minute's
// tick creates the Backups the operator would (the same builder and names, one per policy of
// the namespace) with as many creates in flight as the backuppolicy controller has workers.
// Prints "ready" once synced (bare: once it has listed the policies and read each once, which
// opens its connections as the operator's start does), then per tick one line
// `{"tickStats":...}`: when its Backup creates were sent and answered, and the CPU it used and
// the time V8 spent collecting garbage from the first create sent to the last answered.
import { constants, PerformanceObserver, performance, type PerformanceEntry } from "node:perf_hooks";
import { KubeConfig } from "@kubernetes/client-node";
import type { BackupPolicy } from "@dataprotection/api";
import { createLogger, KubeClient, type Kind, type KubeObject } from "@dataprotection/runtime";
import { createOperator, Kinds } from "../src/index.ts";
import { buildScheduledBackup } from "../src/backuppolicy/backups.ts";
import { backupNameForTick } from "../src/backuppolicy/backup-name.ts";

const [kubeconfigPath, namespace, mode = "operator"] = process.argv.slice(2);
/** The backuppolicy controller's workers (packages/controllers/src/backuppolicy/index.ts): the bare client keeps as many creates in flight. */
const BARE_IN_FLIGHT = 64;

/** The CPU a burst used is read at most this often (see timedCreate). */
const CPU_READ_MS = 20;
/** ms after its tick each Backup create was sent and answered; the CPU used from the first create. */
interface TickCreates {
  sent: number[];
  answered: number[];
  cpu: NodeJS.CpuUsage;
  cpuMs?: number;
  /** When cpuMs was read. */
  cpuAt?: number;
}
const creates = new Map<number, TickCreates>();
const tickOf = (name: string): number | undefined => {
  const m = /-(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(name);
  return m ? Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5]) : undefined;
};
const create = KubeClient.prototype.create;
KubeClient.prototype.create = async function timedCreate<T extends KubeObject>(this: KubeClient, kind: Kind, obj: T): Promise<T> {
  const tick = kind.kind === "Backup" ? tickOf(obj.metadata.name ?? "") : undefined;
  if (tick === undefined) return create.call(this, kind, obj) as Promise<T>;
  const s = creates.get(tick) ?? { sent: [], answered: [], cpu: process.cpuUsage() };
  creates.set(tick, s);
  s.sent.push(Date.now() - tick);
  try {
    return (await create.call(this, kind, obj)) as T;
  } finally {
    const now = Date.now();
    s.answered.push(now - tick);
    // getrusage took ~0.1 ms a call here: read once per answer it was 12-20% of a burst's CPU
    // profile samples in both drivers. Read at most every CPU_READ_MS, the CPU figure ends
    // within that of the last answer.
    if (now - (s.cpuAt ?? 0) >= CPU_READ_MS) {
      const used = process.cpuUsage(s.cpu);
      s.cpuMs = Math.round((used.user + used.system) / 1000);
      s.cpuAt = now;
    }
  }
};
// V8's collections (start in epoch ms, duration, major or not), to tell how much of a burst's
// CPU went to GC; kept for a minute.
const gcs: Array<{ at: number; ms: number; major: boolean }> = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ at: performance.timeOrigin + e.startTime, ms: e.duration, major: (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind === constants.NODE_PERFORMANCE_GC_MAJOR });
  while (gcs.length > 0 && gcs[0]!.at < Date.now() - 60_000) gcs.shift();
}).observe({ entryTypes: ["gc"] });
/** GC ms (all, major) that began from the tick's first create sent to its last answered. */
function gcIn(tick: number, s: TickCreates): { gcMs: number; majorGcMs: number } {
  const from = tick + Math.min(...s.sent);
  const to = tick + Math.max(...s.answered);
  const inside = gcs.filter((g) => g.at >= from && g.at <= to);
  const sum = (xs: typeof gcs): number => Math.round(xs.reduce((a, g) => a + g.ms, 0));
  return { gcMs: sum(inside), majorGcMs: sum(inside.filter((g) => g.major)) };
}
setInterval(() => {
  for (const [tick, s] of creates) {
    if (Date.now() - tick < 25_000) continue;
    creates.delete(tick);
    process.stdout.write(`${JSON.stringify({ tickStats: { tick, sent: s.sent, answered: s.answered, cpuMs: s.cpuMs, ...gcIn(tick, s) } })}\n`);
  }
}, 1000).unref();

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(kubeconfigPath);
if (mode === "bare") {
  const client = new KubeClient(kubeConfig);
  const policies = (await client.list<BackupPolicy & KubeObject>(Kinds.BackupPolicy, { namespace })).items.map((p) => p.metadata.name!);
  const each = async (fn: (policy: string) => Promise<unknown>): Promise<void> => {
    let i = 0;
    await Promise.all(Array.from({ length: BARE_IN_FLIGHT }, async () => {
      while (i < policies.length) {
        const policy = policies[i++]!;
        await fn(policy).catch((e: unknown) => process.stderr.write(`bare ${policy}: ${e instanceof Error ? e.message : String(e)}\n`));
      }
    }));
  };
  // Warm, as the operator is by its start (its informers' list and watches, a status write per
  // policy from 64 workers): the keep-alive pool's connections open and the request path compiled,
  // by reading every policy with as many requests in flight, before any tick.
  await each((policy) => client.get(Kinds.BackupPolicy, policy, namespace));
  const fire = (tick: number): Promise<void> =>
    each((policy) => client.create(Kinds.Backup, buildScheduledBackup({ namespace, name: policy }, "datafile", backupNameForTick(policy, "datafile", new Date(tick)))));
  const next = (): void => {
    const tick = Math.ceil((Date.now() + 1) / 60_000) * 60_000;
    setTimeout(() => {
      void fire(tick);
      next();
    }, tick - Date.now());
  };
  next();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => process.exit(0));
} else {
  const logger = createLogger({ level: "error" });
  const op = createOperator({ kubeConfig, namespace, logger, controllers: ["backuppolicy"] });
  await op.start();
  process.stdout.write("ready\n");
  process.once("SIGTERM", () => {
    void op.stop().then(() => process.exit(0));
  });
}
