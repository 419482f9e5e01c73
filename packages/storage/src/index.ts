// Repo backends shared by dp-agent (data path) and the controllers (repo pre-check, deleting backups).
export type { ObjectFile, ObjectInfo, PutBody, RepoBackend, RepoConfig, FilesystemRepoConfig, S3RepoConfig } from "./types.ts";
export { RepoError, isRepoError } from "./errors.ts";
export type { RepoErrorCode } from "./errors.ts";
export { backendFromConfig } from "./config.ts";
export { FilesystemBackend } from "./filesystem.ts";
// Type only: importing the SDK is left to the first S3 call (see lazy-s3.ts).
export type { S3Backend } from "./s3.ts";
export { checkKey } from "./keys.ts";
