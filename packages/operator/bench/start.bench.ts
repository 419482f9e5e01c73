// npm run bench:start: the operator program from its compiled bundle (dist/operator.js, what the
// image and the chart run) against the same program through tsx, in the same run, on the same
// private control plane: time from spawn to /readyz answering 200 (every informer synced) and
// resident memory 3 s after that, idle and with 1,000 Backups in the cache. Three runs of each,
// alternating; medians. Writes the "operator-start" section of docs/benchmarks.md with --write.
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CustomObjectsApi } from "@kubernetes/client-node";
import { crdDocuments, DataProtectionGroup, Finalizer } from "@dataprotection/api";
import { freePort, installCrds, startControlPlane } from "@dataprotection/testenv";

const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const BUNDLE = join(root, "packages/operator/dist/operator.js");
const RUNS = 3;
const BACKUPS = 1000;
if (!existsSync(BUNDLE)) throw new Error(`${BUNDLE} missing: run npm run build`);

const paths = {
  compiled: [BUNDLE],
  tsx: ["--import", `file://${join(root, "node_modules/tsx/dist/loader.mjs")}`, join(root, "packages/operator/src/main.ts")],
} as const;
type Path = keyof typeof paths;


const rssMiB = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))![1]) / 1024;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function startOnce(path: Path, kubeconfig: string): Promise<{ readySeconds: number; rss: number }> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, paths[path], {
    env: { ...process.env, KUBECONFIG: kubeconfig, DP_METRICS_PORT: String(port), POD_NAMESPACE: "default", DP_LOG_LEVEL: "warn" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`operator (${path}) exited ${child.exitCode}: ${stderr}`);
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      if (performance.now() - t0 > 120_000) throw new Error(`operator (${path}) not ready in 120 s: ${stderr}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    const readySeconds = (performance.now() - t0) / 1000;
    await new Promise((r) => setTimeout(r, 3000));
    return { readySeconds, rss: rssMiB(child.pid!) };
  } finally {
    child.kill("SIGTERM");
    await new Promise((r) => child.once("exit", r));
  }
}

async function measure(kubeconfig: string): Promise<Record<Path, { readySeconds: number; rss: number }>> {
  const runs: Record<Path, Array<{ readySeconds: number; rss: number }>> = { compiled: [], tsx: [] };
  for (let i = 0; i < RUNS; i++) for (const p of ["compiled", "tsx"] as const) runs[p].push(await startOnce(p, kubeconfig));
  const m = (p: Path) => ({ readySeconds: median(runs[p].map((r) => r.readySeconds)), rss: median(runs[p].map((r) => r.rss)) });
  return { compiled: m("compiled"), tsx: m("tsx") };
}

const cp = await startControlPlane();
try {
  await installCrds(cp.kubeConfig, crdDocuments() as never);
  const idle = await measure(cp.kubeconfigPath);
  // Completed Backups with their finalizer, as an operator leaves them: loaded into the cache at start.
  const api = cp.kubeConfig.makeApiClient(CustomObjectsApi);
  const body = (i: number) => ({
    apiVersion: `${DataProtectionGroup}/v1alpha1`, kind: "Backup",
    metadata: { name: `b-${String(i).padStart(4, "0")}`, finalizers: [Finalizer], labels: { "dataprotection.kubeblocks.io/backup-policy": "daily" } },
    spec: { backupPolicyName: "daily", backupType: "datafile" },
  });
  for (let i = 0; i < BACKUPS; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, BACKUPS - i) }, async (_, j) => {
      const b = (await api.createNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: "default", plural: "backups", body: body(i + j) })) as { metadata: object };
      await api.replaceNamespacedCustomObjectStatus({ group: DataProtectionGroup, version: "v1alpha1", namespace: "default", plural: "backups", name: body(i + j).metadata.name, body: { ...b, status: { phase: "Completed", backupToolName: "volume", totalSize: "1Mi" } } });
    }));
  }
  const loaded = await measure(cp.kubeconfigPath);

  const f = (x: number, d = 2) => x.toFixed(d);
  const row = (what: string, r: Record<Path, { readySeconds: number; rss: number }>) =>
    `| ${what} | ${f(r.compiled.readySeconds)} | ${f(r.tsx.readySeconds)} | ${f(r.compiled.readySeconds / r.tsx.readySeconds)}x | ${f(r.compiled.rss, 0)} | ${f(r.tsx.rss, 0)} | ${f(r.compiled.rss / r.tsx.rss)}x |`;
  const lines = [
    `\`npm run bench:start\`, ${new Date().toISOString().slice(0, 10)}: the operator program (every controller and the 3scale plugin) started ${RUNS} times per path, alternating, against a private control plane; medians.`,
    "",
    `Machine: ${cpus().length} cores, load ${loadavg()[0]!.toFixed(1)} when written. "Ready" is spawn to the first 200 from /readyz (every informer synced); RSS is VmRSS 3 s after ready.`,
    "",
    "| cache | compiled: ready s | tsx: ready s | compiled/tsx | compiled: RSS MiB | tsx: RSS MiB | compiled/tsx |",
    "|---|---:|---:|---:|---:|---:|---:|",
    row("idle (no objects)", idle),
    row(`${BACKUPS.toLocaleString("en")} Backups`, loaded),
  ];
  console.log(lines.join("\n"));
  if (process.argv.includes("--write")) {
    const file = join(root, "docs/benchmarks.md");
    const section = `<!-- operator-start:begin -->\n## operator start (compiled against tsx)\n\n${lines.join("\n")}\n<!-- operator-start:end -->`;
    const doc = await readFile(file, "utf8");
    const re = /<!-- operator-start:begin -->[\s\S]*?<!-- operator-start:end -->/;
    await writeFile(file, re.test(doc) ? doc.replace(re, section) : `${doc.trimEnd()}\n\n${section}\n`);
    console.log(`wrote the operator-start section of ${file}`);
  }
} finally {
  await cp.stop();
}
