import { randomBytes } from "node:crypto";
import { Readable } from "node:stream";
import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from "@aws-sdk/client-s3";
import { Upload } from "@aws-sdk/lib-storage";
import { RepoError } from "./errors.ts";
import { checkKey, checkPrefix } from "./keys.ts";
import type { ObjectInfo, PutBody, RepoBackend, S3RepoConfig } from "./types.ts";
import { mapS3Error } from "./s3-errors.ts";

const MiB = 1024 * 1024;

/** A repo in an S3-compatible bucket (AWS, MinIO, versitygw, Ceph RGW...). */
export class S3Backend implements RepoBackend {
  readonly kind = "s3" as const;
  readonly location: string;
  readonly client: S3Client;
  private readonly bucket: string;
  private readonly prefix: string;
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly endpoint: string;

  constructor(config: Omit<S3RepoConfig, "kind">) {
    if (!config.bucket) throw new RepoError("InvalidConfig", "S3 repo needs a bucket");
    this.bucket = config.bucket;
    this.prefix = config.prefix ? checkPrefix(config.prefix.replace(/\/+$/, "")) : "";
    this.partSize = Math.max(5 * MiB, config.partSize ?? 8 * MiB);
    this.queueSize = Math.max(1, config.queueSize ?? 2);
    this.endpoint = config.endpoint ?? `https://s3.${config.region ?? "us-east-1"}.amazonaws.com`;
    this.location = `s3://${this.bucket}${this.prefix ? "/" + this.prefix : ""}`;
    const credentials =
      config.accessKeyId && config.secretAccessKey
        ? { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey, sessionToken: config.sessionToken }
        : undefined;
    this.client = new S3Client({
      endpoint: config.endpoint,
      region: config.region ?? "us-east-1",
      forcePathStyle: config.forcePathStyle ?? false,
      credentials,
      // "standard": exponential backoff with jitter on throttling, 5xx and network errors.
      retryMode: "standard",
      maxAttempts: config.maxAttempts ?? 4,
      // A server (or a path to it) that stops answering mid-transfer would hang a request for
      // ever: a silent socket is dropped, and the request retried like any network error.
      requestHandler: { connectionTimeout: config.connectTimeoutMs ?? 5000, socketTimeout: config.idleTimeoutMs ?? 60_000 },
      // S3-compatible servers differ in their support for the newer default checksums.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  private fullKey(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private shortKey(full: string): string {
    return this.prefix ? full.slice(this.prefix.length + 1) : full;
  }

  private fail(err: unknown, key: string, op: string): RepoError {
    return mapS3Error(err, { op, bucket: this.bucket, key: key && this.fullKey(key), endpoint: this.endpoint });
  }

  async put(key: string, body: PutBody): Promise<number> {
    // Before the body is touched: a "data" listener below starts it flowing.
    await this.abortLeftUploads(key);
    let size = 0;
    // Lent buffers are copied: the SDK keeps them until a whole part is assembled.
    const counted = Buffer.isBuffer(body) || body instanceof Readable ? body : Readable.from(copies(body), { objectMode: false, highWaterMark: 1 << 20 });
    if (Buffer.isBuffer(counted)) size = counted.length;
    else counted.on("data", (c: Buffer) => (size += c.length));
    // Upload sends one PUT below partSize, otherwise a multipart upload that it
    // aborts (no orphan parts) when a part or the body stream fails.
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.fullKey(key), Body: counted },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (err) {
      if (!Buffer.isBuffer(counted)) counted.destroy();
      throw this.fail(err, key, "write");
    }
    return size;
  }

  /**
   * Aborts multipart uploads of `key` an earlier writer left (its abort could not reach the
   * server: an outage, a killed process), so a retry leaves no orphan parts behind. One writer per
   * key at a time is the repo's rule, so none of them is still running. Best effort: a bucket
   * policy without s3:ListBucketMultipartUploads, or a server without the call, must not stop
   * the write itself (which reports its own errors).
   */
  private async abortLeftUploads(key: string): Promise<void> {
    const Key = this.fullKey(key);
    try {
      const res = await this.client.send(new ListMultipartUploadsCommand({ Bucket: this.bucket, Prefix: Key }));
      for (const u of res.Uploads ?? []) {
        if (u.Key === Key && u.UploadId) await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key, UploadId: u.UploadId }));
      }
    } catch {
      // Left for the bucket's lifecycle rule (AbortIncompleteMultipartUpload).
    }
  }

  async get(key: string): Promise<Readable> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      if (!(res.Body instanceof Readable)) throw new RepoError("Failed", `S3 returned no body for ${this.location}/${key}`);
      return res.Body;
    } catch (err) {
      throw this.fail(err, key, "read");
    }
  }

  async getRange(key: string, offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) throw new RepoError("Failed", `invalid range ${offset}+${length} of ${this.location}/${key}`);
    const short = (size: string | number | undefined) =>
      new RepoError("Failed", `object ${this.location}/${key} is shorter than ${offset + length} bytes${size === undefined ? "" : ` (${size} there)`}: truncated or not what the reader expects`);
    if (length === 0) {
      // No HTTP range is empty: the object's size answers.
      const info = await this.stat(key);
      if (!info) throw new RepoError("NotFound", `object s3://${this.bucket}/${this.fullKey(key)} not found`);
      if (info.size < offset) throw short(info.size);
      return Buffer.alloc(0);
    }
    let body: Buffer;
    let ranged: boolean;
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key), Range: `bytes=${offset}-${offset + length - 1}` }));
      if (!res.Body) throw new RepoError("Failed", `S3 returned no body for ${this.location}/${key}`);
      body = Buffer.from(await res.Body.transformToByteArray());
      ranged = res.ContentRange !== undefined;
    } catch (err) {
      // 416: the range starts at or past the end.
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === "InvalidRange" || e.$metadata?.httpStatusCode === 416) throw short(undefined);
      throw this.fail(err, key, "read");
    }
    // A server that ignores Range answers 200 with the whole object.
    if (!ranged && body.length > length) body = body.subarray(offset, offset + length);
    if (body.length !== length) throw short(ranged ? undefined : body.length);
    return body;
  }

  async stat(key: string): Promise<ObjectInfo | undefined> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
      return { key, size: res.ContentLength ?? 0, modified: res.LastModified };
    } catch (err) {
      const mapped = this.fail(err, key, "stat");
      if (mapped.code === "NotFound") return undefined;
      throw mapped;
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkPrefix(prefix);
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    let token: string | undefined;
    do {
      let res;
      try {
        res = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }),
        );
      } catch (err) {
        throw this.fail(err, "", "list");
      }
      for (const o of res.Contents ?? []) {
        if (o.Key) yield { key: this.shortKey(o.Key), size: o.Size ?? 0, modified: o.LastModified };
      }
      token = res.IsTruncated ? res.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.fullKey(key) }));
    } catch (err) {
      const mapped = this.fail(err, key, "delete");
      if (mapped.code !== "NotFound") throw mapped;
    }
  }

  async deletePrefix(prefix: string): Promise<number> {
    let n = 0;
    let batch: string[] = [];
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const objects = batch.map((k) => ({ Key: this.fullKey(k) }));
      batch = [];
      try {
        const res = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: objects, Quiet: true } }),
        );
        const first = res.Errors?.[0];
        if (first) throw new RepoError("Failed", `cannot delete s3://${this.bucket}/${first.Key}: ${first.Code} ${first.Message ?? ""}`.trim());
      } catch (err) {
        throw this.fail(err, "", "delete");
      }
      n += objects.length;
    };
    for await (const o of this.list(prefix)) {
      batch.push(o.key);
      if (batch.length === 1000) await flush();
    }
    await flush();
    return n;
  }

  async probe(): Promise<void> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
    } catch (err) {
      throw this.fail(err, "", "access bucket");
    }
    const key = `.dp-probe-${randomBytes(6).toString("hex")}`;
    await this.put(key, Buffer.from("probe"));
    await this.delete(key);
  }
}

async function* copies(body: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const b of body) yield Buffer.from(b);
}
