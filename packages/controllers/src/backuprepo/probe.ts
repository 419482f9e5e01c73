// I/O: the pre-check of a Tool repo, run from the operator with the storage backend dp-agent
// uses (the storage registry builds it from the same parameters and Secret keys): write, read
// back and delete a probe object.
import type { BackupRepo, StorageProvider } from "@dataprotection/api";
import { backendFromConfig, pickRepoSecrets, repoConfigFrom, type RepoConfig } from "@dataprotection/storage";
import { agentConfigFor } from "../storageprovider/agentconfig.ts";

/** The backend config for a Tool repo (pure). Throws, naming what to fix, when a parameter or secret is missing or malformed. */
export function toolRepoConfig(repo: BackupRepo, provider: StorageProvider | undefined, credential: Record<string, string> | undefined): RepoConfig {
  const c = agentConfigFor(provider, repo);
  try {
    // A quick answer: two attempts, a short connect timeout.
    return repoConfigFrom(c.kind, c.params, pickRepoSecrets(c.kind, credential ?? {}), { maxAttempts: 2, connectTimeoutMs: 5_000 });
  } catch (e) {
    throw new Error(`${(e as Error).message}: fix BackupRepo "${repo.metadata?.name}" .spec.config, its credential Secret or the StorageProvider's agentConfigTemplate`);
  }
}

/** Resolves with the repo's location when the probe passed; rejects with a message saying what to fix. Bounded by timeoutMs. */
export async function probeToolRepo(config: RepoConfig, timeoutMs: number): Promise<string> {
  const backend = backendFromConfig(config);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${backend.location} within ${Math.round(timeoutMs / 1000)}s: check the endpoint`)), timeoutMs);
  });
  try {
    await Promise.race([backend.probe(), timeout]);
    return backend.location;
  } finally {
    clearTimeout(timer);
  }
}
