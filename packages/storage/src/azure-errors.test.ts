import { expect } from "chai";
import { mapAzureError } from "./azure-errors.ts";

const blob = { op: "read", account: "acct", container: "backups", key: "ns/b/dir.dpar", endpoint: "https://acct.blob.core.windows.net" };
const container = { ...blob, op: "access container", key: "" };

describe("Azure Blob error mapping", () => {
  const rows: Array<[string, object, typeof blob, string, RegExp]> = [
    ["a missing container", { statusCode: 404, code: "ContainerNotFound" }, blob, "NoSuchBucket", /^container "backups" does not exist in storage account "acct" at https:\/\/acct\.blob\.core\.windows\.net: create it/],
    ["a 404 on a container-level call without a code (HEAD)", { statusCode: 404 }, container, "NoSuchBucket", /container "backups" does not exist/],
    ["a missing blob", { statusCode: 404, details: { errorCode: "BlobNotFound" } }, blob, "NotFound", /^object azure:\/\/acct\/backups\/ns\/b\/dir\.dpar not found$/],
    ["a wrong key", { statusCode: 403, code: "AuthenticationFailed", message: "Server failed to authenticate the request.\nRequestId:1" }, blob, "AccessDenied", /^access denied to read azure:\/\/acct\/backups\/ns\/b\/dir\.dpar \(AuthenticationFailed\): check the repo's accountName and accountKey/],
    ["a refused connection", { name: "RestError", code: "ECONNREFUSED", message: "connect ECONNREFUSED 127.0.0.1:1" }, container, "Unreachable", /^cannot reach Azure Blob endpoint https:\/\/acct\.blob\.core\.windows\.net to access container azure:\/\/acct\/backups \(ECONNREFUSED\)/],
    ["a connect timeout", { code: "ETIMEDOUT", message: "connect ETIMEDOUT" }, blob, "Unreachable", /\(ETIMEDOUT\): check the endpoint and network/],
    ["too many blocks", { statusCode: 409, code: "BlockCountExceedsLimit" }, blob, "NoSpace", /BlockCountExceedsLimit/],
    ["a server error, first line of its message only", { statusCode: 500, code: "InternalError", message: "boom\nRequestId:x\nTime:y" }, blob, "Failed", /^cannot read azure:\/\/acct\/backups\/ns\/b\/dir\.dpar: InternalError: HTTP 500: boom$/],
  ];
  for (const [what, err, where, code, re] of rows) {
    it(`maps ${what} to ${code}`, () => {
      const mapped = mapAzureError(err, where);
      expect(mapped.code).to.equal(code);
      expect(mapped.message).to.match(re);
      expect(mapped.cause).to.equal(err);
    });
  }
});
