// npm run bench:node: what a private root (launch.ts) costs a pod's start. Two local nodes on one
// control plane, one giving containers private roots and one the host's root; pods pinned to
// each in turn (alternating, BENCH_PODS per node, default 30) whose command writes the time it
// ran into a hostPath file. Start latency = that time - the time the create was sent; medians
// and p90 per node and their ratio (goal: private roots at most 1.2x). Writes the "pod-start"
// section of docs/benchmarks.md with --write.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { CoreV1Api } from "@kubernetes/client-node";
import { startControlPlane } from "../src/index.ts";
import { startLocalNode } from "../src/node/start.ts";

const PODS = Number(process.env.BENCH_PODS ?? 30);
const root = join(dirname(fileURLToPath(import.meta.url)), "../../..");
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

const cp = await startControlPlane({ controllerManager: false, scheduler: false });
const nodes = {
  private: await startLocalNode(cp, { name: "bench-private", privateRoots: true }),
  shared: await startLocalNode(cp, { name: "bench-shared", privateRoots: false, storage: false }),
};
const out = await mkdtemp(join(tmpdir(), "pod-start-"));
const core = cp.kubeConfig.makeApiClient(CoreV1Api);
// No controller-manager makes it: the ServiceAccount admission wants the pods' account to exist.
await core.createNamespacedServiceAccount({ namespace: "default", body: { metadata: { name: "default" } } }).catch(() => undefined);
const load0 = loadavg()[0]!;
try {
  const ms: Record<keyof typeof nodes, number[]> = { private: [], shared: [] };
  for (let i = 0; i < PODS; i++) {
    for (const kind of (i % 2 ? ["shared", "private"] : ["private", "shared"]) as Array<keyof typeof nodes>) {
      const name = `${kind}-${i}`;
      const file = join(out, name);
      const sent = Date.now();
      await core.createNamespacedPod({ namespace: "default", body: {
        metadata: { name },
        spec: {
          nodeName: nodes[kind].name, restartPolicy: "Never", automountServiceAccountToken: false,
          volumes: [{ name: "out", hostPath: { path: out } }],
          containers: [{ name: "main", image: "busybox", command: ["sh", "-c", `date +%s%3N > /out/${name}`], volumeMounts: [{ name: "out", mountPath: "/out" }] }],
        },
      } });
      let ran: number | undefined;
      for (const deadline = Date.now() + 60_000; ran === undefined && Date.now() < deadline;) {
        const text = await readFile(file, "utf8").catch(() => "");
        if (/^\d+\n$/.test(text)) ran = Number(text.trim());
        else await new Promise((r) => setTimeout(r, 10));
      }
      if (ran === undefined) throw new Error(`pod ${name} did not run within 60 s`);
      ms[kind].push(ran - sent);
      await core.deleteNamespacedPod({ name, namespace: "default", gracePeriodSeconds: 0 }).catch(() => undefined);
    }
  }
  const f = (x: number) => x.toFixed(0);
  const ratio = (p: number) => pct(ms.private, p) / pct(ms.shared, p);
  const lines = [
    `\`npm run bench:node\`, ${new Date().toISOString().slice(0, 16)}Z: ${PODS} pods per node, created one at a time and alternating between two local nodes on one control plane, one giving each container a private root (a tmpfs upper layer over an overlay of the host's /, then a change of root) and one the host's root. Latency: create sent to the container's command running (it writes the time into a hostPath file).`,
    "",
    `Machine: ${cpus().length} cores, load ${load0.toFixed(1)} at start and ${loadavg()[0]!.toFixed(1)} at the end (read, not typed).`,
    "",
    "| | private roots ms | host root ms | private / host | goal |",
    "|---|---:|---:|---:|---|",
    `| median | ${f(pct(ms.private, 50))} | ${f(pct(ms.shared, 50))} | ${ratio(50).toFixed(2)}x | <= 1.2x: ${ratio(50) <= 1.2 ? "met" : "missed"} |`,
    `| p90 | ${f(pct(ms.private, 90))} | ${f(pct(ms.shared, 90))} | ${ratio(90).toFixed(2)}x | |`,
  ];
  console.log(lines.join("\n"));
  if (process.argv.includes("--write")) {
    const doc = join(root, "docs/benchmarks.md");
    const section = `<!-- pod-start:begin -->\n## local node: pod start with private roots\n\n${lines.join("\n")}\n<!-- pod-start:end -->`;
    const text = await readFile(doc, "utf8");
    const re = /<!-- pod-start:begin -->[\s\S]*?<!-- pod-start:end -->/;
    await writeFile(doc, re.test(text) ? text.replace(re, section) : `${text.trimEnd()}\n\n${section}\n`);
    console.log(`wrote the pod-start section of ${doc}`);
  }
} finally {
  await nodes.private.stop();
  await nodes.shared.stop();
  await cp.stop();
  await rm(out, { recursive: true, force: true });
}
