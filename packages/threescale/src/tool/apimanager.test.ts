import { expect } from "chai";
import { componentDeployment, fileStorageOf, isDeploymentReady, runByAPIManager, s3ConfigFromSecret, secretMayBeAbsent, selectAPIManager, systemStorageClaim, type APIManagerObject } from "./apimanager.ts";
import { Reason } from "./reasons.ts";

const am = (name: string, spec: APIManagerObject["spec"] = { wildcardDomain: "example.com" }): APIManagerObject => ({ metadata: { name }, spec });

describe("threescale APIManager decisions", () => {
  const cases: Array<[string, APIManagerObject[], string | undefined, string]> = [
    ["none", [], undefined, Reason.APIManagerNotFound],
    ["one", [am("a")], undefined, "a"],
    ["two", [am("a"), am("b")], undefined, Reason.MultipleAPIManagers],
    ["two, one named", [am("a"), am("b")], "b", "b"],
    ["named but absent", [am("a")], "x", Reason.APIManagerNotFound],
  ];
  for (const [what, items, name, want] of cases) {
    it(`selects the APIManager: ${what} -> ${want}`, () => {
      const r = selectAPIManager(items, "ns", name);
      expect(r.ok ? r.apimanager.metadata.name : r.reason).to.equal(want);
      if (!r.ok) expect(r.message).to.contain("ns");
    });
  }

  it("sizes and classes the system-storage PVC from the backed-up spec, 100Mi only by default", () => {
    const sized = am("a", { system: { fileStorage: { persistentVolumeClaim: { storageClassName: "fast", volumeName: "pv1", resources: { requests: "3Gi" } } } } });
    expect(systemStorageClaim(sized, "ns", "ReadWriteMany")).to.deep.include({ spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "3Gi" } }, storageClassName: "fast", volumeName: "pv1" } });
    expect((systemStorageClaim(am("a"), "ns", "ReadWriteMany")!.spec as { resources: unknown }).resources).to.deep.equal({ requests: { storage: "100Mi" } });
    expect(fileStorageOf(am("a", { system: { fileStorage: { persistentVolumeClaim: { resources: { requests: { storage: "2Gi" } } } } } }))).to.deep.include({ storage: "2Gi" });
    const s3 = am("a", { system: { fileStorage: { simpleStorageService: { configurationSecretRef: { name: "aws" } } } } });
    expect(fileStorageOf(s3)).to.deep.equal({ kind: "s3", secretName: "aws", sts: false });
    expect(systemStorageClaim(s3, "ns", "ReadWriteMany")).to.equal(undefined);
  });

  const absent: Array<[string, APIManagerObject["spec"], boolean]> = [
    ["system-recaptcha", {}, true],
    ["system-app", {}, false],
    ["system-database", {}, true],
    ["system-database", { externalComponents: { system: { database: true } } }, false],
    ["backend-redis", { externalComponents: { backend: { redis: true } } }, false],
    ["system-redis", { externalComponents: { backend: { redis: true } } }, true],
    ["zync", {}, false],
  ];
  for (const [name, spec, want] of absent) it(`${name} may be absent with ${JSON.stringify(spec)}: ${want}`, () => expect(secretMayBeAbsent(name, am("a", spec))).to.equal(want));

  it("the APIManager runs each database spec.externalComponents does not mark external, in the Deployment status.deployments names", () => {
    const all = ["system-database", "zync-database", "system-redis", "backend-redis", "backend-redis-queues"];
    expect(all.filter((c) => runByAPIManager(c, am("a", {})))).to.deep.equal(all);
    const ext = am("a", { externalComponents: { system: { database: true, redis: true }, backend: { redis: true }, zync: { database: true } } });
    expect(all.filter((c) => runByAPIManager(c, ext))).to.deep.equal([]);
    const some = am("a", { externalComponents: { system: { database: true, redis: true }, backend: { redis: true } } });
    expect(all.filter((c) => runByAPIManager(c, some))).to.deep.equal(["zync-database"]);
    expect(runByAPIManager("other", am("a", {}))).to.equal(false);
    expect(all.map((c) => componentDeployment(c, c === "system-database" ? "mysql" : undefined))).to.deep.equal(["system-mysql", "zync-database", "system-redis", "backend-redis", "backend-redis"]);
    expect(componentDeployment("system-database", "postgresql")).to.equal("system-postgresql");
  });

  it("reads S3 settings from the configuration Secret and names missing keys", () => {
    const ok = s3ConfigFromSecret({ AWS_ACCESS_KEY_ID: "k", AWS_SECRET_ACCESS_KEY: "s", AWS_BUCKET: "b", AWS_HOSTNAME: "127.0.0.1:9000", AWS_PROTOCOL: "HTTP", AWS_PATH_STYLE: "true" }, "aws");
    expect(ok).to.deep.equal({ ok: true, config: { kind: "s3", bucket: "b", region: "us-east-1", endpoint: "http://127.0.0.1:9000", forcePathStyle: true, accessKeyId: "k", secretAccessKey: "s" } });
    const bad = s3ConfigFromSecret({ AWS_BUCKET: "b" }, "aws");
    expect(bad.ok).to.equal(false);
    if (!bad.ok) expect(bad.message).to.contain("AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY").and.contain('"aws"');
  });

  it("reads readiness from status.deployments.ready", () => {
    expect(isDeploymentReady({ metadata: {}, status: { deployments: { ready: ["system-sidekiq"] } } }, "system-sidekiq")).to.equal(true);
    expect(isDeploymentReady({ metadata: {}, status: { deployments: { starting: ["system-sidekiq"] } } }, "system-sidekiq")).to.equal(false);
    expect(isDeploymentReady(undefined, "system-sidekiq")).to.equal(false);
  });
});
