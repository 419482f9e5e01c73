// Helpers shared by the operator's benches (bench:scale, bench:noop): a bounded pool,
// percentiles, /proc samples, the machine's facts as read (never typed), a child process's stop,
// the operator as shipped and its own ServiceAccount identity, and writing one marked section of
// docs/benchmarks.md. (bench:schedule in packages/controllers keeps its own few helpers: the
// layering rule in eslint.config.js keeps packages from importing each other's files.)
import type { ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from "@kubernetes/client-node";
import { operatorNodeFlags } from "@dataprotection/testenv";

/** The repository's root. */
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "../../..");

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `get` every 250 ms (a rejection counts as not yet) until it returns a value; throws after `timeoutMs`. */
export async function until<T>(what: string, get: () => Promise<T | undefined>, timeoutMs = 120_000): Promise<T> {
  const t0 = performance.now();
  for (;;) {
    const v = await get().catch(() => undefined);
    if (v !== undefined) return v;
    if (performance.now() - t0 > timeoutMs) throw new Error(`${what}: not within ${timeoutMs / 1000} s`);
    await sleep(250);
  }
}
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/** The p-th percentile of an ascending array (undefined when empty). */
export const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;

/** Runs fn over items with at most n in flight. */
export async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (i < items.length) await fn(items[i++]!);
  }));
}

/** VmRSS, VmHWM (peak resident) in bytes and utime+stime in seconds, from /proc. */
export function procStatus(pid: number): { rss: number; hwm: number; cpu: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kb = (field: string): number => Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1] ?? 0) * 1024;
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return { rss: kb("VmRSS"), hwm: kb("VmHWM"), cpu: (Number(stat[11]) + Number(stat[12])) / 100 };
}

/** The 1/5/15-minute load averages, as "2.1 2.7 3.8". */
export const loadNow = (): string => loadavg().map((x) => x.toFixed(1)).join(" ");

/** Cores and memory, read from the machine. */
export const machineFacts = (): string => `${cpus().length} cores (${cpus()[0]?.model.trim() ?? "unknown CPU"}) shared with other work, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB`;

/** SIGTERM, resolved once the child has exited. */
export function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  child.kill("SIGTERM");
  return exited;
}

/** The operator as shipped (the compiled bundle), or its sources through tsx when no bundle was built; `what` says which. */
export function operatorProgram(): { what: string; args: string[] } {
  const bundle = join(repoRoot, "packages/operator/dist/operator.js");
  const flags = operatorNodeFlags();
  return existsSync(bundle)
    ? { what: `packages/operator/dist/operator.js (compiled bundle${flags.length ? `, node ${flags.join(" ")} as the image runs it` : ""})`, args: [...flags, bundle] }
    : { what: "packages/operator/src/main.ts through tsx (no bundle: run npm run build)", args: ["--import", `file://${join(repoRoot, "node_modules/tsx/dist/loader.mjs")}`, join(repoRoot, "packages/operator/src/main.ts")] };
}

export const OPERATOR_SA = { namespace: "dataprotection-system", name: "dataprotection-operator" } as const;
/** The operator's username in the API server's eyes (audit log, API Priority and Fairness). */
export const OPERATOR_USER = `system:serviceaccount:${OPERATOR_SA.namespace}:${OPERATOR_SA.name}`;

/**
 * An identity of its own for the operator: a ServiceAccount bound to cluster-admin (the chart's
 * narrower RBAC lives in another layer), so its requests go through API Priority and Fairness as a
 * ServiceAccount's do in a cluster, and the audit log tells them from the bench's (the admin's).
 * Returns the path of its kubeconfig, in the control plane's directory (removed with it).
 */
export async function operatorIdentity(admin: KubeConfig, cpDir: string): Promise<string> {
  const { namespace, name } = OPERATOR_SA;
  const core = admin.makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name: namespace } } });
  await core.createNamespacedServiceAccount({ namespace, body: { metadata: { name } } });
  await admin.makeApiClient(RbacAuthorizationV1Api).createClusterRoleBinding({ body: {
    metadata: { name: `${name}-bench` }, roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: "cluster-admin" },
    subjects: [{ kind: "ServiceAccount", name, namespace }],
  } });
  const tr = await core.createNamespacedServiceAccountToken({ name, namespace, body: { spec: { audiences: [], expirationSeconds: 6 * 3600 } } });
  const cluster = admin.getCurrentCluster()!;
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "bench", server: cluster.server, caData: cluster.caData, caFile: cluster.caFile }],
    users: [{ name, token: tr.status!.token }],
    contexts: [{ name, cluster: "bench", user: name }],
    currentContext: name,
  });
  const path = join(mkdtempSync(join(cpDir, "operator-")), "kubeconfig");
  writeFileSync(path, kc.exportConfig(), { mode: 0o600 });
  return path;
}

/** Replaces (or appends) the `<!-- marker:begin -->` … `<!-- marker:end -->` section of docs/benchmarks.md. */
export async function writeDocSection(marker: string, section: string): Promise<string> {
  const file = join(repoRoot, "docs/benchmarks.md");
  const doc = await readFile(file, "utf8").catch(() => "# Benchmarks\n");
  const re = new RegExp(`<!-- ${marker}:begin -->[\\s\\S]*?<!-- ${marker}:end -->`);
  await writeFile(file, re.test(doc) ? doc.replace(re, () => section) : `${doc.trimEnd()}\n\n${section}\n`);
  return file;
}
