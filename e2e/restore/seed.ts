// Seeding for the restore suites, independent of the Backup controller: a repo PVC, tools,
// a policy, Completed Backups whose data dp-agent wrote straight into the repo's host
// directory, and small StatefulSets whose PVC directories the tests read and write.
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1StatefulSet } from "@kubernetes/client-node";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync, lstatSync, readlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataProtectionGroup, StorageGroup, type BackupStatus, type BackupToolSpec, type RestoreJob } from "@dataprotection/api";
import { getCustom, until, untilInNamespace } from "../harness.ts";

const V = "v1alpha1";

export interface Repo {
  name: string;
  /** The repo PVC's directory on the host (what tool pods see at /backupdata). */
  hostPath: string;
}

/** The host directory behind a bound PVC. */
export async function pvcHostPath(kc: KubeConfig, ns: string, claim: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const pvName = await until(`PVC ${ns}/${claim} bound`, async () => {
    const pvc = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns });
    return pvc.status?.phase === "Bound" ? pvc.spec?.volumeName : undefined;
  }, 60_000);
  const pv = await core.readPersistentVolume({ name: pvName });
  return pv.spec!.hostPath!.path;
}

/** A BackupRepo named after the namespace, with its per-namespace PVC created up front. */
export async function createRepo(kc: KubeConfig, ns: string): Promise<Repo> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const name = `repo-${ns}`;
  // The PVC below exists already, so the provider's templates are never rendered.
  await custom.createClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", body: {
    apiVersion: `${StorageGroup}/${V}`, kind: "StorageProvider", metadata: { name }, spec: {},
  } });
  await custom.createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name }, spec: { storageProviderRef: name, pvReclaimPolicy: "Delete" },
  } });
  const claim = `dp-backup-${name}`;
  await kc.makeApiClient(CoreV1Api).createNamespacedPersistentVolumeClaim({ namespace: ns, body: {
    metadata: { name: claim }, spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "1Gi" } } },
  } });
  return { name, hostPath: await pvcHostPath(kc, ns, claim) };
}

export async function createTool(kc: KubeConfig, name: string, spec: Partial<BackupToolSpec>): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuptools", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool", metadata: { name },
    spec: { image: "busybox", deployKind: "job", backupCommands: ["dp-agent push-dir \"$DATA_DIR\""], ...spec },
  } });
}

export async function createPolicy(kc: KubeConfig, ns: string, name: string, tool: string, repo: string, labels: Record<string, string>): Promise<void> {
  const common = { target: { labelsSelector: { matchLabels: labels } }, backupToolName: tool, backupRepoName: repo };
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns, plural: "backuppolicies", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupPolicy", metadata: { name }, spec: { datafile: common, logfile: common },
  } });
}

/** Deletes the cluster-scoped objects a suite created. */
export async function deleteClusterObjects(kc: KubeConfig, repos: string[], tools: string[]): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const del = (plural: string, name: string) => custom.deleteClusterCustomObject({ group: DataProtectionGroup, version: V, plural, name }).catch(() => undefined);
  await Promise.all([...repos.map((n) => del("backuprepos", n)), ...tools.map((n) => del("backuptools", n))]);
  await Promise.all(repos.map((name) => custom.deleteClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", name }).catch(() => undefined)));
}

/** Runs dp-agent on the host against the repo directory, as a tool pod would. */
export function agent(repo: Repo, backupPath: string, args: string[], input?: Buffer | string): string {
  const dir = mkdtempSync(join(tmpdir(), "dp-seed-"));
  try {
    const term = join(dir, "termination");
    execFileSync("dp-agent", args, {
      input,
      env: { ...process.env, DP_REPO_KIND: "filesystem", DP_REPO_PATH: repo.hostPath, DP_BACKUP_PATH: backupPath, DP_TERMINATION_MESSAGE_PATH: term, DP_COMPRESSION_THREADS: "1" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    try {
      return readFileSync(term, "utf8");
    } catch {
      return "";
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface SeedBackup {
  name: string;
  policy: string;
  tool: string;
  repo: Repo;
  type?: "datafile" | "logfile" | "snapshot";
  parent?: string;
  incrementalChain?: string[];
  /** Writes the data: called with the backup's path in the repo. */
  write?: (backupPath: string) => string;
  startTime?: string;
  stopTime?: string;
  status?: Partial<BackupStatus>;
}

/** Creates a Backup and sets it Completed through the status subresource, as the Backup controller would. */
export async function seedBackup(kc: KubeConfig, ns: string, s: SeedBackup): Promise<void> {
  const custom = kc.makeApiClient(CustomObjectsApi);
  const spec: Record<string, unknown> = { backupPolicyName: s.policy, backupType: s.type ?? "datafile" };
  if (s.parent) spec.parentBackupName = s.parent;
  const created = (await custom.createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns, plural: "backups", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "Backup", metadata: { name: s.name }, spec,
  } })) as { metadata: { resourceVersion: string } };
  const backupPath = `${ns}/${s.name}`;
  const report = s.write ? s.write(backupPath) : "";
  const r = report ? (JSON.parse(report) as { checksum: string; files: ({ name: string } | string)[]; totalSize: number }) : undefined;
  const start = s.startTime ?? new Date().toISOString();
  const stop = s.stopTime ?? new Date().toISOString();
  const status: BackupStatus = {
    phase: "Completed",
    backupToolName: s.tool,
    backupRepoName: s.repo.name,
    startTimestamp: start,
    completionTimestamp: stop,
    ...(s.incrementalChain ? { incrementalChain: s.incrementalChain, parentBackupName: s.parent } : {}),
    manifests: {
      backupLog: { startTime: start, stopTime: stop },
      ...(r ? { backupTool: { filePath: `/${backupPath}`, checksum: r.checksum, files: r.files.map((f) => ({ name: typeof f === "string" ? f : f.name })), dataFormat: "Agent" } } : {}),
    },
    ...s.status,
  };
  await custom.replaceNamespacedCustomObjectStatus({ group: DataProtectionGroup, version: V, namespace: ns, plural: "backups", name: s.name, body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "Backup", metadata: { name: s.name, namespace: ns, resourceVersion: created.metadata.resourceVersion }, spec, status,
  } });
}

/** A StatefulSet whose pods idle with a 1Mi PVC "data" at /data. */
export async function createStatefulSet(kc: KubeConfig, ns: string, name: string, replicas: number, labels: Record<string, string>, port?: number): Promise<V1StatefulSet> {
  return kc.makeApiClient(AppsV1Api).createNamespacedStatefulSet({ namespace: ns, body: {
    metadata: { name, labels },
    spec: {
      replicas,
      serviceName: name,
      selector: { matchLabels: labels },
      template: {
        metadata: { labels },
        spec: { containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "sleep 3600"], ports: port ? [{ containerPort: port }] : undefined, volumeMounts: [{ name: "data", mountPath: "/data" }] }], terminationGracePeriodSeconds: 1 },
      },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Mi" } } } }],
    },
  } });
}

/** Waits until the StatefulSet wants `replicas` and that many of its pods are ready. */
export async function waitReady(kc: KubeConfig, ns: string, name: string, replicas: number): Promise<V1StatefulSet> {
  const apps = kc.makeApiClient(AppsV1Api);
  return untilInNamespace(kc, ns, `StatefulSet ${ns}/${name} at ${replicas} ready replicas`, async () => {
    const s = await apps.readNamespacedStatefulSet({ name, namespace: ns });
    return s.spec?.replicas === replicas && (s.status?.readyReplicas ?? 0) === replicas ? s : undefined;
  }, 180_000);
}

/** Every file under dir (relative path -> sha256, "->target" for symlinks), for byte-exact comparisons. */
export function treeDigest(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(dir, rel))) {
      const r = rel ? `${rel}/${e}` : e;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else if (st.isSymbolicLink()) out[r] = `->${readlinkSync(join(dir, r))}`;
      else out[r] = createHash("sha256").update(readFileSync(join(dir, r))).digest("hex");
    }
  };
  walk("");
  return out;
}

export interface RestoreJobSpecInput {
  backupJobName: string;
  labels: Record<string, string>;
  claim?: string;
  restoreTime?: string;
  onFailAttempted?: number;
  /** Secret with keys username/password for DB_USER/DB_PASSWORD. */
  secret?: string;
}

/** Waits until the RestoreJob reaches `phase`; fails at once on the other terminal phase, with its reason. */
export async function waitRestore(kc: KubeConfig, ns: string, name: string, phase: "Completed" | "Failed"): Promise<RestoreJob> {
  return untilInNamespace(kc, ns, `RestoreJob ${ns}/${name} ${phase}`, async () => {
    const rj = await getCustom<RestoreJob>(kc, DataProtectionGroup, "restorejobs", ns, name);
    const p = rj?.status?.phase;
    if (p !== "Completed" && p !== "Failed") throw new Error(`still ${p ?? "unset"}: ${JSON.stringify(rj?.status?.conditions ?? [])}`);
    if (p !== phase) throw new Error(`RestoreJob ${name} is ${p}: ${rj?.status?.failureReason ?? ""}`);
    return rj;
  }, 150_000, 500);
}

export async function createRestoreJob(kc: KubeConfig, ns: string, name: string, i: RestoreJobSpecInput): Promise<void> {
  const spec: Record<string, unknown> = {
    backupJobName: i.backupJobName,
    target: { labelsSelector: { matchLabels: i.labels }, ...(i.secret ? { secret: { name: i.secret, usernameKey: "username", passwordKey: "password" } } : {}) },
    targetVolumes: i.claim ? [{ name: "data", persistentVolumeClaim: { claimName: i.claim } }] : [],
    targetVolumeMounts: i.claim ? [{ name: "data", mountPath: "/data" }] : [],
  };
  if (i.restoreTime) spec.restoreTime = i.restoreTime;
  if (i.onFailAttempted !== undefined) spec.onFailAttempted = i.onFailAttempted;
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns, plural: "restorejobs", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "RestoreJob", metadata: { name }, spec,
  } });
}
