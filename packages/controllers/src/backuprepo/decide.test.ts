import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import { AnnotationIsDefaultRepo, LabelBackupRepoName, type Backup, type BackupRepo, type StorageProvider } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";
import { blockingBackups, otherDefaults } from "./decide.ts";
import { preCheckOutcome } from "./precheck.ts";
import { buildRepoPVC } from "./pvc.ts";
import { buildSecretCopy } from "./secret.ts";
import { repoAccessFor } from "./access.ts";
import { parameterProblems } from "../storageprovider/parameters.ts";
import { s3Provider } from "../storageprovider/builtin/index.ts";

const backup = (name: string, status?: string, label?: string) =>
  ({ metadata: { name, namespace: "ns", labels: label ? { [LabelBackupRepoName]: label } : {} }, spec: { backupPolicyName: "p", backupType: "datafile" }, status: status ? { backupRepoName: status } : undefined }) as Backup & KubeObject;
const repo = (name: string, def = false, spec: Partial<BackupRepo["spec"]> = {}) =>
  ({ metadata: { name, generation: 1, annotations: def ? { [AnnotationIsDefaultRepo]: "true" } : {} }, spec: { storageProviderRef: "p", pvReclaimPolicy: "Retain", ...spec } }) as BackupRepo & KubeObject;

describe("BackupRepo decisions", () => {
  it("counts a Backup as using the repo by status.backupRepoName or by label", () => {
    const list = [backup("a", "r"), backup("b", undefined, "r"), backup("c", "other"), backup("d")];
    expect(blockingBackups(list, "r")).to.deep.equal(["ns/a", "ns/b"]);
  });

  it("finds the other default repos only for a default repo", () => {
    const repos = [repo("a", true), repo("b", true), repo("c")];
    expect(otherDefaults(repos, repos[0])).to.deep.equal(["b"]);
    expect(otherDefaults(repos, repos[2])).to.deep.equal([]);
  });

  const job = (status: V1Job["status"], created = "2024-01-01T00:00:00Z"): V1Job => ({ metadata: { creationTimestamp: created as unknown as Date }, status });
  const t0 = Date.parse("2024-01-01T00:00:00Z");
  const rows: Array<[string, V1Job, number, string]> = [
    ["running", job({ active: 1 }), t0 + 1000, "running"],
    ["complete", job({ succeeded: 1, conditions: [{ type: "Complete", status: "True" }] as never }), t0, "passed"],
    ["failed", job({ conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "x" }] as never }), t0, "failed"],
    ["past its bound", job({ active: 1 }), t0 + 61_000, "failed"],
  ];
  for (const [what, j, now, want] of rows) it(`reads a pre-check Job that is ${what}`, () => expect(preCheckOutcome(j, now, 60_000).state).to.equal(want));

  it("prefers the container's termination message for a failed pre-check", () => {
    const out = preCheckOutcome(job({ conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded" }] as never }), t0, 60_000, "cannot write /backupdata/x\n");
    expect(out).to.deep.equal({ state: "failed", timedOut: false, message: "cannot write /backupdata/x" });
  });

  it("builds the repo PVC from the generated StorageClass, ReadWriteMany unless the class says otherwise", () => {
    const r = { ...repo("r", false, { volumeCapacity: "5Gi" }), status: { generatedStorageClassName: "dp-repo-r" } };
    const values = { Parameters: {}, GeneratedStorageClassName: "dp-repo-r", CSIDriverSecretRef: { Name: "", Namespace: "" } };
    const pvc = buildRepoPVC({ repo: r, provider: undefined, namespace: "ns", pvcName: "dp-backup-r", values });
    expect(pvc.spec).to.deep.include({ storageClassName: "dp-repo-r", accessModes: ["ReadWriteMany"], volumeMode: "Filesystem" });
    expect(pvc.spec?.resources?.requests?.storage).to.equal("5Gi");
    expect(pvc.metadata?.labels?.[LabelBackupRepoName]).to.equal("r");
    expect(pvc.metadata?.ownerReferences).to.equal(undefined);
    const rwo = buildRepoPVC({ repo: r, provider: undefined, namespace: "ns", pvcName: "p", values, storageClass: { provisioner: "x", metadata: { annotations: { "dataprotection.kubeblocks.io/access-modes": "ReadWriteOnce" } } } });
    expect(rwo.spec?.accessModes).to.deep.equal(["ReadWriteOnce"]);
  });

  it("builds a PVC from the provider's persistentVolumeClaimTemplate (KubeBlocks pvc provider)", () => {
    const provider = { metadata: { name: "pvc" }, spec: { persistentVolumeClaimTemplate: "spec:\n  storageClassName: {{ .Parameters.storageClassName | default \"std\" }}\n  accessModes:\n    - {{ .Parameters.accessMode | default \"ReadWriteOnce\" }}\n" } } as StorageProvider;
    const r = repo("r", false, { config: { accessMode: "ReadWriteMany" } });
    const pvc = buildRepoPVC({ repo: r, provider, namespace: "ns", pvcName: "p", values: { Parameters: r.spec.config!, GeneratedStorageClassName: "", CSIDriverSecretRef: { Name: "", Namespace: "" } } });
    expect(pvc.spec).to.deep.include({ storageClassName: "std", accessModes: ["ReadWriteMany"] });
  });

  it("maps the credential copy to the Secret keys the backend declares, which the agent env reads", () => {
    const r = repo("r", false, { accessMethod: "Tool", credential: { name: "c", namespace: "ops" }, config: { bucket: "bkt" } });
    const access = repoAccessFor(r, s3Provider());
    const copy = access.secretCopies[0];
    const s = buildSecretCopy(copy, { AWS_ACCESS_KEY_ID: "AK", secretAccessKey: "SK", sshKey: "other things the user keeps here" }, "ns");
    expect(Buffer.from(s.data!.secretAccessKey, "base64").toString()).to.equal("SK");
    // Only what the agent reads leaves the user's namespace, under the backend's names whichever spelling the user chose.
    expect(Object.keys(s.data!).sort()).to.deep.equal(["accessKeyId", "secretAccessKey"]);
    expect(s.metadata?.labels).to.deep.include({ [LabelBackupRepoName]: "r" });
    // One document (no secret in it) and one secretKeyRef per declared key, to the copy.
    const doc = JSON.parse(access.env.find((e) => e.name === "DP_REPO_CONFIG")!.value!) as { version: number; kind: string; params: Record<string, string>; secretEnv: Record<string, string> };
    expect(doc).to.deep.include({ version: 1, kind: "s3" });
    expect(doc.params).to.include({ bucket: "bkt", region: "us-east-1", forcePathStyle: "true" });
    const refs = Object.fromEntries(access.env.filter((e) => e.valueFrom).map((e) => [e.name, e.valueFrom!.secretKeyRef]));
    expect(Object.values(doc.secretEnv).sort()).to.deep.equal(Object.keys(refs).sort());
    expect(refs[doc.secretEnv.secretAccessKey]).to.deep.equal({ name: copy.to, key: "secretAccessKey", optional: true });
    expect(access.env.map((e) => e.name)).to.not.include.members(["DP_S3_BUCKET", "AWS_SECRET_ACCESS_KEY", "DP_REPO_KIND"]);
  });

  it("selects the backend with the provider's type= line and builds the same contract for it", () => {
    const azure = { metadata: { name: "az" }, spec: { agentConfigTemplate: "type=azure\ncontainer={{ .Parameters.container }}\nendpoint={{ .Parameters.endpoint }}\n" } } as StorageProvider;
    const r = repo("r", false, { accessMethod: "Tool", credential: { name: "c", namespace: "ops" }, config: { container: "backups", endpoint: "http://127.0.0.1:10000/acct" } });
    const access = repoAccessFor(r, azure);
    const doc = JSON.parse(access.env.find((e) => e.name === "DP_REPO_CONFIG")!.value!) as { kind: string; params: Record<string, string>; secretEnv: Record<string, string> };
    expect(doc).to.deep.equal({ version: 1, kind: "azure", params: { container: "backups", endpoint: "http://127.0.0.1:10000/acct" }, secretEnv: { accountName: "DP_REPO_SECRET_ACCOUNT_NAME", accountKey: "DP_REPO_SECRET_ACCOUNT_KEY" } });
    const s = buildSecretCopy(access.secretCopies[0], { AZURE_STORAGE_ACCOUNT: "acct", accountKey: "k", accessKeyId: "not azure's" }, "ns");
    expect(Object.keys(s.data!).sort()).to.deep.equal(["accountKey", "accountName"]);
    const bad = (tpl: string) => () => repoAccessFor(r, { ...azure, spec: { agentConfigTemplate: tpl } });
    expect(bad("type=gcs\n")).to.throw(/rendered type=gcs: use one of filesystem, s3, azure/);
    expect(bad("type=azure\nbucket=b\n")).to.throw(/rendered unknown key "bucket": the azure backend takes type, container, endpoint/);
  });

  const paramRows: Array<[string, Record<string, string>, Record<string, string> | undefined, RegExp | undefined]> = [
    ["valid", { bucket: "bkt" }, { accessKeyId: "a", secretAccessKey: "s" }, undefined],
    ["missing bucket", {}, { accessKeyId: "a", secretAccessKey: "s" }, /parameter "bucket" is required: set it in BackupRepo "r" .spec.config/],
    ["missing credential key", { bucket: "bkt" }, { accessKeyId: "a" }, /Secret "ops\/c" has no key "secretAccessKey"/],
    ["bad endpoint", { bucket: "bkt", endpoint: "ftp://x" }, { accessKeyId: "a", secretAccessKey: "s" }, /parameter "endpoint" must match pattern/],
  ];
  for (const [what, config, cred, re] of paramRows) {
    it(`checks parameters against the provider schema: ${what}`, () => {
      const problems = parameterProblems(s3Provider(), repo("r", false, { config, credential: { name: "c", namespace: "ops" } }), cred);
      if (!re) expect(problems).to.deep.equal([]);
      else expect(problems.join("; ")).to.match(re);
    });
  }
});
