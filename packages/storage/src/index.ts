// Repo backends shared by dp-agent (data path) and the controllers (repo pre-check, deleting backups).
export type { ObjectFile, ObjectInfo, PutBody, RepoBackend, RepoConfig, FilesystemRepoConfig, S3RepoConfig, AzureRepoConfig } from "./types.ts";
export { EXIT_STORAGE_UNREACHABLE, RepoError, isRepoError, isUnreachable } from "./errors.ts";
export type { RepoErrorCode } from "./errors.ts";
// The registry: one descriptor per backend (kind, parameters, Secret keys, how to build it).
export {
  DEFAULT_TOOL_REPO_KIND, REPO_ENV_PREFIX, backendFromConfig, findRepoBackend, isRepoEnv, missingRepoSecrets, pickRepoSecrets,
  repoBackend, repoBackendKinds, repoConfigFrom, repoParamProblems, repoSecretEnvName, sensitiveRepoSecretKeys,
} from "./registry.ts";
export type { BackendDescriptor, ParamSpec, Params, SecretSpec, Tuning } from "./registry.ts";
// The document the operator hands dp-agent (DP_REPO_CONFIG).
export { REPO_CONFIG_ENV, REPO_CONFIG_VERSION, parseRepoDocument, repoConfigFromDocument, repoDocument, serializeRepoDocument } from "./document.ts";
export type { RepoDocument } from "./document.ts";
export { FilesystemBackend } from "./filesystem.ts";
// Types only: importing an SDK is left to the first call on such a repo (see lazy.ts).
export type { S3Backend } from "./s3.ts";
export type { AzureBackend } from "./azure.ts";
export { checkKey } from "./keys.ts";
