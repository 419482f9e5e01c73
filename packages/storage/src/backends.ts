// The repo backends, each described once (see registry.ts). An object store's module and its
// SDK are imported on first use (lazy.ts), so describing or choosing a backend loads nothing.
import { RepoError } from "./errors.ts";
import { FilesystemBackend } from "./filesystem.ts";
import { LazyBackend } from "./lazy.ts";
import { azureLocation, repoPrefix, s3Location } from "./locations.ts";
import type { BackendDescriptor, Params } from "./registry.ts";
import type { AzureRepoConfig, FilesystemRepoConfig, S3RepoConfig } from "./types.ts";

const url = (v: string) => (/^https?:\/\/[^/\s]+/.test(v) ? undefined : "must be an http:// or https:// URL");
const bool = (v: string) => (/^(true|false)$/.test(v) ? undefined : "must be true or false");
const count = (min: number) => (v: string) => (/^\d+$/.test(v) && Number(v) >= min ? undefined : `must be an integer >= ${min}`);
const prefix = (v: string) => {
  try {
    repoPrefix(v);
    return undefined;
  } catch {
    return 'must be a relative "/"-separated path without "." or ".." segments';
  }
};
const int = (v: string | undefined) => (v ? Number(v) : undefined);
const opt = (v: string | undefined) => v || undefined;

const filesystem: BackendDescriptor<FilesystemRepoConfig> = {
  kind: "filesystem",
  help: "a mounted filesystem (the repo PVC at /backupdata)",
  params: { root: { required: true, help: "the repo's root directory" } },
  secrets: {},
  config: (p: Params) => ({ kind: "filesystem", root: p.root! }),
  open: (c) => new FilesystemBackend(c),
};

const s3: BackendDescriptor<S3RepoConfig> = {
  kind: "s3",
  help: "an S3-compatible bucket (AWS, MinIO, Ceph RGW, versitygw...)",
  params: {
    bucket: { required: true, help: "the bucket, created beforehand" },
    endpoint: { help: "e.g. http://minio.minio:9000; AWS when unset", check: url },
    region: { help: "default us-east-1" },
    forcePathStyle: { help: "true: http://host/bucket/key; false: virtual-host addressing", check: bool },
    prefix: { help: "prefix inside the bucket", check: prefix },
    maxAttempts: { help: "attempts per request (default 4)", check: count(1) },
    partSize: { help: "multipart part size in bytes (default 8 MiB, at least 5 MiB)", check: count(5 << 20) },
    idleTimeoutSeconds: { help: "seconds a connection may stay silent mid-request before it is dropped and the request retried (default 60)", check: count(1) },
  },
  secrets: {
    // Not required: without keys the SDK's default chain applies (IRSA, instance profile).
    accessKeyId: { help: "access key id", aliases: ["AWS_ACCESS_KEY_ID"] },
    secretAccessKey: { help: "secret access key", aliases: ["AWS_SECRET_ACCESS_KEY"], sensitive: true },
    sessionToken: { help: "session token of temporary credentials", aliases: ["AWS_SESSION_TOKEN"], sensitive: true },
  },
  // dp-agent's legacy env (DP_S3_*) and the SDK's own (AWS_*).
  envPrefixes: ["DP_S3_", "AWS_"],
  config: (p, s, t) => ({
    kind: "s3",
    bucket: p.bucket!,
    endpoint: opt(p.endpoint),
    region: opt(p.region),
    forcePathStyle: p.forcePathStyle ? p.forcePathStyle === "true" : undefined,
    prefix: opt(p.prefix),
    accessKeyId: s.accessKeyId,
    secretAccessKey: s.secretAccessKey,
    sessionToken: s.sessionToken,
    maxAttempts: t.maxAttempts ?? int(p.maxAttempts),
    partSize: int(p.partSize),
    connectTimeoutMs: t.connectTimeoutMs,
    idleTimeoutMs: p.idleTimeoutSeconds ? Number(p.idleTimeoutSeconds) * 1000 : undefined,
  }),
  open: (c) => {
    if (!c.bucket) throw new RepoError("InvalidConfig", "S3 repo needs a bucket");
    return new LazyBackend("s3", s3Location(c), () => import("./s3.ts").then((m) => new m.S3Backend(c)));
  },
};

const azure: BackendDescriptor<AzureRepoConfig> = {
  kind: "azure",
  help: "an Azure Blob Storage container (or Azurite), Shared Key authentication",
  params: {
    container: { required: true, help: "the container, created beforehand", check: (v) => (/^[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]$/.test(v) ? undefined : "must be 3-63 lowercase letters, digits and single hyphens") },
    endpoint: { help: "blob service URL; default https://<accountName>.blob.core.windows.net", check: url },
    prefix: { help: "prefix inside the container", check: prefix },
    maxAttempts: { help: "attempts per request (default 4)", check: count(1) },
    blockSize: { help: "block size in bytes (default 8 MiB, 1 MiB to 4000 MiB)", check: count(1 << 20) },
  },
  secrets: {
    accountName: { help: "storage account name", aliases: ["AZURE_STORAGE_ACCOUNT"], required: true },
    accountKey: { help: "storage account key (base64)", aliases: ["AZURE_STORAGE_KEY"], required: true, sensitive: true },
  },
  config: (p, s, t) => ({
    kind: "azure",
    container: p.container!,
    accountName: s.accountName!,
    accountKey: s.accountKey!,
    endpoint: opt(p.endpoint),
    prefix: opt(p.prefix),
    maxAttempts: t.maxAttempts ?? int(p.maxAttempts),
    blockSize: int(p.blockSize),
    connectTimeoutMs: t.connectTimeoutMs,
  }),
  open: (c) => {
    if (!c.container || !c.accountName || !c.accountKey) throw new RepoError("InvalidConfig", "Azure Blob repo needs a container, accountName and accountKey");
    return new LazyBackend("azure", azureLocation(c), () => import("./azure.ts").then((m) => new m.AzureBackend(c)));
  },
};

export const BACKENDS = [filesystem, s3, azure] as const;
