import { checkPrefix } from "./keys.ts";
import type { AzureRepoConfig, S3RepoConfig } from "./types.ts";

// A repo's location for messages ("s3://bucket/prefix"), known without loading its SDK.

/** The prefix as backends use it: no trailing "/", checked like a key. */
export function repoPrefix(prefix: string | undefined): string {
  return prefix ? checkPrefix(prefix.replace(/\/+$/, "")) : "";
}

export function s3Location(config: Pick<S3RepoConfig, "bucket" | "prefix">): string {
  const prefix = repoPrefix(config.prefix);
  return `s3://${config.bucket}${prefix ? `/${prefix}` : ""}`;
}

export function azureLocation(config: Pick<AzureRepoConfig, "accountName" | "container" | "prefix">): string {
  const prefix = repoPrefix(config.prefix);
  return `azure://${config.accountName}/${config.container}${prefix ? `/${prefix}` : ""}`;
}
