// Builders of the objects the restorejob unit tests feed to the pure functions.
import type { V1Pod, V1StatefulSet } from "@kubernetes/client-node";
import type { Backup, BackupRepo, BackupTool, RestoreJob } from "@dataprotection/api";

const NS = "ns";

export function backup(name: string, o: { type?: "datafile" | "logfile" | "snapshot"; phase?: string; tool?: string; repo?: string; parent?: string; chain?: string[]; start?: string; stop?: string; policy?: string; checksum?: boolean; snapshot?: string; format?: "Agent" | "PlainFiles" | "SealedPlainFiles" } = {}): Backup {
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
    kind: "Backup",
    metadata: { name, namespace: NS, uid: `uid-${name}` },
    spec: { backupPolicyName: o.policy ?? "pol", backupType: o.type ?? "datafile", ...(o.parent ? { parentBackupName: o.parent } : {}) },
    status: {
      phase: (o.phase ?? "Completed") as "Completed",
      backupToolName: o.tool ?? "vol",
      backupRepoName: o.repo ?? "repo",
      ...(o.chain ? { incrementalChain: o.chain } : {}),
      startTimestamp: o.start,
      completionTimestamp: o.stop,
      manifests: {
        ...(o.start || o.stop ? { backupLog: { startTime: o.start, stopTime: o.stop } } : {}),
        ...(o.checksum === false ? {} : { backupTool: { filePath: `/${NS}/${name}`, checksum: "sha256:00", files: [{ name: "dir.dpar" }], backupId: `uid-${name}`, dataFormat: o.format ?? "Agent" } }),
        ...(o.snapshot ? { backupSnapshot: { volumeSnapshotName: o.snapshot } } : {}),
      },
    },
  } as Backup;
}

export function tool(name: string, o: { physical?: string[]; incr?: string[]; logical?: string[]; scope?: "All" | "ReadWrite" } = {}): BackupTool {
  return {
    metadata: { name, uid: `uid-${name}` },
    spec: {
      image: "img", deployKind: "job", type: "file", backupCommands: ["true"],
      env: [{ name: "DATA_DIR", value: "/data" }],
      ...(o.physical ? { physical: { restoreCommands: o.physical, incrementalRestoreCommands: o.incr } } : {}),
      ...(o.logical ? { logical: { restoreCommands: o.logical, incrementalRestoreCommands: o.incr, podScope: o.scope } } : {}),
    },
  } as BackupTool;
}

export function repo(name = "repo"): BackupRepo {
  return { metadata: { name }, spec: { storageProviderRef: "p", pvReclaimPolicy: "Delete" } } as BackupRepo;
}

export function restoreJob(o: { backup?: string; restoreTime?: string; phase?: string; annotations?: Record<string, string>; onFailAttempted?: number; conditions?: Array<{ type: string; status: string; reason: string; lastTransitionTime: string }> } = {}): RestoreJob {
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
    kind: "RestoreJob",
    metadata: { name: "rj", namespace: NS, uid: "uid-rj", generation: 1, annotations: o.annotations },
    spec: {
      backupJobName: o.backup ?? "full",
      target: { labelsSelector: { matchLabels: { app: "db" } }, secret: { name: "db-secret", usernameKey: "user", passwordKey: "pw" } },
      targetVolumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-db-0" } }],
      targetVolumeMounts: [{ name: "data", mountPath: "/data" }],
      ...(o.restoreTime ? { restoreTime: o.restoreTime } : {}),
      ...(o.onFailAttempted !== undefined ? { onFailAttempted: o.onFailAttempted } : {}),
    },
    status: o.phase ? { phase: o.phase as "New", conditions: o.conditions as never } : undefined,
  } as RestoreJob;
}

export function statefulSet(name: string, replicas: number, statusReplicas = replicas): V1StatefulSet {
  return {
    metadata: { name, namespace: NS, uid: `uid-${name}`, labels: { app: "db" } },
    spec: {
      replicas, serviceName: name, selector: { matchLabels: { app: "db" } }, template: {},
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: "fast", resources: { requests: { storage: "2Gi" } } } }],
    },
    status: { replicas: statusReplicas },
  };
}

export function pod(name: string, o: { ready?: boolean; role?: string; ip?: string } = {}): V1Pod {
  const ready = o.ready ?? true;
  return {
    metadata: { name, namespace: NS, labels: { app: "db", ...(o.role ? { "kubeblocks.io/role": o.role } : {}) } },
    spec: {
      nodeName: "node-1",
      containers: [{ name: "db", image: "db", ports: [{ containerPort: 5432 }], volumeMounts: [{ name: "data", mountPath: "/var/lib/db" }, { name: "cfg", mountPath: "/etc/db" }] }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: `data-${name}` } }, { name: "cfg", configMap: { name: "cfg" } }],
    },
    status: { phase: ready ? "Running" : "Pending", podIP: o.ip ?? "10.0.0.1", conditions: [{ type: "Ready", status: ready ? "True" : "False" }] },
  };
}
