// The operator under test of bench:schedule, in its own process so its CPU and RSS are its
// own: only the backuppolicy controller, real clock, one namespace. Prints "ready" once synced,
// then per tick one line `{"tickStats":...}`: when its Backup creates were sent and answered,
// and the CPU it used from the first create sent to the last answered.
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger, KubeClient, type Kind, type KubeObject } from "@dataprotection/runtime";
import { createOperator } from "../src/index.ts";

const [kubeconfigPath, namespace] = process.argv.slice(2);

/** ms after its tick each Backup create was sent and answered, by tick. */
const creates = new Map<number, { sent: number[]; answered: number[]; cpu: NodeJS.CpuUsage; cpuMs?: number }>();
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
    s.answered.push(Date.now() - tick);
    const used = process.cpuUsage(s.cpu);
    s.cpuMs = Math.round((used.user + used.system) / 1000);
  }
};
setInterval(() => {
  for (const [tick, s] of creates) {
    if (Date.now() - tick < 25_000) continue;
    creates.delete(tick);
    process.stdout.write(`${JSON.stringify({ tickStats: { tick, sent: s.sent, answered: s.answered, cpuMs: s.cpuMs } })}\n`);
  }
}, 1000).unref();

const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(kubeconfigPath);
const logger = createLogger({ level: "error" });
const op = createOperator({ kubeConfig, namespace, logger, controllers: ["backuppolicy"] });
await op.start();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void op.stop().then(() => process.exit(0));
});
