import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import { ContainerClient, StorageRetryPolicyType, StorageSharedKeyCredential, type StoragePipelineOptions } from "@azure/storage-blob";
import { mapAzureError } from "./azure-errors.ts";
import { connectTimeoutAgent } from "./connect-timeout.ts";
import { RepoError } from "./errors.ts";
import { checkKey, checkPrefix } from "./keys.ts";
import { azureLocation } from "./locations.ts";
import type { AzureRepoConfig, ObjectInfo, PutBody, RepoBackend } from "./types.ts";

const MiB = 1024 * 1024;
/** The service's limit of committed blocks per blob. */
const MAX_BLOCKS = 50_000;
/** Deletes in flight during deletePrefix. */
const DELETE_CONCURRENCY = 8;

/**
 * A repo in an Azure Blob Storage container (or Azurite), authenticated with the account's
 * Shared Key. put() stages blocks and commits the block list at the end, so a failed upload
 * leaves no visible blob (and an existing one unchanged); the service discards uncommitted
 * blocks a week after their last stage when no commit uses them.
 */
export class AzureBackend implements RepoBackend {
  readonly kind = "azure" as const;
  readonly location: string;
  readonly client: ContainerClient;
  private readonly account: string;
  private readonly container: string;
  private readonly prefix: string;
  private readonly blockSize: number;
  private readonly queueSize: number;
  private readonly endpoint: string;

  constructor(config: Omit<AzureRepoConfig, "kind">) {
    if (!config.container) throw new RepoError("InvalidConfig", "Azure Blob repo needs a container");
    if (!config.accountName || !config.accountKey) throw new RepoError("InvalidConfig", "Azure Blob repo needs accountName and accountKey");
    this.account = config.accountName;
    this.container = config.container;
    this.prefix = config.prefix ? checkPrefix(config.prefix.replace(/\/+$/, "")) : "";
    this.blockSize = Math.min(4000 * MiB, Math.max(MiB, config.blockSize ?? 8 * MiB));
    this.queueSize = Math.max(1, config.queueSize ?? 2);
    this.endpoint = (config.endpoint ?? `https://${config.accountName}.blob.core.windows.net`).replace(/\/+$/, "");
    this.location = azureLocation(config);
    const options: StoragePipelineOptions & { agent: unknown } = {
      retryOptions: { retryPolicyType: StorageRetryPolicyType.EXPONENTIAL, maxTries: config.maxAttempts ?? 4, retryDelayInMs: 500, maxRetryDelayInMs: 10_000 },
      keepAliveOptions: { enable: true },
      // Passed through to the core pipeline's agent policy: every connect is bounded.
      agent: connectTimeoutAgent(this.endpoint, config.connectTimeoutMs ?? 5000),
    };
    const credential = new StorageSharedKeyCredential(config.accountName, config.accountKey);
    this.client = new ContainerClient(`${this.endpoint}/${encodeURIComponent(this.container)}`, credential, options);
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private shortKey(full: string): string {
    return this.prefix ? full.slice(this.prefix.length + 1) : full;
  }

  private fail(err: unknown, key: string, op: string): RepoError {
    return mapAzureError(err, { op, account: this.account, container: this.container, key: key && this.fullKey(key), endpoint: this.endpoint });
  }

  async put(key: string, body: PutBody): Promise<number> {
    const blob = this.client.getBlockBlobClient(this.fullKey(key));
    // Blocks of this upload only: a concurrent put of the same key stages its own ids.
    const upload = randomBytes(6).toString("hex");
    const ids: string[] = [];
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    const stage = async (block: Buffer): Promise<void> => {
      if (ids.length >= MAX_BLOCKS) throw new RepoError("NoSpace", `object ${this.location}/${key} needs more than ${MAX_BLOCKS} blocks of ${this.blockSize} bytes: raise the repo's blockSize`);
      // Every id of a blob has the same length (the service requires it).
      const id = Buffer.from(`${upload}-${String(ids.length).padStart(6, "0")}`).toString("base64");
      ids.push(id);
      const p: Promise<void> = blob.stageBlock(id, block, block.length).then(
        () => void inFlight.delete(p),
        (err: unknown) => {
          failure ??= err;
          inFlight.delete(p);
        },
      );
      inFlight.add(p);
      if (inFlight.size >= this.queueSize) await Promise.race(inFlight);
      if (failure) throw failure;
    };
    let size = 0;
    let block = Buffer.allocUnsafe(this.blockSize);
    let fill = 0;
    try {
      // A buffer lent by the producer is copied into the block before the next is asked for.
      for await (const chunk of Buffer.isBuffer(body) ? [body] : (body as AsyncIterable<Buffer>)) {
        for (let off = 0; off < chunk.length; ) {
          const n = Math.min(chunk.length - off, this.blockSize - fill);
          chunk.copy(block, fill, off, off + n);
          fill += n;
          off += n;
          if (fill === this.blockSize) {
            await stage(block);
            block = Buffer.allocUnsafe(this.blockSize);
            fill = 0;
          }
        }
        size += chunk.length;
      }
      if (ids.length === 0) {
        // Up to one block: a single Put Blob, as atomic as a commit.
        await blob.upload(block.subarray(0, fill), fill);
        return size;
      }
      if (fill > 0) await stage(block.subarray(0, fill));
      await Promise.all(inFlight);
      if (failure) throw failure;
      await blob.commitBlockList(ids);
      return size;
    } catch (err) {
      // Nothing is committed: the staged blocks stay invisible until the service drops them.
      await Promise.all(inFlight);
      if (body instanceof Readable) body.destroy();
      throw this.fail(err, key, "write");
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.client.getBlobClient(this.fullKey(key)).download(0, undefined, { maxRetryRequests: 3 });
      const body = res.readableStreamBody;
      if (!body) throw new RepoError("Failed", `Azure Blob returned no body for ${this.location}/${key}`);
      return body instanceof Readable ? body : Readable.from(body as AsyncIterable<Buffer>);
    } catch (err) {
      throw this.fail(err, key, "read");
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RepoError("Failed", `invalid range ${offset}+${length} of ${this.location}/${key}`);
    const short = (size?: number) =>
      new RepoError("Failed", `object ${this.location}/${key} is shorter than ${offset + length} bytes${size === undefined ? "" : ` (${size} there)`}: truncated or not what the reader expects`);
    if (length === 0) {
      // download(offset, 0) would mean "to the end": the blob's size answers.
      const info = await this.stat(key);
      if (!info) throw new RepoError("NotFound", `object azure://${this.account}/${this.container}/${this.fullKey(key)} not found`);
      if (info.size < offset) throw short(info.size);
      return Buffer.alloc(0);
    }
    const parts: Buffer[] = [];
    try {
      const res = await this.client.getBlobClient(this.fullKey(key)).download(offset, length, { maxRetryRequests: 3 });
      const body = res.readableStreamBody;
      if (!body) throw new RepoError("Failed", `Azure Blob returned no body for ${this.location}/${key}`);
      for await (const c of body as AsyncIterable<Buffer>) parts.push(c);
    } catch (err) {
      // 416: the range starts at or past the end.
      const e = err as { statusCode?: number; details?: { errorCode?: string } };
      if (e.statusCode === 416 || e.details?.errorCode === "InvalidRange") throw short();
      throw this.fail(err, key, "read");
    }
    const b = Buffer.concat(parts);
    if (b.length !== length) throw short();
    return b;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const p = await this.client.getBlobClient(this.fullKey(key)).getProperties();
      return { key, size: p.contentLength ?? 0, modified: p.lastModified };
    } catch (err) {
      const mapped = this.fail(err, key, "stat");
      if (mapped.code === "NotFound") return undefined;
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    const pages = this.client.listBlobsFlat({ prefix: full }).byPage({ maxPageSize: 1000 });
    for (;;) {
      let page;
      try {
        page = await pages.next();
      } catch (err) {
        throw this.fail(err, "", "list");
      }
      if (page.done) return;
      for (const b of page.value.segment.blobItems) {
        yield { key: this.shortKey(b.name), size: b.properties.contentLength ?? 0, modified: b.properties.lastModified };
      }
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.getBlobClient(this.fullKey(key)).delete();
    } catch (err) {
      const mapped = this.fail(err, key, "delete");
      if (mapped.code !== "NotFound") throw mapped;
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    const inFlight = new Set<Promise<void>>();
    let failure: unknown;
    for await (const o of this.list(prefix)) {
      const p: Promise<void> = this.delete(o.key).then(
        () => void (n++, inFlight.delete(p)),
        (err: unknown) => {
          failure ??= err;
          inFlight.delete(p);
        },
      );
      inFlight.add(p);
      if (inFlight.size >= DELETE_CONCURRENCY) await Promise.race(inFlight);
      if (failure) break;
    }
    await Promise.all(inFlight);
    if (failure) throw failure;
    return n;
  }

  async probe(): Promise<void> {
    try {
      await this.client.getProperties();
    } catch (err) {
      throw this.fail(err, "", "access container");
    }
    const key = `.dp-probe-${randomBytes(6).toString("hex")}`;
    await this.put(key, Buffer.from("probe"));
    const parts: Buffer[] = [];
    for await (const c of await this.get(key)) parts.push(c as Buffer);
    await this.delete(key);
    if (Buffer.concat(parts).toString() !== "probe") throw new RepoError("Failed", `probe object ${this.location}/${key} read back differs from what was written`);
  }
}
