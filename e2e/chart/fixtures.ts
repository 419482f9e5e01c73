// Shared by the chart suites: the real helm against the test control plane, and the release's
// operator pods (which run on the local node as host processes).
import { execFile } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { DataProtectionGroup } from "@dataprotection/api";
import { helmBinary } from "@dataprotection/testenv";

export const chart = resolve(dirname(fileURLToPath(import.meta.url)), "../../charts/dataprotection");
const run = promisify(execFile);

export async function helm(kubeconfig: string, args: string[]): Promise<string> {
  try {
    return (await run(helmBinary(), [...args, "--kubeconfig", kubeconfig], { encoding: "utf8", maxBuffer: 16 << 20 })).stdout;
  } catch (e) {
    const x = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`helm ${args.join(" ")}: ${x.stderr || x.stdout || x.message}`);
  }
}

/** The Running, Ready pods of a release's Deployment. */
export async function operatorPods(kc: KubeConfig, ns: string, release: string): Promise<V1Pod[]> {
  const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns, labelSelector: `app.kubernetes.io/instance=${release}` });
  return pods.items.filter((p) => !p.metadata?.deletionTimestamp && p.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"));
}

/** The host pid of the operator process of pod `podName` (the local node runs it as a host process with POD_NAME set). */
export function operatorPid(podName: string): number | undefined {
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, "utf8");
      if (!cmd.includes("dist/operator.js")) continue;
      if (readFileSync(`/proc/${d}/environ`, "utf8").split("\0").includes(`POD_NAME=${podName}`)) return Number(d);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/** With no operator left to run their finalizers: lets the namespace's Backups go without deleting data. */
export async function releaseBackups(kc: KubeConfig, ns: string): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const list = (await api.listNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns, plural: "backups" })) as { items: Array<{ metadata: { name: string } }> };
  for (const x of list.items) {
    await api.patchNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns, plural: "backups", name: x.metadata.name, body: [{ op: "replace", path: "/metadata/finalizers", value: [] }] }).catch(() => undefined);
  }
}
