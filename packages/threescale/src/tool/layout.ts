// The upstream 3scale operator's backup layout and object cleaning, in one place (pure).
// A PVC written by the upstream operator restores here, and ours is readable by it.

/** Every Secret the upstream operator backs up (its backup documentation; packages/threescale/README.md). */
export const BACKED_UP_SECRETS = [
  "system-smtp", "system-seed", "backend-internal-api", "backend-listener", "system-events-hook", "system-app",
  "system-recaptcha", "zync", "system-master-apicast", "system-memcache", "system-database", "backend-redis", "system-redis",
] as const;

/** The Secrets a restore recreates; the database ones come back with the user's databases. */
export const RESTORED_SECRETS = [
  "system-smtp", "system-seed", "backend-internal-api", "backend-listener", "system-events-hook", "system-app",
  "system-recaptcha", "zync", "system-master-apicast",
] as const;

export const BACKED_UP_CONFIGMAPS = ["system-environment", "apicast-environment"] as const;

export const APIMANAGER_FILE = "apimanager/apimanager-backup.json";
/** System FileStorage from the system-storage PVC: a copied directory (plain) or a dp-agent directory object. */
export const FILESTORAGE_PVC_DIR = "system-filestorage-pvc";
/** System FileStorage from S3 (ours; the upstream operator cannot back it up). */
export const FILESTORAGE_S3_DIR = "system-filestorage-s3";
/** What a backup found absent, so a restore knows it was not lost (ours, JSON). */
export const ABSENT_FILE = "absent.json";

/**
 * The key, in the userContext of the APIManager's dp-agent manifest (a repo destination with
 * spec.includeDatabases), under which the backup records its database components: a JSON array of
 * { name, engine?, backupName, backupToolName?, backupPath } (components.ts), authenticated with
 * the rest of the manifest, so a restore in another namespace finds the component backups from the
 * APIManager's backup alone.
 */
export const DATABASES_CONTEXT_KEY = "apps.3scale.net/databases";

export const secretFile = (name: string): string => `secrets/${name}.json`;
export const configMapFile = (name: string): string => `configmaps/${name}.json`;

const REMOVED_METADATA = ["ownerReferences", "selfLink", "uid", "resourceVersion", "creationTimestamp", "namespace", "clusterName", "generation", "managedFields"] as const;

export interface ObjectLike {
  apiVersion?: string;
  kind?: string;
  metadata?: Record<string, unknown>;
  status?: unknown;
  [k: string]: unknown;
}

/**
 * The object as the upstream operator stores it: no status, and metadata without
 * ownerReferences, selfLink, uid, resourceVersion, creationTimestamp, namespace,
 * clusterName, generation (managedFields too: server bookkeeping). Labels, annotations
 * and finalizers stay.
 */
export function stripObject<T extends object>(input: T): T {
  const obj = input as ObjectLike;
  const out: ObjectLike = { ...obj };
  delete out.status;
  if (obj.metadata) {
    const meta = { ...obj.metadata };
    for (const k of REMOVED_METADATA) delete meta[k];
    out.metadata = meta;
  }
  return out as T;
}

function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object") {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** Pretty-printed with sorted keys, like the upstream operator's files. */
export function toBackupJson(obj: unknown): Buffer {
  return Buffer.from(JSON.stringify(sortKeys(obj), null, 2) + "\n");
}

/** An object read back from the layout, made ready to create in `namespace`. */
export function forCreate<T extends object>(obj: T, namespace: string): T {
  const s = stripObject(obj as ObjectLike);
  return { ...s, metadata: { ...(s.metadata ?? {}), namespace } } as unknown as T;
}

/** An S3 key as a relative file path, or undefined when it cannot be one (".." segments, empty, a "directory"). */
export function objectKeyPath(key: string): string | undefined {
  const parts = key.split("/");
  if (!key || key.endsWith("/") || key.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..")) return undefined;
  return parts.join("/");
}
