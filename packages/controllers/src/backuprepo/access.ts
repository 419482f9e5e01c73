// How a tool pod reaches a repo: the one contract between the BackupRepo controller
// and the controllers that run tools (Backup, RestoreJob, 3scale). Pure: no I/O.
import type { V1EnvVar, V1Volume, V1VolumeMount } from "@kubernetes/client-node";
import { AccessMethod, type BackupRepo, type StorageProvider } from "@dataprotection/api";
import { childName } from "@dataprotection/runtime";
import { agentConfigFor } from "../storageprovider/agentconfig.ts";

/** Where every tool pod mounts a filesystem repo (KubeBlocks contract). */
export const BACKUP_MOUNT_PATH = "/backupdata";
/** Where the encryption key file is mounted in tool pods. */
export const ENCRYPTION_KEY_DIR = "/etc/dataprotection/encryption";
const ENCRYPTION_KEY_FILE = "key";

/** A Secret the controller copies from the repo's namespace into the workload namespace. */
export interface SecretCopy {
  /** The BackupRepo it serves (the copy's label: the repo's deletion finds it). */
  repo: string;
  from: { namespace: string; name: string };
  /** Name of the copy in the workload namespace. */
  to: string;
  /** Keys to copy (all if absent). */
  keys?: string[];
  /** credential: only the keys credentialCopyData maps, never the rest of the user's Secret; encryption: the key. */
  purpose?: "credential" | "encryption";
}

export interface RepoAccess {
  repoName: string;
  accessMethod: AccessMethod;
  /** Mount: the PVC in the workload namespace mounted at /backupdata (create it with the repo's template if absent). */
  pvcName?: string;
  /** Env for dp-agent (DP_REPO_KIND, DP_REPO_PATH, DP_S3_*, AWS_*, DP_ENCRYPTION_KEY_FILE). */
  env: V1EnvVar[];
  /** Volumes and mounts to add to tool pods. */
  volumes: V1Volume[];
  volumeMounts: V1VolumeMount[];
  /** Secrets that must be copied into the workload namespace before a tool pod starts. */
  secretCopies: SecretCopy[];
  encrypted: boolean;
}

/** The names of a repo's Secret copies in a workload namespace: [credential, encryption key]. */
export function secretCopyNames(repoName: string): [string, string] {
  return [childName(`dp-repo-${repoName}`, "credential"), childName(`dp-repo-${repoName}`, "encryption")];
}

/** The PVC name a filesystem repo uses in every namespace (deterministic, <= 63 chars). */
export function repoPVCName(repoName: string): string {
  return childName(`dp-backup-${repoName}`, "");
}

/**
 * What a tool pod needs to use `repo` from a pod in any namespace.
 * For accessMethod Tool the repo's `config` gives the S3 location (bucket, endpoint,
 * region, forcePathStyle, prefix) and its `credential` Secret the keys
 * accessKeyId/secretAccessKey (or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY).
 * With the provider, its agentConfigTemplate (rendered from the repo's config) gives the location.
 */
export function repoAccessFor(repo: BackupRepo, provider?: StorageProvider): RepoAccess {
  const name = repo.metadata?.name ?? "";
  const method = repo.spec.accessMethod ?? AccessMethod.Mount;
  const env: V1EnvVar[] = [];
  const volumes: V1Volume[] = [];
  const volumeMounts: V1VolumeMount[] = [];
  const secretCopies: SecretCopy[] = [];
  let pvcName: string | undefined;

  if (method === AccessMethod.Mount) {
    pvcName = repo.status?.backupPVCName || repoPVCName(name);
    env.push({ name: "DP_REPO_KIND", value: "filesystem" }, { name: "DP_REPO_PATH", value: BACKUP_MOUNT_PATH });
    volumes.push({ name: "dp-backup-data", persistentVolumeClaim: { claimName: pvcName } });
    volumeMounts.push({ name: "dp-backup-data", mountPath: BACKUP_MOUNT_PATH });
  } else {
    const c = agentConfigFor(provider, repo);
    env.push({ name: "DP_REPO_KIND", value: "s3" }, { name: "DP_REPO_PATH", value: BACKUP_MOUNT_PATH });
    const put = (envName: string, value: string | undefined) => value !== undefined && value !== "" && env.push({ name: envName, value });
    put("DP_S3_BUCKET", c.bucket);
    put("DP_S3_ENDPOINT", c.endpoint);
    put("DP_S3_REGION", c.region);
    put("DP_S3_FORCE_PATH_STYLE", c.forcePathStyle);
    put("DP_S3_PREFIX", c.prefix);
    const cred = repo.spec.credential;
    if (cred?.name) {
      const copy = secretCopyNames(name)[0];
      secretCopies.push({ repo: name, from: { namespace: cred.namespace ?? "default", name: cred.name }, to: copy, purpose: "credential" });
      // The copy holds the values under the env names, whichever spelling the user chose (credentialCopyData).
      for (const envName of ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]) {
        env.push({ name: envName, valueFrom: { secretKeyRef: { name: copy, key: envName } } });
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

  return { repoName: name, accessMethod: method, pvcName, env, volumes, volumeMounts, secretCopies, encrypted: !!enc };
}

/** The credential keys a copy must carry, mapped from the user's Secret (either spelling). */
export function credentialCopyData(source: Record<string, string>): Record<string, string> {
  const pick = (...keys: string[]) => keys.map((k) => source[k]).find((v) => v !== undefined);
  const out: Record<string, string> = {};
  const id = pick("accessKeyId", "AWS_ACCESS_KEY_ID");
  const secret = pick("secretAccessKey", "AWS_SECRET_ACCESS_KEY");
  if (id !== undefined) out.AWS_ACCESS_KEY_ID = id;
  if (secret !== undefined) out.AWS_SECRET_ACCESS_KEY = secret;
  return out;
}
