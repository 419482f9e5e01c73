import type { Readable } from "node:stream";
import { RepoError } from "./errors.ts";
import type { ObjectInfo, PutBody, RepoBackend, RepoConfig } from "./types.ts";

/**
 * A repo whose backend module (and its SDK) is loaded on first use: the AWS SDK costs ~0.3 s
 * and ~30 MiB at startup, the Azure SDK about as much, which every dp-agent run on another
 * kind of repo would otherwise pay. `kind` and `location` are known without loading it, so a
 * bad config still fails at construction (the descriptor checks it first).
 */
export class LazyBackend implements RepoBackend {
  private impl?: Promise<RepoBackend>;

  constructor(
    readonly kind: RepoConfig["kind"],
    readonly location: string,
    private readonly load: () => Promise<RepoBackend>,
  ) {}

  private backend(): Promise<RepoBackend> {
    return (this.impl ??= this.load());
  }

  async put(key: string, body: PutBody): Promise<number> {
    return (await this.backend()).put(key, body);
  }
  async get(key: string): Promise<Readable> {
    return (await this.backend()).get(key);
  }
  /** Ranged reads (the dedup reader's chunks): the backend's own, else read through get() (a backend without them). */
  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    const b = await this.backend();
    if (b.getRange) return b.getRange(key, offset, length);
    const parts: Buffer[] = [];
    let at = 0;
    let got = 0;
    for await (const chunk of await b.get(key)) {
      const c = chunk as Buffer;
      const from = Math.max(0, offset - at);
      const to = Math.min(c.length, offset + length - at);
      if (to > from) {
        parts.push(c.subarray(from, to));
        got += to - from;
      }
      at += c.length;
      if (got === length) break;
    }
    if (got < length) throw new RepoError("Failed", `object ${this.location}/${key} is shorter than ${offset + length} bytes (it has ${at})`);
    return Buffer.concat(parts, length);
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
