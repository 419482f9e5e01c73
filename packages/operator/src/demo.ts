// `npm start` with no cluster: the embedded control plane + local node, the operator,
// and a demo a newcomer can watch (a workload, a default repo, a policy firing every minute).
import { mkdir } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { AnnotationIsDefaultRepo, crdDocuments, DataProtectionAPIVersion, Kinds } from "@dataprotection/api";
import { createOperator, localPvcProvider } from "@dataprotection/controllers";
import { createIfAbsent, KubeClient, type GenericObject, type Kind, type Logger } from "@dataprotection/runtime";
import { installCrds, startControlPlane, startLocalNode } from "@dataprotection/testenv";
import { volumeTool } from "@dataprotection/tools";
import type { KubernetesObject } from "@kubernetes/client-node";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
export const DEMO_NAMESPACE = "demo";

/** The demo's objects in creation order, with the kind descriptor each is created through. */
export function demoObjects(): Array<[Kind, GenericObject]> {
  const ns = DEMO_NAMESPACE;
  const labels = { app: "demo-data" };
  return [
    [Kinds.StorageProvider, localPvcProvider() as unknown as GenericObject],
    [Kinds.BackupRepo, {
      apiVersion: DataProtectionAPIVersion, kind: "BackupRepo",
      metadata: { name: "local", annotations: { [AnnotationIsDefaultRepo]: "true" } },
      spec: { storageProviderRef: "local-pvc", volumeCapacity: "1Gi", pvReclaimPolicy: "Delete" },
    }],
    [Kinds.BackupTool, volumeTool as unknown as GenericObject],
    [Kinds.Namespace, { apiVersion: "v1", kind: "Namespace", metadata: { name: ns } }],
    [Kinds.StatefulSet, {
      apiVersion: "apps/v1", kind: "StatefulSet",
      metadata: { name: "demo-data", namespace: ns, labels },
      spec: {
        replicas: 1, serviceName: "demo-data", selector: { matchLabels: labels },
        template: {
          metadata: { labels },
          spec: {
            containers: [{
              name: "writer", image: "busybox",
              // Appends a line every 5 s so each backup holds more than the last.
              command: ["sh", "-c", "mkdir -p /data && while true; do date -u >> /data/log.txt; sleep 5; done"],
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            }],
          },
        },
        volumeClaimTemplates: [{
          metadata: { name: "data" },
          spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Mi" } } },
        }],
      },
    }],
    [Kinds.BackupPolicy, {
      apiVersion: DataProtectionAPIVersion, kind: "BackupPolicy",
      metadata: { name: "demo-data", namespace: ns },
      spec: {
        retention: { ttl: "1h" },
        schedule: { datafile: { cronExpression: "* * * * *", enable: true } },
        datafile: {
          backupToolName: volumeTool.metadata?.name ?? "volume",
          backupsHistoryLimit: 3,
          target: { labelsSelector: { matchLabels: labels } },
        },
      },
    }],
  ];
}



export async function runEmbeddedDemo(logger: Logger): Promise<void> {
  const kubeconfigPath = resolve(repoRoot, ".dp/kubeconfig");
  await mkdir(dirname(kubeconfigPath), { recursive: true });
  // Tool pods on the local node run on this machine: they find dp-agent on PATH.
  process.env.PATH = `${resolve(repoRoot, "packages/agent/bin")}:${process.env.PATH ?? ""}`;

  console.log("dataprotection: no KUBECONFIG and not in a cluster: starting the embedded control plane ...");
  const cp = await startControlPlane({ kubeconfigPath });
  const node = await startLocalNode(cp, { log: process.env.DP_NODE_LOG ? (m) => console.error(`[node] ${m}`) : undefined });
  await installCrds(cp.kubeConfig, crdDocuments() as KubernetesObject[]);
  const operator = createOperator({ kubeConfig: cp.kubeConfig, logger, healthPort: 0 });
  await operator.start();

  const client = new KubeClient(cp.kubeConfig);
  for (const [kind, obj] of demoObjects()) await createIfAbsent(client, kind, obj);

  const k = `kubectl --kubeconfig ${kubeconfigPath}`;
  console.log(`
dataprotection is running (metrics on http://127.0.0.1:${operator.manager.port}/metrics).

The demo: StatefulSet demo/demo-data writes to its PVC; BackupPolicy demo/demo-data backs it
up every minute into the default BackupRepo "local" and keeps the newest 3 scheduled backups.

  ${k} get backuprepo,backuptool
  ${k} -n demo get backuppolicy
  ${k} -n demo get backups -w                      # a new backup every minute; old ones pruned
  ${k} -n demo describe backup <name>              # status: size, checksum, files, duration
  ${k} -n demo create -f - <<'EOF'                 # an ad-hoc backup
apiVersion: ${DataProtectionAPIVersion}
kind: Backup
metadata: { name: my-backup }
spec: { backupPolicyName: demo-data, backupType: datafile }
EOF

(kubectl is in ${cp.binDir}.) Ctrl-C stops everything.`);

  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    console.log("\ndataprotection: stopping ...");
    await operator.stop();
    console.log("dataprotection: operator stopped; stopping the local node ...");
    await node.stop();
    console.log("dataprotection: local node stopped; stopping the control plane ...");
    await cp.stop();
    process.exit(0);
  };
  process.once("SIGINT", () => void shutdown());
  process.once("SIGTERM", () => void shutdown());
}
