import { RepoError } from "./errors.ts";
import { FilesystemBackend } from "./filesystem.ts";
import { LazyS3Backend } from "./lazy-s3.ts";
import type { RepoBackend, RepoConfig } from "./types.ts";

/** Build the backend a config names. Throws RepoError("InvalidConfig") on a malformed config. */
export function backendFromConfig(config: RepoConfig): RepoBackend {
  switch (config.kind) {
    case "filesystem":
      return new FilesystemBackend(config);
    case "s3":
      return new LazyS3Backend(config);
    default:
      throw new RepoError("InvalidConfig", `unknown repo kind ${JSON.stringify((config as { kind: unknown }).kind)}: use filesystem or s3`);
  }
}
