// Repo backends shared by dp-agent (data path) and the controllers (repo pre-check, deleting backups).
export type { ObjectInfo, RepoBackend, RepoConfig, FilesystemRepoConfig, S3RepoConfig } from "./types.ts";
export { RepoError, isRepoError } from "./errors.ts";
export type { RepoErrorCode } from "./errors.ts";
export { backendFromConfig } from "./config.ts";
export { FilesystemBackend } from "./filesystem.ts";
export { S3Backend } from "./s3.ts";
export { checkKey } from "./keys.ts";
