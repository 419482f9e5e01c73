import { expect } from "chai";
import { configFromEnv } from "./env.ts";
import { AgentError } from "./errors.ts";

const base = { DP_BACKUP_PATH: "ns/b" };
const azureDoc = JSON.stringify({
  version: 1, kind: "azure", params: { container: "backups", endpoint: "http://127.0.0.1:10000/acct" },
  secretEnv: { accountName: "DP_REPO_SECRET_ACCOUNT_NAME", accountKey: "DP_REPO_SECRET_ACCOUNT_KEY" },
});

describe("dp-agent repo env", () => {
  it("reads the operator's DP_REPO_CONFIG document, secrets from the env it names, over the legacy env", () => {
    const c = configFromEnv({ ...base, DP_REPO_CONFIG: azureDoc, DP_REPO_KIND: "filesystem", DP_REPO_SECRET_ACCOUNT_NAME: "acct", DP_REPO_SECRET_ACCOUNT_KEY: "a2V5" });
    expect(c.repo).to.deep.include({ kind: "azure", container: "backups", endpoint: "http://127.0.0.1:10000/acct", accountName: "acct", accountKey: "a2V5" });
  });

  it("still reads DP_REPO_KIND/DP_REPO_PATH and DP_S3_*/AWS_* without a document", () => {
    expect(configFromEnv({ ...base, DP_REPO_PATH: "/repo" }).repo).to.deep.equal({ kind: "filesystem", root: "/repo" });
    const s3 = configFromEnv({ ...base, DP_REPO_KIND: "s3", DP_S3_BUCKET: "b", DP_S3_FORCE_PATH_STYLE: "true", AWS_ACCESS_KEY_ID: "AK", AWS_SECRET_ACCESS_KEY: "SK" }).repo;
    expect(s3).to.deep.include({ kind: "s3", bucket: "b", forcePathStyle: true, accessKeyId: "AK", secretAccessKey: "SK" });
  });

  const bad: Array<[string, Record<string, string>, RegExp]> = [
    ["a document of a newer version", { DP_REPO_CONFIG: '{"version":2,"kind":"azure"}' }, /^DP_REPO_CONFIG has version 2; this dp-agent reads version 1/],
    ["an unset secret env", { DP_REPO_CONFIG: azureDoc, DP_REPO_SECRET_ACCOUNT_NAME: "acct" }, /^DP_REPO_SECRET_ACCOUNT_KEY is not set: the azure repo needs its secret "accountKey"/],
    ["a legacy kind it does not know", { DP_REPO_KIND: "azure" }, /^DP_REPO_KIND=azure is not supported: use filesystem or s3, or give the repo as DP_REPO_CONFIG/],
  ];
  for (const [what, env, re] of bad) {
    it(`fails with one line naming the env for ${what}`, () => {
      expect(() => configFromEnv({ ...base, ...env })).to.throw(AgentError, re);
    });
  }
});
