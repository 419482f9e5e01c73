// I/O: the pre-check of a Tool (S3) repo, run from the operator with the storage
// backend dp-agent uses: write, read back and delete a probe object.
import type { BackupRepo, StorageProvider } from "@dataprotection/api";
import { backendFromConfig, type S3RepoConfig } from "@dataprotection/storage";
import { agentConfigFor } from "../storageprovider/agentconfig.ts";
import { credentialCopyData } from "./access.ts";

/** The backend config for a Tool repo (pure). Throws when the provider renders no bucket. */
export function s3ConfigFor(repo: BackupRepo, provider: StorageProvider | undefined, credential: Record<string, string> | undefined): S3RepoConfig {
  const c = agentConfigFor(provider, repo);
  if (c.type !== "s3") throw new Error(`storage type "${c.type}" is not supported for accessMethod Tool: use s3`);
  if (!c.bucket) throw new Error(`BackupRepo "${repo.metadata?.name}" names no bucket: set .spec.config.bucket`);
  const cred = credentialCopyData(credential ?? {});
  return {
    kind: "s3",
    bucket: c.bucket,
    endpoint: c.endpoint,
    region: c.region ?? "us-east-1",
    forcePathStyle: c.forcePathStyle === undefined ? undefined : c.forcePathStyle === "true",
    prefix: c.prefix,
    accessKeyId: cred.AWS_ACCESS_KEY_ID,
    secretAccessKey: cred.AWS_SECRET_ACCESS_KEY,
    maxAttempts: 2,
    connectTimeoutMs: 5_000,
  };
}

/** Resolves when the probe passed; rejects with a message saying what to fix. Bounded by timeoutMs. */
export async function probeToolRepo(config: S3RepoConfig, timeoutMs: number): Promise<void> {
  const backend = backendFromConfig(config);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer from ${backend.location} within ${Math.round(timeoutMs / 1000)}s: check the endpoint`)), timeoutMs);
  });
  try {
    await Promise.race([backend.probe(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
