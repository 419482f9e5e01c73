import { RepoError } from "./errors.ts";

interface Where {
  op: string;
  account: string;
  container: string;
  /** Full blob name ("" for container-level operations). */
  key: string;
  endpoint: string;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ECONNRESET", "ETIMEDOUT", "ESOCKETTIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "EPIPE", "REQUEST_SEND_ERROR"]);
const AUTH_CODES = new Set(["AuthenticationFailed", "AuthorizationFailure", "AuthorizationPermissionMismatch", "InvalidAuthenticationInfo", "NoAuthenticationInformation", "AccountIsDisabled", "InsufficientAccountPermissions"]);

/** Turn an Azure SDK (RestError) or network error into a RepoError whose one-line message says what to fix. */
export function mapAzureError(err: unknown, where: Where): RepoError {
  if (err instanceof RepoError) return err;
  const e = (typeof err === "object" && err !== null ? err : {}) as {
    name?: string;
    code?: string;
    statusCode?: number;
    message?: string;
    details?: { errorCode?: string };
  };
  const status = e.statusCode;
  // The service's error code (x-ms-error-code); `code` is also where Node's errno lands.
  const code = e.details?.errorCode ?? e.code ?? "";
  const object = `azure://${where.account}/${where.container}${where.key ? `/${where.key}` : ""}`;
  const opts = { cause: err };
  if (code === "ContainerNotFound" || (status === 404 && !where.key)) {
    return new RepoError("NoSuchBucket", `container "${where.container}" does not exist in storage account "${where.account}" at ${where.endpoint}: create it or fix the repo's container`, opts);
  }
  if (code === "BlobNotFound" || status === 404) {
    return new RepoError("NotFound", `object ${object} not found`, opts);
  }
  if (status === 401 || status === 403 || AUTH_CODES.has(code)) {
    return new RepoError("AccessDenied", `access denied to ${where.op} ${object} (${code || `HTTP ${status}`}): check the repo's accountName and accountKey, and the account's network rules`, opts);
  }
  if (status === undefined && (NETWORK_CODES.has(code) || e.name === "AbortError" || /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|socket hang up|timed? ?out/i.test(e.message ?? ""))) {
    return new RepoError("Unreachable", `cannot reach Azure Blob endpoint ${where.endpoint} to ${where.op} ${object} (${code || e.name || e.message}): check the endpoint and network`, opts);
  }
  if (status === 413 || code === "RequestBodyTooLarge" || code === "BlockCountExceedsLimit" || code === "InsufficientAccountCapacity") {
    return new RepoError("NoSpace", `cannot ${where.op} ${object}: ${code || `HTTP ${status}`}`, opts);
  }
  const detail = [code, status ? `HTTP ${status}` : "", firstLine(e.message)].filter(Boolean).join(": ");
  return new RepoError("Failed", `cannot ${where.op} ${object}: ${detail || String(err)}`, opts);
}

// Service messages carry "RequestId:...\nTime:..." lines: keep the first.
function firstLine(s: string | undefined): string {
  return (s ?? "").split("\n")[0]!.trim();
}
