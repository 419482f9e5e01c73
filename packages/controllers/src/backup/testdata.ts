// Fixtures for the Backup unit tests: small, valid objects a test row tweaks.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { Backup, BackupPolicy, BackupRepo, BackupTool } from "@dataprotection/api";
import type { BackupDecision } from "./decision.ts";

export const NOW = new Date("2024-05-01T10:00:00Z");

export function backup(over: Partial<Backup["spec"]> = {}, status?: Backup["status"]): Backup {
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup",
    metadata: { name: "b1", namespace: "ns", uid: "uid-b1", generation: 1, creationTimestamp: "2024-05-01T09:59:59Z" },
    spec: { backupPolicyName: "daily", backupType: "datafile", ...over },
    ...(status ? { status } : {}),
  };
}

export function policy(datafile: Record<string, unknown> = {}): BackupPolicy {
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy",
    metadata: { name: "daily", namespace: "ns" },
    spec: { retention: { ttl: "7d" }, datafile: { backupToolName: "volume", backupRepoName: "repo", backupsHistoryLimit: 7, target: { labelsSelector: { matchLabels: { app: "db" } } }, ...datafile } },
  } as unknown as BackupPolicy;
}

export function tool(over: Partial<BackupTool["spec"]> = {}): BackupTool {
  return { apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupTool", metadata: { name: "volume" }, spec: { image: "img", deployKind: "job", type: "file", backupCommands: ["sh", "-c", "x"], ...over } };
}

export function repo(name = "repo", annotations: Record<string, string> = {}): BackupRepo {
  return { apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupRepo", metadata: { name, annotations }, spec: { storageProviderRef: "p", pvReclaimPolicy: "Retain" } };
}

export function pod(name: string, labels: Record<string, string>, phase = "Running"): V1Pod {
  return {
    metadata: { name, namespace: "ns", labels },
    spec: {
      nodeName: "node-1",
      containers: [{ name: "db", image: "pg", ports: [{ containerPort: 5432 }], volumeMounts: [{ name: "data", mountPath: "/data" }, { name: "kube-api-access-x", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }] }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-0" } }, { name: "kube-api-access-x", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } }],
    },
    status: { phase, podIP: "10.0.0.7" },
  };
}

export function job(name: string, condition?: "Complete" | "Failed", created = "2024-05-01T09:59:00Z"): V1Job {
  return {
    metadata: { name, namespace: "ns", creationTimestamp: created as unknown as Date, labels: { "job-name": name } },
    spec: { template: { metadata: { labels: { "job-name": name, "controller-uid": "x" } }, spec: { containers: [{ name: "backup" }] } } },
    status: condition ? { conditions: [{ type: condition, status: "True" }], ...(condition === "Complete" ? { completionTime: "2024-05-01T09:59:40Z" as unknown as Date } : {}) } : {},
  };
}

export function toolPod(message: string | undefined, exitCode = 0): V1Pod {
  return {
    metadata: { name: "b1-backup-1-xyz" },
    status: {
      phase: exitCode === 0 ? "Succeeded" : "Failed",
      containerStatuses: [{ name: "backup", image: "img", imageID: "", ready: false, restartCount: 0, state: { terminated: { exitCode, message, startedAt: "2024-05-01T09:59:10Z" as unknown as Date } } }],
    },
  };
}

/** What a decision writes besides status, in apply order: prerequisites by kind, then "create Job", "patch Job", "delete Job"... */
export function writes(d: BackupDecision): string[] {
  return [
    ...(d.prepare ?? []).map((p) => p.kind),
    ...(d.creates ?? []).map((c) => `create ${c.kind.kind}`),
    ...(d.patches ?? []).map((p) => `patch ${p.kind.kind}`),
    ...(d.deletes ?? []).map((x) => `delete ${x.kind.kind}`),
  ];
}

/** The Jobs a decision creates. */
export function createdJobs(d: BackupDecision): V1Job[] {
  return (d.creates ?? []).filter((c) => c.kind.kind === "Job").map((c) => c.object as V1Job);
}
