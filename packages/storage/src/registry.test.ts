import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { parseRepoDocument, repoConfigFromDocument, repoDocument, serializeRepoDocument } from "./document.ts";
import { RepoError } from "./errors.ts";
import {
  DEFAULT_TOOL_REPO_KIND, backendFromConfig, isRepoEnv, missingRepoSecrets, pickRepoSecrets, repoBackendKinds, repoConfigFrom,
  repoParamProblems, repoSecretEnvName, sensitiveRepoSecretKeys,
} from "./registry.ts";

function invalid(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(RepoError);
    expect((err as RepoError).code).to.equal("InvalidConfig");
    return (err as RepoError).message;
  }
  throw new Error("expected InvalidConfig");
}

describe("repo backend registry", () => {
  it("describes filesystem, s3 and azure, with s3 as the default of Tool repos (KubeBlocks 0.6)", () => {
    expect(repoBackendKinds()).to.deep.equal(["filesystem", "s3", "azure"]);
    expect(DEFAULT_TOOL_REPO_KIND).to.equal("s3");
  });

  const paramRows: Array<[string, string, Record<string, string>, RegExp | undefined]> = [
    ["a valid s3 repo", "s3", { bucket: "b", endpoint: "http://minio:9000", forcePathStyle: "true", prefix: "dp/" }, undefined],
    ["a valid azure repo", "azure", { container: "backups", endpoint: "http://127.0.0.1:10000/devstoreaccount1" }, undefined],
    ["a missing bucket", "s3", { endpoint: "http://x" }, /^parameter "bucket" is required by the s3 backend/],
    ["a missing container", "azure", {}, /^parameter "container" is required by the azure backend/],
    ["an unknown parameter, listing the known ones", "azure", { container: "c", bucket: "b" }, /parameter "bucket" is not one the azure backend takes \(container, endpoint, prefix, maxAttempts, blockSize\)/],
    ["a bad endpoint", "s3", { bucket: "b", endpoint: "ftp://x" }, /parameter "endpoint" must be an http:\/\/ or https:\/\/ URL/],
    ["a bad boolean", "s3", { bucket: "b", forcePathStyle: "yes" }, /parameter "forcePathStyle" must be true or false/],
    ["a bad container name", "azure", { container: "Has_Caps" }, /parameter "container" must be 3-63 lowercase/],
    ["a prefix escaping the repo", "azure", { container: "c", prefix: "../x" }, /parameter "prefix" must be a relative/],
    ["a block size below 1 MiB", "azure", { container: "c", blockSize: "1000" }, /parameter "blockSize" must be an integer >= 1048576/],
    ["an unknown kind", "gcs", {}, /^unknown repo backend type "gcs": use one of filesystem, s3, azure/],
  ];
  for (const [what, kind, params, re] of paramRows) {
    it(`checks parameters: ${what}`, () => {
      const problems = repoParamProblems(kind, params);
      if (!re) expect(problems).to.deep.equal([]);
      else expect(problems.join("; ")).to.match(re);
    });
  }

  it("picks a backend's Secret keys in either spelling, canonical first, and nothing else", () => {
    const source = { AWS_ACCESS_KEY_ID: "AK", secretAccessKey: "SK", AWS_SECRET_ACCESS_KEY: "old", sshKey: "unrelated" };
    expect(pickRepoSecrets("s3", source)).to.deep.equal({ accessKeyId: "AK", secretAccessKey: "SK" });
    expect(pickRepoSecrets("azure", { AZURE_STORAGE_ACCOUNT: "acct", accountKey: "k", other: "x" })).to.deep.equal({ accountName: "acct", accountKey: "k" });
    expect(missingRepoSecrets("azure", { accountName: "acct" })).to.deep.equal(['"accountKey" or "AZURE_STORAGE_KEY"']);
    expect(missingRepoSecrets("s3", {}), "s3 falls back to the SDK's default chain").to.deep.equal([]);
  });

  it("names secret env after the key and reserves the repo's env for the operator", () => {
    expect(repoSecretEnvName("accessKeyId")).to.equal("DP_REPO_SECRET_ACCESS_KEY_ID");
    expect(repoSecretEnvName("accountKey")).to.equal("DP_REPO_SECRET_ACCOUNT_KEY");
    for (const name of ["DP_REPO_CONFIG", "DP_REPO_SECRET_ACCOUNT_KEY", "DP_REPO_KIND", "DP_S3_BUCKET", "AWS_PROFILE"]) expect(isRepoEnv(name), name).to.equal(true);
    for (const name of ["PGHOST", "DATA_DIR", "AZURE_FOO_DIR"]) expect(isRepoEnv(name), name).to.equal(false);
    expect(sensitiveRepoSecretKeys()).to.include.members(["secretAccessKey", "AWS_SECRET_ACCESS_KEY", "accountKey", "AZURE_STORAGE_KEY"]).and.not.include("accessKeyId");
  });

  it("builds typed configs, the caller's tuning over the parameters", () => {
    const c = repoConfigFrom("s3", { bucket: "b", forcePathStyle: "false", maxAttempts: "7", partSize: String(6 << 20) }, { accessKeyId: "AK", secretAccessKey: "SK" }, { maxAttempts: 2, connectTimeoutMs: 1000 });
    expect(c).to.deep.include({ kind: "s3", bucket: "b", forcePathStyle: false, maxAttempts: 2, partSize: 6 << 20, connectTimeoutMs: 1000, accessKeyId: "AK", secretAccessKey: "SK" });
    expect(invalid(() => repoConfigFrom("azure", { container: "backups" }, { accountName: "a" }))).to.equal('the azure backend needs secret "accountKey" or "AZURE_STORAGE_KEY" in the repo\'s credential Secret');
    expect(invalid(() => backendFromConfig({ kind: "nfs" } as never))).to.match(/unknown repo backend type "nfs"/);
    expect(backendFromConfig({ kind: "azure", container: "c", accountName: "acct", accountKey: "k", prefix: "x/y/" }).location).to.equal("azure://acct/c/x/y");
    expect(backendFromConfig({ kind: "s3", bucket: "b" }).location).to.equal("s3://b");
  });
});

describe("repo backends load their SDK on first use", () => {
  it("describes every backend and builds s3 and azure ones without importing either SDK (dp-agent's start time)", function () {
    this.timeout(30_000);
    // A resolve hook in a fresh process refuses both SDKs: any eager import fails the child.
    const hook = `export async function resolve(s, c, next) { const r = await next(s, c); if (/node_modules\\/(@azure\\/storage-blob|@aws-sdk\\/client-s3)\\//.test(r.url)) throw new Error("SDK loaded: " + s); return r; }`;
    const code = [
      `import { register } from "node:module";`,
      `register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hook)}));`,
      `const m = await import(${JSON.stringify(new URL("./index.ts", import.meta.url).href)});`,
      `const built = [m.backendFromConfig({ kind: "azure", container: "backups", accountName: "a", accountKey: "k" }), m.backendFromConfig({ kind: "s3", bucket: "b" })];`,
      `const blocked = await import("@azure/storage-blob").then(() => "not blocked", () => "blocked");`,
      `console.log([...built.map((b) => b.location), m.repoBackendKinds().join(","), blocked].join(" "));`,
    ].join("\n");
    const out = execFileSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { encoding: "utf8" });
    expect(out.trim()).to.equal("azure://a/backups s3://b filesystem,s3,azure blocked");
  });
});

describe("repo document (DP_REPO_CONFIG)", () => {
  const env = { DP_REPO_SECRET_ACCOUNT_NAME: "acct", DP_REPO_SECRET_ACCOUNT_KEY: "a2V5" };

  it("round-trips: params in the document, secrets only as env names", () => {
    const doc = repoDocument("azure", { prefix: "dp", container: "backups" }, true);
    const text = serializeRepoDocument(doc);
    expect(text).to.equal('{"version":1,"kind":"azure","params":{"container":"backups","prefix":"dp"},"secretEnv":{"accountName":"DP_REPO_SECRET_ACCOUNT_NAME","accountKey":"DP_REPO_SECRET_ACCOUNT_KEY"}}');
    expect(parseRepoDocument(text)).to.deep.equal(doc);
    expect(repoConfigFromDocument(parseRepoDocument(text), env)).to.deep.include({ kind: "azure", container: "backups", prefix: "dp", accountName: "acct", accountKey: "a2V5" });
    expect(repoDocument("s3", { bucket: "b" }, false).secretEnv, "no credential Secret: no secret env").to.deep.equal({});
  });

  const parseRows: Array<[string, string, RegExp]> = [
    ["not JSON", "{", /^DP_REPO_CONFIG is not JSON/],
    ["an array", "[]", /^DP_REPO_CONFIG must be a JSON object/],
    ["a newer version", '{"version":2,"kind":"s3"}', /^DP_REPO_CONFIG has version 2; this dp-agent reads version 1: run the dp-agent image that comes with the operator/],
    ["no version", '{"kind":"s3"}', /has version undefined/],
    ["an unknown kind", '{"version":1,"kind":"gcs"}', /unknown repo backend type "gcs"/],
    ["a non-string parameter", '{"version":1,"kind":"s3","params":{"bucket":1}}', /"params.bucket" must be a string/],
    ["a bad env name", '{"version":1,"kind":"s3","secretEnv":{"accessKeyId":"A B"}}', /"secretEnv.accessKeyId" is not an env var name/],
  ];
  for (const [what, text, re] of parseRows) it(`refuses ${what}`, () => expect(invalid(() => parseRepoDocument(text))).to.match(re));

  it("names the unset env of a required secret, a secret the backend does not take, and a missing parameter", () => {
    const doc = repoDocument("azure", { container: "backups" }, true);
    expect(invalid(() => repoConfigFromDocument(doc, { DP_REPO_SECRET_ACCOUNT_NAME: "acct" }))).to.equal('DP_REPO_SECRET_ACCOUNT_KEY is not set: the azure repo needs its secret "accountKey" there: add key "accountKey" to the repo\'s credential Secret');
    expect(invalid(() => repoConfigFromDocument({ ...doc, secretEnv: { sshKey: "X" } }, {}))).to.match(/secretEnv names "sshKey", which the azure backend does not take \(accountName, accountKey\)/);
    expect(invalid(() => repoConfigFromDocument({ ...doc, params: {} }, env))).to.match(/^DP_REPO_CONFIG: parameter "container" is required/);
    // An optional secret (s3 session token) may be unset.
    const s3 = repoConfigFromDocument(repoDocument("s3", { bucket: "b" }, true), { DP_REPO_SECRET_ACCESS_KEY_ID: "AK", DP_REPO_SECRET_SECRET_ACCESS_KEY: "SK" });
    expect(s3).to.deep.include({ accessKeyId: "AK", secretAccessKey: "SK", sessionToken: undefined });
  });
});
