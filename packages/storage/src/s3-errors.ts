import { RepoError } from "./errors.ts";

interface Where {
  op: string;
  bucket: string;
  key: string;
  endpoint: string;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "TimeoutError"]);

/** Turn an SDK or network error into a RepoError whose one-line message says what to fix. */
export function mapS3Error(err: unknown, where: Where): RepoError {
  if (err instanceof RepoError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    name?: string;
    code?: string;
    message?: string;
    $metadata?: { httpStatusCode?: number };
  };
  const status = e.$metadata?.httpStatusCode;
  const name = e.name ?? "";
  const object = where.key ? `s3://${where.bucket}/${where.key}` : `s3://${where.bucket}`;
  const opts = { cause: err };
  if (name === "NoSuchBucket" || (name === "NotFound" && !where.key)) {
    return new RepoError("NoSuchBucket", `bucket "${where.bucket}" does not exist at ${where.endpoint}: create it or fix the repo's bucket`, opts);
  }
  if (name === "NoSuchKey" || name === "NotFound" || status === 404) {
    return new RepoError("NotFound", `object ${object} not found`, opts);
  }
  if (status === 403 || name === "AccessDenied" || name === "InvalidAccessKeyId" || name === "SignatureDoesNotMatch") {
    return new RepoError("AccessDenied", `access denied to ${where.op} ${object} (${name || "403"}): check the repo's credentials and bucket policy`, opts);
  }
  const code = e.code ?? name;
  if (NETWORK_CODES.has(code) || (status === undefined && /ECONNREFUSED|ENOTFOUND|socket|timed? ?out/i.test(e.message ?? ""))) {
    return new RepoError("Unreachable", `cannot reach S3 endpoint ${where.endpoint} to ${where.op} ${object} (${code || e.message}): check the endpoint and network`, opts);
  }
  if (name === "EntityTooLarge" || name === "QuotaExceeded") {
    return new RepoError("NoSpace", `cannot ${where.op} ${object}: ${name}`, opts);
  }
  const detail = [name, status ? `HTTP ${status}` : "", e.message].filter(Boolean).join(": ");
  return new RepoError("Failed", `cannot ${where.op} ${object}: ${detail || String(err)}`, opts);
}
