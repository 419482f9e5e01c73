// 3scale e2e set-up: the APIManager test CRD (real shape), a stand-in 3scale operator that
// reports deployments ready and owns a system-sidekiq Deployment whose `bundle` records the
// routes resync, a seeded 3scale namespace, and comparisons modulo the stripped fields.
import { CoreV1Api, CustomObjectsApi, type KubeConfig, type V1ConfigMap, type V1Secret } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { chmod, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { DataProtectionAPIVersion, type BackupRepo } from "@dataprotection/api";
import { Kinds } from "@dataprotection/controllers";
import { installCrds } from "@dataprotection/testenv";
import { KubeClient, isAlreadyExists, isNotFound, type Kind, type KubeObject } from "@dataprotection/runtime";
import { componentDeployment, layout, runByAPIManager, type APIManagerObject } from "@dataprotection/threescale";
import { getCustom, until } from "../harness.ts";
import { runJob } from "../backup/fixtures.ts";
import { localPvcProvider } from "../../packages/controllers/src/storageprovider/builtin/index.ts";

// Tool pods on the local node run `threescale-dp` from the PATH, as in the operator's image.
const bin = resolve(dirname(fileURLToPath(import.meta.url)), "../../packages/threescale/bin");
if (!process.env.PATH?.split(":").includes(bin)) process.env.PATH = `${bin}:${process.env.PATH ?? ""}`;

export const G = "apps.3scale.net";
export const V = "v1alpha1";
export const APIManagerKind: Kind = { group: G, version: V, kind: "APIManager", plural: "apimanagers", namespaced: true };
const DeploymentKind: Kind = { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true };

const obj = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({ type: "object", properties, ...extra });
const open = { type: "object", "x-kubernetes-preserve-unknown-fields": true };
const str = { type: "string" };

/** The APIManager CRD with the 3scale operator's essential shape. */
export const apiManagerCrd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: `apimanagers.${G}` },
  spec: {
    group: G,
    scope: "Namespaced",
    names: { kind: "APIManager", listKind: "APIManagerList", plural: "apimanagers", singular: "apimanager" },
    versions: [{
      name: V, served: true, storage: true, subresources: { status: {} },
      schema: {
        openAPIV3Schema: obj({
          apiVersion: str, kind: str, metadata: { type: "object" },
          spec: obj({
            wildcardDomain: str,
            appLabel: str,
            system: obj({
              fileStorage: obj({
                persistentVolumeClaim: obj({ storageClassName: str, volumeName: str, resources: obj({ requests: { "x-kubernetes-int-or-string": true, anyOf: [{ type: "integer" }, { type: "string" }] } }) }),
                simpleStorageService: obj({ configurationSecretRef: obj({ name: str }), sts: obj({ enabled: { type: "boolean" }, audience: str }) }),
              }),
            }, { "x-kubernetes-preserve-unknown-fields": true }),
            externalComponents: obj({
              system: obj({ redis: { type: "boolean" }, database: { type: "boolean" } }),
              backend: obj({ redis: { type: "boolean" } }),
              zync: obj({ database: { type: "boolean" } }),
            }),
            apicast: open, backend: open, zync: open,
          }, { required: ["wildcardDomain"] }),
          status: obj({
            deployments: obj({ ready: { type: "array", items: str }, starting: { type: "array", items: str }, stopped: { type: "array", items: str } }),
            conditions: { type: "array", items: obj({ type: str, status: str, reason: str, message: str, lastTransitionTime: str }) },
          }),
        }),
      },
    }],
  },
};

export async function installApiManagerCrd(kc: KubeConfig): Promise<void> {
  await installCrds(kc, [apiManagerCrd] as never);
}

export const ALL_DEPLOYMENTS = ["apicast-production", "apicast-staging", "backend-listener", "backend-worker", "backend-cron", "system-app", "system-sidekiq", "system-memcache", "zync", "zync-que"];

/** The database Deployments the 3scale operator runs for an APIManager: those spec.externalComponents does not mark external. */
export function databaseDeployments(am: KubeObject): string[] {
  const a = am as unknown as APIManagerObject;
  return [...new Set(["system-database", "system-redis", "backend-redis", "zync-database"].filter((c) => runByAPIManager(c, a)).map((c) => componentDeployment(c, undefined)))];
}

/**
 * The stand-in 3scale operator: for each APIManager in `namespaces` it creates the
 * system-sidekiq Deployment (0 replicas; its `bundle` appends its arguments to a log)
 * and reports every deployment ready with condition Available, with the database Deployments
 * the APIManager runs (databaseDeployments). `runDatabase`, when set, is how it runs one of
 * those (a test makes a fresh server, as the 3scale operator would): awaited before any is
 * reported ready.
 */
export class StandIn3scale {
  readonly dir: Promise<string>;
  private timer?: NodeJS.Timeout;
  private readonly client: KubeClient;
  readonly namespaces = new Set<string>();
  runDatabase?: (namespace: string, deployment: string) => Promise<void>;
  private readonly running = new Set<string>();

  constructor(kc: KubeConfig) {
    this.client = new KubeClient(kc);
    this.dir = (async () => {
      const d = await mkdtemp(join(tmpdir(), "threescale-standin-"));
      await writeFile(join(d, "bundle"), '#!/bin/sh\necho "$*" >> "$RESYNC_LOG"\n');
      await chmod(join(d, "bundle"), 0o755);
      return d;
    })();
  }

  resyncLog(ns: string): Promise<string[]> {
    return this.dir.then((d) => readFile(join(d, `${ns}.log`), "utf8").then((s) => s.split("\n").filter(Boolean), () => []));
  }

  start(): void {
    const tick = async () => {
      for (const ns of this.namespaces) await this.handle(ns).catch(() => undefined);
      this.timer = setTimeout(() => void tick(), 300);
    };
    void tick();
  }

  stop(): void {
    clearTimeout(this.timer);
  }

  private async handle(ns: string): Promise<void> {
    const list = await this.client.list<KubeObject & { status?: { deployments?: { ready?: string[] } } }>(APIManagerKind, { namespace: ns });
    for (const am of list.items) {
      if (am.status?.deployments?.ready?.includes("system-sidekiq")) continue;
      const d = await this.dir;
      try {
        await this.client.create(DeploymentKind, {
          metadata: { name: "system-sidekiq", namespace: ns, labels: { app: "3scale-api-management" } },
          spec: {
            replicas: 0,
            selector: { matchLabels: { deployment: "system-sidekiq" } },
            template: {
              metadata: { labels: { deployment: "system-sidekiq" } },
              // The stand-in's directory is a hostPath volume: a pod's writes outside its volumes stay in the pod.
              spec: {
                volumes: [{ name: "standin", hostPath: { path: d } }],
                containers: [{
                  name: "system-sidekiq", image: "quay.io/3scale/porta:latest", command: ["bash", "-c", "bundle exec sidekiq"],
                  env: [{ name: "PATH", value: `${d}:${process.env.PATH}` }, { name: "RESYNC_LOG", value: join(d, `${ns}.log`) }],
                  volumeMounts: [{ name: "standin", mountPath: d }],
                }],
              },
            },
          },
        } as KubeObject);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
      }
      const databases = databaseDeployments(am);
      for (const d of databases) {
        if (this.running.has(`${ns}/${d}`)) continue;
        await this.runDatabase?.(ns, d);
        this.running.add(`${ns}/${d}`);
      }
      await this.client.patch(APIManagerKind, am.metadata.name!, ns, {
        status: { deployments: { ready: [...ALL_DEPLOYMENTS, ...databases] }, conditions: [{ type: "Available", status: "True", reason: "Ready", message: "stand-in", lastTransitionTime: new Date().toISOString() }] },
      }, { subresource: "status" });
    }
  }
}

export const SECRET_DATA = (name: string): Record<string, string> => ({ [`${name}-key`]: Buffer.from(`${name}-value`).toString("base64"), bin: Buffer.from([0, 1, 2, 255, name.length]).toString("base64") });

export function apiManager(name: string, fileStorage: Record<string, unknown>): KubeObject {
  return {
    apiVersion: `${G}/${V}`, kind: "APIManager",
    metadata: { name, labels: { team: "api" }, annotations: { "apps.3scale.net/apimanager-threescale-version": "2.14" } },
    spec: { wildcardDomain: "apps.example.com", system: { fileStorage }, externalComponents: { system: { redis: true, database: true }, backend: { redis: true } } },
  } as KubeObject;
}

/** All 13 Secrets, both ConfigMaps and the APIManager (its status set by the stand-in). */
export async function seed3scale(kc: KubeConfig, ns: string, am: KubeObject, opts: { skipSecret?: string } = {}): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  for (const name of layout.BACKED_UP_SECRETS) {
    if (name === opts.skipSecret) continue;
    await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name, labels: { app: "3scale-api-management" }, annotations: { note: name } }, type: "Opaque", data: SECRET_DATA(name) } });
  }
  for (const name of layout.BACKED_UP_CONFIGMAPS) {
    await core.createNamespacedConfigMap({ namespace: ns, body: { metadata: { name, labels: { app: "3scale-api-management" } }, data: { "env.sh": `export ${name.replace(/-/g, "_").toUpperCase()}=1\n` } } });
  }
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: G, version: V, namespace: ns, plural: "apimanagers", body: am });
}

/** A system-storage PVC holding `count` files (varied sizes, binary, nested directories). */
export async function seedSystemStorage(kc: KubeConfig, ns: string, count: number, storage = "200Mi"): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPersistentVolumeClaim({ namespace: ns, body: { metadata: { name: "system-storage" }, spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage } } } } });
  const script = `i=0; while [ $i -lt ${count} ]; do d=/data/dir$((i % 10))/sub$((i % 3)); mkdir -p $d; head -c $(( (i * 37) % 3000 + 1 )) /dev/urandom > $d/file-$i.bin; i=$((i + 1)); done; echo seeded`;
  await runJob(kc, ns, "seed-system-storage", script, [{ claim: "system-storage", path: "/data" }]);
}

export interface Snapshot {
  secrets: Map<string, V1Secret>;
  configMaps: Map<string, V1ConfigMap>;
  apimanager: KubeObject & { spec?: unknown };
}

export async function snapshot(kc: KubeConfig, ns: string, amName: string): Promise<Snapshot> {
  const core = kc.makeApiClient(CoreV1Api);
  const secrets = new Map<string, V1Secret>();
  for (const name of layout.BACKED_UP_SECRETS) {
    const s = await core.readNamespacedSecret({ name, namespace: ns }).catch(() => undefined);
    if (s) secrets.set(name, s);
  }
  const configMaps = new Map<string, V1ConfigMap>();
  for (const name of layout.BACKED_UP_CONFIGMAPS) configMaps.set(name, await core.readNamespacedConfigMap({ name, namespace: ns }));
  const apimanager = (await getCustom<KubeObject>(kc, G, "apimanagers", ns, amName))!;
  return { secrets, configMaps, apimanager };
}

/** An object as the upstream layout keeps it (the comparison "modulo the removed fields"). */
export const comparable = (o: unknown): unknown => JSON.parse(JSON.stringify(layout.stripObject(o as object)));

export async function exists(kc: KubeConfig, kind: Kind, name: string, ns: string): Promise<boolean> {
  try {
    await new KubeClient(kc).get(kind, name, ns);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

export async function crStatus<T>(kc: KubeConfig, plural: string, ns: string, name: string, done: (s: T) => boolean, timeoutMs = 150_000): Promise<T> {
  return until(`${plural} ${ns}/${name} done`, async () => {
    const o = await getCustom<{ status?: T }>(kc, G, plural, ns, name);
    return o?.status && done(o.status) ? o.status : undefined;
  }, timeoutMs, 500);
}

/**
 * An encrypted BackupRepo named `threescale-enc-<suffix>` on the local node's volumes (a
 * localPvcProvider StorageProvider, one claim per namespace that uses it), its passphrase in a
 * Secret of "default"; `remove` deletes the three (the repo first, waiting until it is gone).
 */
export async function createEncryptedRepo(client: KubeClient, prefix: string, pvReclaimPolicy: "Retain" | "Delete"): Promise<{ name: string; remove: () => Promise<void> }> {
  const suffix = randomBytes(3).toString("hex");
  const provider = `${prefix}-local-pvc-${suffix}`;
  const name = `${prefix}-enc-${suffix}`;
  const keySecret = `${prefix}-repo-key-${suffix}`;
  await client.create(Kinds.StorageProvider, localPvcProvider(provider) as unknown as KubeObject);
  await client.create(Kinds.Secret, { apiVersion: "v1", kind: "Secret", metadata: { name: keySecret, namespace: "default" }, stringData: { passphrase: `correct horse battery ${suffix}` } } as KubeObject);
  await client.create(Kinds.BackupRepo, {
    apiVersion: DataProtectionAPIVersion, kind: "BackupRepo", metadata: { name },
    spec: { storageProviderRef: provider, pvReclaimPolicy, volumeCapacity: "1Gi", encryption: { keySecretRef: { name: keySecret, namespace: "default", key: "passphrase" } } },
  } as KubeObject);
  await until(`BackupRepo ${name} Ready`, async () => ((await client.get<BackupRepo & KubeObject>(Kinds.BackupRepo, name)).status?.phase === "Ready" ? true : undefined), 120_000, 500);
  const remove = async () => {
    await client.delete(Kinds.BackupRepo, name).catch(() => undefined);
    await until(`BackupRepo ${name} gone`, async () => (await client.get(Kinds.BackupRepo, name).then(() => undefined, () => true)), 60_000, 500).catch(() => undefined);
    await client.delete(Kinds.StorageProvider, provider).catch(() => undefined);
    await client.delete(Kinds.Secret, keySecret, "default").catch(() => undefined);
  };
  return { name, remove };
}
