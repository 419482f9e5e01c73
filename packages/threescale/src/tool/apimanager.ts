// Pure decisions about an APIManager: which one to protect, where System's FileStorage
// lives, which Secrets it may lack, the system-storage PVC to recreate, readiness.
import type { S3RepoConfig } from "@dataprotection/storage";
import { Reason } from "./reasons.ts";

export interface APIManagerObject {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string; namespace?: string; [k: string]: unknown };
  spec?: {
    wildcardDomain?: string;
    system?: {
      fileStorage?: {
        persistentVolumeClaim?: { storageClassName?: string; volumeName?: string; resources?: { requests?: string | { storage?: string } } };
        simpleStorageService?: { configurationSecretRef?: { name?: string }; sts?: { enabled?: boolean } };
      };
    };
    externalComponents?: {
      system?: { redis?: boolean; database?: boolean };
      backend?: { redis?: boolean };
      zync?: { database?: boolean };
    };
    [k: string]: unknown;
  };
  status?: { deployments?: { ready?: string[]; starting?: string[]; stopped?: string[] }; conditions?: Array<{ type?: string; status?: string }> };
}

export type Selected = { ok: true; apimanager: APIManagerObject } | { ok: false; reason: string; message: string };

/** Exactly one APIManager in the namespace (or the named one). */
export function selectAPIManager(items: APIManagerObject[], namespace: string, name?: string): Selected {
  if (name) {
    const found = items.find((a) => a.metadata.name === name);
    if (found) return { ok: true, apimanager: found };
    return { ok: false, reason: Reason.APIManagerNotFound, message: `APIManager "${namespace}/${name}" not found: create it or fix spec.apiManagerName` };
  }
  if (items.length === 1) return { ok: true, apimanager: items[0] };
  if (items.length === 0) return { ok: false, reason: Reason.APIManagerNotFound, message: `no APIManager in namespace ${namespace}: deploy 3scale there first, or run the backup in the APIManager's namespace` };
  const names = items.map((a) => a.metadata.name).sort().join(", ");
  return { ok: false, reason: Reason.MultipleAPIManagers, message: `${items.length} APIManagers in namespace ${namespace} (${names}): set spec.apiManagerName to the one to back up` };
}

export type FileStorage =
  | { kind: "pvc"; claimName: string; storageClassName?: string; volumeName?: string; storage: string }
  | { kind: "s3"; secretName: string; sts: boolean };

export const SYSTEM_STORAGE_PVC = "system-storage";
/** The 3scale operator's size when spec.system.fileStorage.persistentVolumeClaim.resources is unset. */
export const DEFAULT_SYSTEM_STORAGE = "100Mi";

function requestedStorage(r: { requests?: string | { storage?: string } } | undefined): string | undefined {
  const q = r?.requests;
  return typeof q === "string" ? q : q?.storage;
}

export function fileStorageOf(a: APIManagerObject): FileStorage {
  const fs = a.spec?.system?.fileStorage;
  const s3 = fs?.simpleStorageService;
  if (s3) return { kind: "s3", secretName: s3.configurationSecretRef?.name ?? "", sts: s3.sts?.enabled === true };
  const pvc = fs?.persistentVolumeClaim;
  return {
    kind: "pvc",
    claimName: SYSTEM_STORAGE_PVC,
    storageClassName: pvc?.storageClassName,
    volumeName: pvc?.volumeName,
    storage: requestedStorage(pvc?.resources) ?? DEFAULT_SYSTEM_STORAGE,
  };
}

/**
 * A Secret the APIManager does not need may be absent (recorded, not a failure):
 * system-recaptcha (reCAPTCHA is optional), and the database Secrets of components
 * the operator deploys itself (externalComponents unset), which it owns and regenerates.
 */
export function secretMayBeAbsent(name: string, a: APIManagerObject): boolean {
  switch (name) {
    case "system-recaptcha":
    case "system-smtp":
      return true;
    case "system-database":
    case "system-redis":
    case "backend-redis":
      // Each names the component of the same name.
      return runByAPIManager(name, a);
    default:
      return false;
  }
}

/**
 * Whether the APIManager runs a database component itself: the 3scale operator deploys every
 * database spec.externalComponents does not mark external, so a restore finds its server only
 * once the restored APIManager runs it (a new namespace has none before).
 */
export function runByAPIManager(component: string, a: APIManagerObject): boolean {
  const ext = a.spec?.externalComponents;
  switch (component) {
    case "system-database":
      return ext?.system?.database !== true;
    case "system-redis":
      return ext?.system?.redis !== true;
    case "backend-redis":
    case "backend-redis-queues":
      return ext?.backend?.redis !== true;
    case "zync-database":
      return ext?.zync?.database !== true;
    default:
      return false;
  }
}

/** The Deployment the 3scale operator runs a database component in (as status.deployments names it). */
export function componentDeployment(component: string, engine: string | undefined): string {
  switch (component) {
    case "system-database":
      return engine === "postgresql" ? "system-postgresql" : "system-mysql";
    case "backend-redis-queues":
      return "backend-redis";
    default:
      return component;
  }
}

/** The system-storage PVC a restore recreates, sized and classed from the backed-up spec. */
export function systemStorageClaim(a: APIManagerObject, namespace: string, accessMode: string): Record<string, unknown> | undefined {
  const fs = fileStorageOf(a);
  if (fs.kind !== "pvc") return undefined;
  const spec: Record<string, unknown> = { accessModes: [accessMode], resources: { requests: { storage: fs.storage } } };
  if (fs.storageClassName) spec.storageClassName = fs.storageClassName;
  if (fs.volumeName) spec.volumeName = fs.volumeName;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: fs.claimName, namespace, labels: { app: "3scale-api-management", threescale_component: "system" } },
    spec,
  };
}

/** The S3 location of System's FileStorage from its configuration Secret (AWS_* keys). */
export function s3ConfigFromSecret(data: Record<string, string>, secretName: string): { ok: true; config: S3RepoConfig } | { ok: false; reason: string; message: string } {
  const missing = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_BUCKET"].filter((k) => !data[k]);
  if (missing.length) {
    return { ok: false, reason: Reason.S3ConfigInvalid, message: `Secret "${secretName}" (spec.system.fileStorage.simpleStorageService.configurationSecretRef) lacks ${missing.join(", ")}: add them` };
  }
  const host = data.AWS_HOSTNAME;
  const protocol = (data.AWS_PROTOCOL || "https").toLowerCase();
  const endpoint = host ? (/^https?:\/\//.test(host) ? host : `${protocol}://${host}`) : undefined;
  return {
    ok: true,
    config: {
      kind: "s3",
      bucket: data.AWS_BUCKET,
      region: data.AWS_REGION || "us-east-1",
      endpoint,
      forcePathStyle: (data.AWS_PATH_STYLE ?? "").toLowerCase() === "true",
      accessKeyId: data.AWS_ACCESS_KEY_ID,
      secretAccessKey: data.AWS_SECRET_ACCESS_KEY,
    },
  };
}

export function isDeploymentReady(a: APIManagerObject | undefined, deployment: string): boolean {
  return a?.status?.deployments?.ready?.includes(deployment) ?? false;
}

/** Secret data (base64) as strings. */
export function decodeSecretData(data: Record<string, string> | undefined): Record<string, string> {
  return Object.fromEntries(Object.entries(data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
}
