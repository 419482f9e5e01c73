// I/O: makes a repo usable from one namespace: its PVC (Mount repos) and the Secret
// copies tool pods mount. Called by the Backup, RestoreJob and 3scale controllers
// before they start a tool pod. The repo's own pre-check decides the same from what it read
// (decide.ts), with the same checks (problems.ts).
import type { V1PersistentVolumeClaim, V1Secret, V1StorageClass } from "@kubernetes/client-node";
import { AccessMethod, type BackupRepo, type StorageProvider } from "@dataprotection/api";
import { createIfAbsent, isNotFound, type Cache, type KubeClient, type Kind, type KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { repoAccessFor, type RepoAccess, type SecretCopy } from "./access.ts";
import { buildRepoPVC } from "./pvc.ts";
import { buildSecretCopy, secretDiffers } from "./secret.ts";
import { decodeSecretData } from "../storageprovider/parameters.ts";
import { templateValues } from "./values.ts";
import { Reason } from "./reasons.ts";
import { RepoAccessError, copyProblem, copySourceRole, pvcDeleting, repoNotReady, secretNotFound } from "./problems.ts";

export { RepoAccessError };

/** Reads through the cache when it holds the kind, else from the API server; undefined when absent. */
export async function readObject<T extends KubeObject>(client: KubeClient, cache: Cache | undefined, kind: Kind, name: string, namespace?: string): Promise<T | undefined> {
  if (cache) {
    try {
      return cache.get<T>(kind, name, namespace);
    } catch {
      // not cached (or not synced): ask the API server
    }
  }
  try {
    return await client.get<T>(kind, name, namespace);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The labels of a namespace (a live read: only needed when a repo has a namespaceSelector). */
export async function namespaceLabels(client: KubeClient, namespace: string): Promise<Record<string, string>> {
  const ns = await readObject<KubeObject>(client, undefined, Kinds.Namespace, namespace);
  return ns?.metadata.labels ?? {};
}

/**
 * Makes sure everything `repoAccessFor(repo)` names exists in `namespace` and returns
 * it: the repo PVC (Mount repos; created from the provider's persistentVolumeClaimTemplate
 * or the generated StorageClass, labelled with the repo) and the Secret copies
 * (credential, encryption key). Idempotent; safe to call before every tool pod.
 * Throws RepoAccessError when the repo is not usable (missing provider, Secret, StorageClass).
 */
export async function ensureRepoAccess(client: KubeClient, cache: Cache | undefined, repo: BackupRepo, namespace: string, operatorNamespace?: string): Promise<RepoAccess> {
  const repoName = repo.metadata?.name ?? "";
  const providerName = repo.spec.storageProviderRef;
  const provider = await readObject<StorageProvider & KubeObject>(client, cache, Kinds.StorageProvider, providerName);
  if (!provider) throw new RepoAccessError(Reason.StorageProviderNotFound, `StorageProvider "${providerName}" not found: create it or change BackupRepo "${repoName}" .spec.storageProviderRef`);
  const access = repoAccessFor(repo, provider);
  if (repo.metadata?.deletionTimestamp) throw new RepoAccessError(Reason.RepoDeleting, `BackupRepo "${repoName}" is being deleted: choose another repo`);

  const sources = new Map<string, Record<string, string>>();
  const readSource = async (ns: string, name: string, what: string): Promise<Record<string, string>> => {
    const key = `${ns}/${name}`;
    let data = sources.get(key);
    if (!data) {
      const s = await readObject<V1Secret & KubeObject>(client, cache, Kinds.Secret, name, ns);
      if (!s) throw secretNotFound(repoName, ns, name, what);
      data = decodeSecretData(s);
      sources.set(key, data);
    }
    return data;
  };

  for (const copy of access.secretCopies) {
    const source = await readSource(copy.from.namespace, copy.from.name, copySourceRole(copy));
    await copyRepoSecret(client, copy, source, namespace);
  }

  if (access.accessMethod === AccessMethod.Mount && access.pvcName) {
    const existing = await readObject<V1PersistentVolumeClaim & KubeObject>(client, undefined, Kinds.PersistentVolumeClaim, access.pvcName, namespace);
    if (existing?.metadata.deletionTimestamp) throw pvcDeleting(repoName, namespace, access.pvcName);
    if (!existing) await createIfAbsent(client, Kinds.PersistentVolumeClaim, (await desiredRepoPVC(client, cache, repo, provider, namespace, operatorNamespace, access.pvcName, readSource)) as KubeObject);
  }
  return access;
}

/**
 * Checks that `source` (the copy's source Secret, decoded) holds every key the copy needs
 * (RepoAccessError SecretKeyMissing otherwise), then applies the copy in `namespace`.
 */
export async function copyRepoSecret(client: KubeClient, copy: SecretCopy, source: Record<string, string>, namespace: string): Promise<void> {
  const problem = copyProblem(copy, source);
  if (problem) throw problem;
  await applySecretCopy(client, copy, source, namespace);
}

/**
 * Creates the copy `copy` asks for in `namespace` from `source` (decoded), or brings an existing
 * one to exactly that data (keys the copy should not carry are dropped). The one way a repo
 * Secret reaches a workload namespace.
 */
export async function applySecretCopy(client: KubeClient, copy: SecretCopy, source: Record<string, string>, namespace: string): Promise<void> {
  const wanted = buildSecretCopy(copy, source, namespace);
  const existing = await readObject<V1Secret & KubeObject>(client, undefined, Kinds.Secret, copy.to, namespace);
  if (!existing) return void (await createIfAbsent(client, Kinds.Secret, wanted));
  if (secretDiffers(existing, wanted)) {
    await client.replace(Kinds.Secret, { ...existing, data: wanted.data, metadata: { ...existing.metadata, labels: { ...(existing.metadata?.labels ?? {}), ...wanted.metadata?.labels } } } as KubeObject);
  }
}

async function desiredRepoPVC(
  client: KubeClient, cache: Cache | undefined, repo: BackupRepo, provider: StorageProvider, namespace: string, operatorNamespace: string | undefined, pvcName: string,
  readSource: (ns: string, name: string, what: string) => Promise<Record<string, string>>,
): Promise<V1PersistentVolumeClaim> {
  const scName = repo.status?.generatedStorageClassName;
  const notReady = repoNotReady(repo, provider);
  if (notReady) throw notReady;
  const cred = repo.spec.credential;
  const credential = cred?.name ? await readSource(cred.namespace ?? "default", cred.name, "credential") : undefined;
  const storageClass = scName ? await readObject<V1StorageClass & KubeObject>(client, cache, Kinds.StorageClass, scName) : undefined;
  return buildRepoPVC({ repo, provider, namespace, pvcName, values: templateValues(repo, credential, operatorNamespace), storageClass });
}

