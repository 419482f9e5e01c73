// How a tool pod reaches a repo: the one contract between the BackupRepo controller
// and the controllers that run tools (Backup, RestoreJob, 3scale). Pure: no I/O.
import type { V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { AccessMethod, type BackupRepo, type StorageProvider } from "@dataprotection/api";
import { childName } from "@dataprotection/runtime";
import { REPO_CONFIG_ENV, repoDocument, serializeRepoDocument } from "@dataprotection/storage";
import { agentConfigFor } from "../storageprovider/agentconfig.ts";

/** Where every tool pod mounts a filesystem repo (KubeBlocks contract). */
export const BACKUP_MOUNT_PATH = "/backupdata";
/** Where the encryption key file is mounted in tool pods. */
export const ENCRYPTION_KEY_DIR = "/etc/dataprotection/encryption";
const ENCRYPTION_KEY_FILE = "key";
/** dp-agent's switch for deduplicated storage (packages/agent README). */
export const DEDUP_ENV = "DP_DEDUP";

/** A Secret the controller copies from the repo's namespace into the workload namespace. */
export interface SecretCopy {
  /** The BackupRepo it serves (the copy's label: the repo's deletion finds it). */
  repo: string;
  from: { namespace: string; name: string };
  /** Name of the copy in the workload namespace. */
  to: string;
  /** Keys to copy (all if absent). */
  keys?: string[];
  /** credential: only the Secret keys `backend` declares, never the rest of the user's Secret; encryption: the key. */
  purpose?: "credential" | "encryption";
  /** credential: the repo backend (storage registry kind) whose Secret keys the copy carries. */
  backend?: string;
}

export interface RepoAccess {
  repoName: string;
  accessMethod: AccessMethod;
  /** Mount: the PVC in the workload namespace mounted at /backupdata (create it with the repo's template if absent). */
  pvcName?: string;
  /**
   * Env for dp-agent: Mount: DP_REPO_KIND=filesystem, DP_REPO_PATH; Tool: DP_REPO_CONFIG (the
   * storage registry's document), DP_REPO_PATH (BACKUP_DIR's base) and one DP_REPO_SECRET_* per
   * Secret key of the backend; with encryption DP_ENCRYPTION_KEY_FILE.
   */
  env: V1EnvVar[];
  /** Volumes and mounts to add to tool pods. */
  volumes: V1Volume[];
  volumeMounts: V1VolumeMount[];
  /** Secrets that must be copied into the workload namespace before a tool pod starts. */
  secretCopies: SecretCopy[];
  encrypted: boolean;
  /** spec.deduplication.enabled: dp-agent stores snapshots (env DP_DEDUP), and removing a backup needs dp-agent (it forgets them). */
  dedup?: boolean;
}

/** The names of a repo's Secret copies in a workload namespace: [credential, encryption key]. */
export function secretCopyNames(repoName: string): [string, string] {
  return [childName(`dp-repo-${repoName}`, "credential"), childName(`dp-repo-${repoName}`, "encryption")];
}

/** The PVC name a filesystem repo uses in every namespace (deterministic, <= 63 chars). */
export function repoPVCName(repoName: string): string {
  return childName(`dp-backup-${repoName}`, "");
}

/** A filesystem repo on the claim `claimName`, mounted at /backupdata (repo PVCs, a policy's own PVC, KubeBlocks 0.6 backup PVCs). */
export function mountAccess(claimName: string, repoName = ""): RepoAccess {
  return {
    repoName,
    accessMethod: AccessMethod.Mount,
    pvcName: claimName,
    env: [{ name: "DP_REPO_KIND", value: "filesystem" }, { name: "DP_REPO_PATH", value: BACKUP_MOUNT_PATH }],
    volumes: [{ name: "dp-backup-data", persistentVolumeClaim: { claimName } }],
    volumeMounts: [{ name: "dp-backup-data", mountPath: BACKUP_MOUNT_PATH }],
    secretCopies: [],
    encrypted: false,
  };
}

/**
 * What a tool pod needs to use `repo` from a pod in any namespace.
 * For accessMethod Tool the provider's agentConfigTemplate (rendered from the repo's config;
 * without one, the repo's config) names the backend and its parameters, and the repo's
 * `credential` Secret holds the keys that backend declares (storage registry): a copy of
 * those keys reaches the pod as env through secretKeyRefs, never inside the document.
 */
export function repoAccessFor(repo: BackupRepo, provider?: StorageProvider): RepoAccess {
  const name = repo.metadata?.name ?? "";
  const method = repo.spec.accessMethod ?? AccessMethod.Mount;
  const base = method === AccessMethod.Mount ? mountAccess(repo.status?.backupPVCName || repoPVCName(name), name) : undefined;
  const env: V1EnvVar[] = [...(base?.env ?? [])];
  const volumes: V1Volume[] = [...(base?.volumes ?? [])];
  const volumeMounts: V1VolumeMount[] = [...(base?.volumeMounts ?? [])];
  const secretCopies: SecretCopy[] = [];
  const pvcName = base?.pvcName;

  if (!base) {
    const c = agentConfigFor(provider, repo);
    const cred = repo.spec.credential;
    const doc = repoDocument(c.kind, c.params, !!cred?.name);
    env.push({ name: REPO_CONFIG_ENV, value: serializeRepoDocument(doc) }, { name: "DP_REPO_PATH", value: BACKUP_MOUNT_PATH });
    if (cred?.name) {
      const copy = secretCopyNames(name)[0];
      secretCopies.push({ repo: name, from: { namespace: cred.namespace ?? "default", name: cred.name }, to: copy, purpose: "credential", backend: c.kind });
      // The copy holds each key under its canonical name, whichever spelling the user chose. Optional:
      // a key the Secret lacks is unset, and dp-agent (or ensureRepoAccess, if required) names it.
      for (const [key, envName] of Object.entries(doc.secretEnv)) {
        env.push({ name: envName, valueFrom: { secretKeyRef: { name: copy, key, optional: true } } });
      }
    }
  }

  const enc = repo.spec.encryption;
  if (enc) {
    const copy = secretCopyNames(name)[1];
    secretCopies.push({ repo: name, from: { namespace: enc.keySecretRef.namespace, name: enc.keySecretRef.name }, to: copy, keys: [enc.keySecretRef.key], purpose: "encryption" });
    // Readable by any uid: tool pods run as the target's (non-root) user and have no fsGroup of their own.
    volumes.push({ name: "dp-encryption-key", secret: { secretName: copy, defaultMode: 0o444, items: [{ key: enc.keySecretRef.key, path: ENCRYPTION_KEY_FILE }] } });
    volumeMounts.push({ name: "dp-encryption-key", mountPath: ENCRYPTION_KEY_DIR, readOnly: true });
    env.push({ name: "DP_ENCRYPTION_KEY_FILE", value: `${ENCRYPTION_KEY_DIR}/${ENCRYPTION_KEY_FILE}` });
  }

  // Every pod that reaches the repo gets it: tools store snapshots, restores and deletions read and forget them.
  const dedup = !!repo.spec.deduplication?.enabled;
  if (dedup) env.push({ name: DEDUP_ENV, value: "true" });

  return { repoName: name, accessMethod: method, pvcName, env, volumes, volumeMounts, secretCopies, encrypted: !!enc, ...(dedup ? { dedup } : {}) };
}
