// Pure: why a repo cannot be used from a namespace, worded once for ensureRepoAccess (the
// controllers that run tools) and for the repo's own pre-check (decide.ts).
import type { BackupRepo, StorageProvider } from "@dataprotection/api";
import { missingRepoSecrets, pickRepoSecrets } from "@dataprotection/storage";
import type { SecretCopy } from "./access.ts";
import { Reason } from "./reasons.ts";

/** The repo cannot be used yet or at all; `reason` is one of {@link Reason}. */
export class RepoAccessError extends Error {
  constructor(
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = "RepoAccessError";
  }
}

/** Why `source` (the copy's source Secret, decoded) cannot make the copy, if it cannot. */
export function copyProblem(copy: SecretCopy, source: Record<string, string>): RepoAccessError | undefined {
  const from = `Secret "${copy.from.namespace}/${copy.from.name}"`;
  for (const k of copy.keys ?? []) {
    if (source[k] === undefined) return new RepoAccessError(Reason.SecretKeyMissing, `${from} has no key "${k}" (named by BackupRepo "${copy.repo}"): add the key`);
  }
  const missing = copy.purpose === "credential" && copy.backend ? missingRepoSecrets(copy.backend, pickRepoSecrets(copy.backend, source)) : [];
  if (missing.length) {
    return new RepoAccessError(Reason.SecretKeyMissing, `${from} (credential of BackupRepo "${copy.repo}") has no key ${missing.join(", no key ")}, which the ${copy.backend} backend needs: add it`);
  }
  return undefined;
}

/** What a copy's source Secret is to the repo, as messages name it. */
export function copySourceRole(copy: SecretCopy): string {
  return copy.purpose === "encryption" ? "encryption key" : "credential";
}

export function secretNotFound(repoName: string, namespace: string, name: string, what: string): RepoAccessError {
  return new RepoAccessError(Reason.SecretNotFound, `Secret "${namespace}/${name}" (${what} of BackupRepo "${repoName}") not found: create it or fix the repo's spec`);
}

export function pvcDeleting(repoName: string, namespace: string, pvcName: string): RepoAccessError {
  return new RepoAccessError(Reason.PVCDeleting, `PVC "${namespace}/${pvcName}" of BackupRepo "${repoName}" is being deleted: retry once it is gone`);
}

/** A repo PVC needs the provider's persistentVolumeClaimTemplate or the repo's generated StorageClass. */
export function repoNotReady(repo: BackupRepo, provider: StorageProvider): RepoAccessError | undefined {
  if (provider.spec.persistentVolumeClaimTemplate || repo.status?.generatedStorageClassName) return undefined;
  return new RepoAccessError(Reason.RepoNotReady, `BackupRepo "${repo.metadata?.name ?? ""}" has no generated StorageClass yet (phase ${repo.status?.phase ?? "unset"}): wait until it is Ready`);
}
