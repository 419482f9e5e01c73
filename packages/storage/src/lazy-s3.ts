import type { Readable } from "node:stream";
import { RepoError } from "./errors.ts";
import { checkPrefix } from "./keys.ts";
import type { S3Backend } from "./s3.ts";
import type { ObjectInfo, PutBody, RepoBackend, S3RepoConfig } from "./types.ts";

/**
 * An S3 repo that loads the AWS SDK on first use: the SDK costs ~0.3 s and ~30 MiB
 * at startup, which every dp-agent run on a filesystem repo would otherwise pay.
 */
export class LazyS3Backend implements RepoBackend {
  readonly kind = "s3" as const;
  readonly location: string;
  private impl?: Promise<S3Backend>;

  constructor(private readonly config: Omit<S3RepoConfig, "kind">) {
    // The same checks S3Backend makes, so a bad config still fails at construction.
    if (!config.bucket) throw new RepoError("InvalidConfig", "S3 repo needs a bucket");
    const prefix = config.prefix ? checkPrefix(config.prefix.replace(/\/+$/, "")) : "";
    this.location = `s3://${config.bucket}${prefix ? "/" + prefix : ""}`;
  }

  private backend(): Promise<S3Backend> {
    return (this.impl ??= import("./s3.ts").then((m) => new m.S3Backend(this.config)));
  }

  async put(key: string, body: PutBody): Promise<number> {
    return (await this.backend()).put(key, body);
  }
  async get(key: string): Promise<Readable> {
    return (await this.backend()).get(key);
  }
  async stat(key: string): Promise<ObjectInfo | undefined> {
    return (await this.backend()).stat(key);
  }
  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    yield* (await this.backend()).list(prefix);
  }
  async delete(key: string): Promise<void> {
    return (await this.backend()).delete(key);
  }
  async deletePrefix(prefix: string): Promise<number> {
    return (await this.backend()).deletePrefix(prefix);
  }
  async probe(): Promise<void> {
    return (await this.backend()).probe();
  }
}
