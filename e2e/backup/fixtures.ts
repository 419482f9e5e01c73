// Shared set-up of the Backup e2e suites: a Mount repo on local-path, the built-in tools,
// a target "database" pod with a data PVC, policies and Backups, and reading results back.
import { BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { DataProtectionGroup, StorageGroup, type Backup, type BackupPolicy, type BackupTool } from "@dataprotection/api";
import { builtinTools } from "@dataprotection/tools";
import { localPvcProvider, s3Provider } from "../../packages/controllers/src/storageprovider/builtin/index.ts";
import { expect } from "chai";
import { getCustom, until } from "../harness.ts";
import { createRestoreJob, createStatefulSet, waitReady, waitRestore } from "../restore/seed.ts";

export const REPO = "e2e-backup-repo";
export const PROVIDER = "e2e-backup-local-pvc";
const V = "v1alpha1";

/**
 * Timeouts short enough for tests; every wait in the operator stays bounded. Each is still long
 * enough for a healthy but busy cluster: a target pod Running in the API server can reach the
 * operator's cache seconds later, and hook / status-update Jobs and VolumeSnapshots wait for the
 * scheduler, PV binding and pod start like the tool pod does (podStartMs). Only targetPodWaitMs
 * is waited out by a test (TargetPodNotFound in failures.test.ts).
 */
export const testTimeouts = { targetPodWaitMs: 20_000, podStartMs: 45_000, snapshotReadyMs: 60_000, hookMs: 60_000 };

async function createIgnoringExists(fn: () => Promise<unknown>): Promise<void> {
  try {
    await fn();
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
  }
}

/** The cluster-scoped objects every suite needs: provider, default-less repo, built-in tools. */
export async function installShared(kc: KubeConfig, extraTools: BackupTool[] = []): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  await createIgnoringExists(() => api.createClusterCustomObject({
    group: StorageGroup, version: V, plural: "storageproviders",
    body: {
      apiVersion: `${StorageGroup}/${V}`, kind: "StorageProvider", metadata: { name: PROVIDER },
      spec: { persistentVolumeClaimTemplate: "spec:\n  storageClassName: local-path\n  accessModes:\n    - ReadWriteOnce\n" },
    },
  }));
  await createIgnoringExists(() => api.createClusterCustomObject({
    group: DataProtectionGroup, version: V, plural: "backuprepos",
    body: { apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name: REPO }, spec: { storageProviderRef: PROVIDER, volumeCapacity: "1Gi", pvReclaimPolicy: "Delete", accessMethod: "Mount" } },
  }));
  for (const t of [...builtinTools, ...extraTools]) {
    await createIgnoringExists(() => api.createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuptools", body: t }));
  }
}

export function tool(name: string, backupCommands: string[], extra: Partial<BackupTool["spec"]> = {}): BackupTool {
  return { apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool", metadata: { name }, spec: { image: "busybox", deployKind: "job", type: "file", backupCommands, ...extra } };
}

/**
 * An encrypted filesystem repo `name` (its key Secret `<name>-key` in default, its provider
 * `<name>-pvc`) plus any extra spec, waited until Ready (the backuprepo and storageprovider
 * controllers must run). Returns what removes them.
 */
export async function createEncryptedRepo(kc: KubeConfig, name: string, extra: Record<string, unknown> = {}): Promise<() => Promise<void>> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  const key = `${name}-key`;
  const provider = `${name}-pvc`;
  await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: key }, stringData: { passphrase: `${name} long passphrase` } } });
  await api.createClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", body: localPvcProvider(provider) });
  await api.createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name },
    spec: { storageProviderRef: provider, pvReclaimPolicy: "Delete", volumeCapacity: "1Gi", encryption: { keySecretRef: { name: key, namespace: "default", key: "passphrase" } }, ...extra },
  } });
  await until(`BackupRepo ${name} Ready`, async () => ((await getCustom<{ status?: { phase?: string } }>(kc, DataProtectionGroup, "backuprepos", undefined, name))?.status?.phase === "Ready" ? true : undefined), 120_000, 500);
  return async () => {
    await api.deleteClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", name }).catch(() => undefined);
    await api.deleteClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", name: provider }).catch(() => undefined);
    await core.deleteNamespacedSecret({ name: key, namespace: "default" }).catch(() => undefined);
  };
}

/**
 * An encrypted S3 repo `name` on a bucket of a running S3 server (its credential `<name>-cred`
 * and key `<name>-key` in default, its provider `<name>-s3`), admitting the namespaces with
 * `tenant` labels when given, waited until Ready. Returns what removes them.
 */
export async function createEncryptedS3Repo(kc: KubeConfig, name: string, s3: { endpoint: string; accessKeyId: string; secretAccessKey: string }, bucket: string, tenant?: Record<string, string>): Promise<() => Promise<void>> {
  const api = kc.makeApiClient(CustomObjectsApi);
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: `${name}-cred` }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
  await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: `${name}-key` }, stringData: { passphrase: `${name} long passphrase` } } });
  await api.createClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", body: s3Provider(`${name}-s3`) });
  await api.createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name },
    spec: {
      storageProviderRef: `${name}-s3`, accessMethod: "Tool", pvReclaimPolicy: "Retain", ...(tenant ? { namespaceSelector: { matchLabels: tenant } } : {}),
      config: { bucket, endpoint: s3.endpoint, forcePathStyle: "true" }, credential: { name: `${name}-cred`, namespace: "default" },
      encryption: { keySecretRef: { name: `${name}-key`, namespace: "default", key: "passphrase" } },
    },
  } });
  await until(`BackupRepo ${name} Ready`, async () => {
    const r = await getCustom<{ status?: { phase?: string; failureReason?: string } }>(kc, DataProtectionGroup, "backuprepos", undefined, name);
    if (r?.status?.phase === "Failed") throw new Error(`BackupRepo ${name} Failed: ${r.status.failureReason}`);
    return r?.status?.phase === "Ready" ? true : undefined;
  }, 120_000, 500);
  return async () => {
    await api.deleteClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", name }).catch(() => undefined);
    await api.deleteClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", name: `${name}-s3` }).catch(() => undefined);
    for (const s of [`${name}-cred`, `${name}-key`]) await core.deleteNamespacedSecret({ name: s, namespace: "default" }).catch(() => undefined);
  };
}

/** Adds `labels` to namespace `name` (what a repo's namespaceSelector matches). */
export async function setNamespaceLabels(kc: KubeConfig, name: string, labels: Record<string, string>): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const ns = await core.readNamespace({ name });
  ns.metadata!.labels = { ...ns.metadata!.labels, ...labels };
  await core.replaceNamespace({ name, body: ns });
}

/** A Job that runs `script` with the PVC `claim` at /data, waited until Complete. */
export async function runJob(kc: KubeConfig, ns: string, name: string, script: string, volumes: Array<{ claim: string; path: string }>, env: Array<{ name: string; value: string }> = []): Promise<V1Pod> {
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const job: V1Job = {
    metadata: { name },
    spec: {
      backoffLimit: 0,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "main", image: "busybox", command: ["sh", "-c", script], env, volumeMounts: volumes.map((v, i) => ({ name: `v${i}`, mountPath: v.path })) }],
          volumes: volumes.map((v, i) => ({ name: `v${i}`, persistentVolumeClaim: { claimName: v.claim } })),
        },
      },
    },
  };
  await batch.createNamespacedJob({ namespace: ns, body: job });
  return until(`Job ${ns}/${name} complete`, async () => {
    const j = await batch.readNamespacedJob({ name, namespace: ns });
    const failed = j.status?.conditions?.find((c) => c.type === "Failed" && c.status === "True");
    const pods = await core.listNamespacedPod({ namespace: ns, labelSelector: `job-name=${name}` });
    if (failed) throw new Error(`Job ${name} failed: ${JSON.stringify(pods.items[0]?.status?.containerStatuses?.[0]?.state)}`);
    return j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True") ? pods.items[0] : undefined;
  }, 90_000);
}

export async function createPVC(kc: KubeConfig, ns: string, name: string, labels: Record<string, string> = {}): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: { metadata: { name, labels }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Mi" } } } } });
}

/** A "database" pod labelled app=db with the PVC `data` at /data, Running. */
export async function startTargetPod(kc: KubeConfig, ns: string, name = "db-0", labels: Record<string, string> = { app: "db" }, claim = "data"): Promise<V1Pod> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({
    namespace: ns,
    body: {
      metadata: { name, labels },
      spec: {
        containers: [{ name: "db", image: "postgres:14", command: ["sh", "-c", "exec sleep 100000"], ports: [{ containerPort: 5432 }], volumeMounts: [{ name: "data", mountPath: "/data" }] }],
        volumes: [{ name: "data", persistentVolumeClaim: { claimName: claim } }],
        terminationGracePeriodSeconds: 1,
      },
    },
  });
  return until(`pod ${ns}/${name} Running`, async () => {
    const p = await core.readNamespacedPod({ name, namespace: ns });
    return p.status?.phase === "Running" ? p : undefined;
  }, 60_000);
}

export async function createPolicy(kc: KubeConfig, ns: string, name: string, spec: BackupPolicy["spec"]): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  await api.createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns, plural: "backuppolicies", body: { apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupPolicy", metadata: { name }, spec } });
}

export function datafilePolicy(toolName: string, extra: Record<string, unknown> = {}): BackupPolicy["spec"] {
  return {
    retention: { ttl: "7d" },
    datafile: { backupToolName: toolName, backupRepoName: REPO, backupsHistoryLimit: 7, target: { labelsSelector: { matchLabels: { app: "db" } } }, ...extra },
  } as BackupPolicy["spec"];
}

export async function createBackup(kc: KubeConfig, ns: string, name: string, policy: string, extra: Partial<Backup["spec"]> = {}, labels: Record<string, string> = {}): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  await api.createNamespacedCustomObject({
    group: DataProtectionGroup, version: V, namespace: ns, plural: "backups",
    body: { apiVersion: `${DataProtectionGroup}/${V}`, kind: "Backup", metadata: { name, labels }, spec: { backupPolicyName: policy, backupType: "datafile", ...extra } },
  });
}

export async function deleteBackup(kc: KubeConfig, ns: string, name: string): Promise<void> {
  const api = kc.makeApiClient(CustomObjectsApi);
  await api.deleteNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns, plural: "backups", name });
}

export function getBackup(kc: KubeConfig, ns: string, name: string): Promise<Backup | undefined> {
  return getCustom<Backup>(kc, DataProtectionGroup, "backups", ns, name);
}

/** Waits for the Backup to reach one of `phases` and returns it. */
export function backupInPhase(kc: KubeConfig, ns: string, name: string, phases: string[], timeoutMs = 90_000): Promise<Backup> {
  return until(`Backup ${ns}/${name} in ${phases.join("|")}`, async () => {
    const b = await getBackup(kc, ns, name);
    if (b?.status?.phase && phases.includes(b.status.phase)) return b;
    if (b?.status?.phase === "Failed" && !phases.includes("Failed")) throw new Error(`Backup failed: ${b.status.failureReason}`);
    return undefined;
  }, timeoutMs, 300);
}

/** Host directory of a bound PVC (local-path PVs are hostPath). */
export async function hostPathOf(kc: KubeConfig, ns: string, claim: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const pvc = await until(`PVC ${ns}/${claim} bound`, async () => {
    const c = await core.readNamespacedPersistentVolumeClaim({ name: claim, namespace: ns });
    return c.spec?.volumeName ? c : undefined;
  });
  const pv = await core.readPersistentVolume({ name: pvc.spec!.volumeName! });
  return pv.spec!.hostPath!.path;
}

/** Every regular file under dir (relative path -> bytes). */
export async function readTree(dir: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.set(p, await readFile(join(dir, p)));
    }
  };
  await walk("");
  return out;
}

/**
 * A physical RestoreJob of `backup` into a fresh one-replica StatefulSet "restored" (claim
 * data-restored-0); checks it verified and completed, and that the restored claim holds exactly
 * the files of PVC `source` (`count` of them), byte for byte.
 */
export async function expectRestoredTree(kc: KubeConfig, ns: string, backup: string, source: string, count: number): Promise<void> {
  await createStatefulSet(kc, ns, "restored", 1, { app: "restored" });
  await waitReady(kc, ns, "restored", 1);
  await createRestoreJob(kc, ns, `from-${backup}`, { backupJobName: backup, labels: { app: "restored" }, claim: "data-restored-0" });
  const rj = await waitRestore(kc, ns, `from-${backup}`, "Completed");
  expect(rj.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");
  const want = await readTree(await hostPathOf(kc, ns, source));
  const got = await readTree(await hostPathOf(kc, ns, "data-restored-0"));
  expect(want.size).to.equal(count);
  expect([...got.keys()].sort()).to.deep.equal([...want.keys()].sort());
  for (const [k, v] of want) expect(got.get(k)!.equals(v), k).to.equal(true);
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

export async function jobsOf(kc: KubeConfig, ns: string, backup: string): Promise<V1Job[]> {
  const batch = kc.makeApiClient(BatchV1Api);
  const list = await batch.listNamespacedJob({ namespace: ns, labelSelector: `dataprotection.kubeblocks.io/backup-name=${backup},dataprotection.kubeblocks.io/job-role=tool` });
  return list.items;
}

/** Seeds /data of PVC `data` with `count` files of varied sizes in nested directories. */
export const seedScript = (count: number) =>
  `i=0; while [ $i -lt ${count} ]; do d=/data/dir$((i % 10)); mkdir -p $d; head -c $(( (i * 37) % 3000 + 1 )) /dev/urandom > $d/file-$i.bin; i=$((i + 1)); done; echo seeded`;
