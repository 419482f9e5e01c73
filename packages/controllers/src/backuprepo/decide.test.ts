import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import { AnnotationIsDefaultRepo, Finalizer, LabelBackupRepoName, type Backup, type BackupRepo, type StorageProvider } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { blockingBackups, decideRepo, otherDefaults, preCheckReads, type MountPreCheck, type RepoObservation } from "./decide.ts";
import { LabelPreCheckGeneration, generatedStorageClassName, preCheckJobName } from "./names.ts";
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

describe("decideRepo", () => {
  const now = new Date("2024-01-01T00:10:00Z");
  const settings = { operatorNamespace: "dp-system", agentImage: "agent:1", podStartMs: 60_000 };
  const csiProvider = (spec: Partial<StorageProvider["spec"]> = {}, ready = true) =>
    ({
      metadata: { name: "csi" },
      spec: { csiDriverName: "csi.example.com", storageClassTemplate: "provisioner: csi.example.com\nparameters:\n  bucket: {{ .Parameters.bucket }}\n", ...spec },
      status: { phase: ready ? "Ready" : "NotReady", conditions: ready ? [] : [{ type: "Ready", status: "False", reason: "NotReady", message: "no CSI driver", lastTransitionTime: "2024-01-01T00:00:00Z" }] },
    }) as unknown as StorageProvider;
  const mountRepo = (o: { spec?: Partial<BackupRepo["spec"]>; status?: BackupRepo["status"]; finalizer?: boolean; deleting?: boolean } = {}) =>
    ({
      metadata: { name: "r", uid: "u-r", generation: 2, resourceVersion: "7", finalizers: o.finalizer === false ? [] : [Finalizer], ...(o.deleting ? { deletionTimestamp: "2024-01-01T00:09:00Z" } : {}) },
      spec: { storageProviderRef: "csi", pvReclaimPolicy: "Retain", config: { bucket: "b" }, ...o.spec },
      ...(o.status ? { status: o.status } : {}),
    }) as unknown as BackupRepo & KubeObject;
  const observe = (repo: BackupRepo & KubeObject, extra: Partial<RepoObservation> = {}): RepoObservation => ({ repo, repos: [repo], settings, provider: csiProvider(), preCheckJob: null, ...extra });
  const mount = (extra: Partial<MountPreCheck> = {}): MountPreCheck => ({ method: "Mount", sources: {}, pvc: null, jobs: [], ...extra });
  const jobName = preCheckJobName("r", 2);
  const reasons = (d: { events?: Array<{ reason: string }> }) => (d.events ?? []).map((e) => e.reason);
  const kinds = (d: { creates?: Array<{ kind: { kind: string } }> }) => (d.creates ?? []).map((c) => c.kind.kind);

  it("adds the finalizer alone, before it makes anything", () => {
    const o = observe(mountRepo({ finalizer: false }));
    expect(decideRepo(o, now)).to.deep.equal({ finalizer: { add: Finalizer } });
    expect(preCheckReads(o, now)).to.equal(undefined);
  });

  it("makes a new Mount repo's StorageClass, PVC and pre-check Job, and is PreChecking until the Job ends", () => {
    const oldJob = { metadata: { name: preCheckJobName("r", 1), namespace: "dp-system", labels: { [LabelPreCheckGeneration]: "1" } } } as never;
    const o = observe(mountRepo());
    expect(preCheckReads(o, now)).to.deep.equal({ method: "Mount", namespace: "dp-system", pvcName: "dp-backup-r", sources: [] });
    const d = decideRepo({ ...o, preCheck: mount({ jobs: [oldJob] }) }, now);
    expect(kinds(d)).to.deep.equal(["StorageClass", "PersistentVolumeClaim", "Job"]);
    expect(d.creates?.[0].object).to.deep.include({ provisioner: "csi.example.com", parameters: { bucket: "b" }, reclaimPolicy: "Retain" });
    expect(d.deletes).to.deep.equal([{ kind: Kinds.Job, name: preCheckJobName("r", 1), namespace: "dp-system" }]);
    expect(reasons(d)).to.deep.equal(["StorageClassCreated", "PreCheckStarted", "PreCheckStarted"]);
    expect(d.status).to.deep.include({ phase: "PreChecking", generatedStorageClassName: generatedStorageClassName("r"), backupPVCName: "dp-backup-r", observedGeneration: 2 });
    expect(d.requeueAfterMs).to.equal(60_000);
  });

  it("turns Ready when the pre-check Job completed, and deletes the Job", () => {
    const status = { phase: "PreChecking" as const, generatedStorageClassName: generatedStorageClassName("r") };
    const job = { metadata: { name: jobName, namespace: "dp-system", creationTimestamp: "2024-01-01T00:09:00Z" }, status: { succeeded: 1 } } as never;
    const d = decideRepo(observe(mountRepo({ status }), { storageClass: { provisioner: "csi.example.com" }, preCheckJob: job, preCheck: mount({ pvc: { metadata: { name: "dp-backup-r" } } as never }) }), now);
    expect(d.creates).to.deep.equal([]);
    expect(d.deletes).to.deep.equal([{ kind: Kinds.Job, name: jobName, namespace: "dp-system" }]);
    expect(reasons(d)).to.deep.equal(["PreCheckPassed", "Ready"]);
    expect(d.status?.phase).to.equal("Ready");
    expect(d.status?.conditions?.map((c) => [c.type, c.status])).to.deep.equal([["PreCheckPassed", "True"], ["Ready", "True"]]);
    expect(d.requeueAfterMs).to.equal(undefined);
  });

  it("stays Ready without a new pre-check once it passed at this generation", () => {
    const passed = { type: "PreCheckPassed", status: "True" as const, reason: "PreCheckPassed", message: "ok", lastTransitionTime: "2024-01-01T00:00:00Z", observedGeneration: 2 };
    const o = observe(mountRepo({ status: { phase: "Ready", conditions: [passed] } }), { storageClass: { provisioner: "csi.example.com" } });
    expect(preCheckReads(o, now)).to.equal(undefined);
    const d = decideRepo(o, now);
    expect(d.status?.phase).to.equal("Ready");
    expect(d.creates).to.deep.equal([]);
    expect(d.events).to.deep.equal([]);
    expect(d.deletes).to.deep.equal([]);
    const left = { metadata: { name: jobName, namespace: "dp-system" }, status: { succeeded: 1 } } as never;
    expect(decideRepo({ ...o, preCheckJob: left }, now).deletes, "the passed Job a pass stopped before deleting").to.deep.equal([{ kind: Kinds.Job, name: jobName, namespace: "dp-system" }]);
  });

  it("makes a Tool repo Ready or Failed by what its probe found", () => {
    const repo = mountRepo({ spec: { accessMethod: "Tool" } });
    expect(preCheckReads(observe(repo), now)).to.deep.equal({ method: "Tool" });
    const ok = decideRepo(observe(repo, { preCheck: { method: "Tool", probe: { location: "s3://b" } } }), now);
    expect(ok.status?.phase).to.equal("Ready");
    expect(ok.events?.[0]).to.deep.include({ reason: "PreCheckPassed", message: "wrote, read back and deleted a probe object in s3://b" });
    const bad = decideRepo(observe(repo, { preCheck: { method: "Tool", probe: { error: "access denied" } } }), now);
    expect(bad.status?.failureReason).to.equal('PreCheckFailed: pre-check of BackupRepo "r" failed: access denied');
    expect(bad.requeueAfterMs).to.equal(30_000);
  });

  it("fails on a missing provider, naming it, and makes nothing", () => {
    const d = decideRepo(observe(mountRepo(), { provider: undefined }), now);
    expect(d.status?.phase).to.equal("Failed");
    expect(d.status?.failureReason).to.equal('StorageProviderNotFound: StorageProvider "csi" not found: create it or change BackupRepo "r" .spec.storageProviderRef');
    expect(d.events).to.deep.equal([{ type: "Warning", reason: "StorageProviderNotFound", message: 'StorageProvider "csi" not found: create it or change BackupRepo "r" .spec.storageProviderRef' }]);
    expect(d.creates).to.deep.equal([]);
    expect(d.requeueAfterMs).to.equal(30_000);
  });

  it("waits for a provider that is not ready, without a timer", () => {
    const d = decideRepo(observe(mountRepo(), { provider: csiProvider({}, false) }), now);
    expect(d.status?.failureReason).to.equal('StorageProviderNotReady: StorageProvider "csi" is not ready (no CSI driver)');
    expect(d.requeueAfterMs).to.equal(undefined);
  });

  it("fails on a missing credential Secret, and on a missing encryption key Secret at the pre-check", () => {
    const withCred = mountRepo({ spec: { credential: { name: "c", namespace: "ops" } } });
    const d = decideRepo(observe(withCred, { credential: null }), now);
    expect(d.status?.failureReason).to.equal('SecretNotFound: credential Secret "ops/c" not found: create it or fix BackupRepo "r" .spec.credential');

    const enc = mountRepo({ spec: { encryption: { keySecretRef: { name: "k", namespace: "ops", key: "key" } } as never } });
    const o = observe(enc);
    expect(preCheckReads(o, now)).to.deep.include({ sources: [{ namespace: "ops", name: "k" }] });
    const e = decideRepo({ ...o, preCheck: mount({ sources: { "ops/k": null } }) }, now);
    expect(e.status?.failureReason).to.equal('SecretNotFound: Secret "ops/k" (encryption key of BackupRepo "r") not found: create it or fix the repo\'s spec');
    expect(e.status?.conditions?.find((c) => c.type === "PreCheckPassed")).to.deep.include({ status: "False", reason: "SecretNotFound" });
    expect(kinds(e), "the StorageClass made before the failing step is still made").to.deep.equal(["StorageClass"]);
    const copied = decideRepo({ ...o, preCheck: mount({ sources: { "ops/k": { key: "s3cr3t" } } }) }, now);
    expect(copied.prepare?.map((p) => p.type)).to.deep.equal(["secretCopy"]);
  });

  it("creates the CSI driver Secret once, and brings its data up to date as a prerequisite", () => {
    const provider = csiProvider({ csiDriverSecretTemplate: "bucket: {{ .Parameters.bucket }}\n" });
    const absent = decideRepo(observe(mountRepo(), { provider, csiDriverSecret: null, preCheck: mount() }), now);
    expect(kinds(absent)[0]).to.equal("Secret");
    expect(reasons(absent)[0]).to.equal("CSIDriverSecretCreated");
    const stale = { metadata: { name: "dp-repo-r-csi", namespace: "dp-system", resourceVersion: "3" }, data: { bucket: "b2xk" } } as never;
    const d = decideRepo(observe(mountRepo(), { provider, csiDriverSecret: stale, preCheck: mount() }), now);
    expect(d.prepare).to.deep.equal([{ type: "csiDriverSecret", secret: { metadata: { name: "dp-repo-r-csi", namespace: "dp-system", resourceVersion: "3" }, data: { bucket: "Yg==" } } }]);
    expect(reasons(d)).to.not.include("CSIDriverSecretCreated");
    // Its namespace missing: a Failed repo naming it, never a create that errors on every pass.
    const noNamespace = decideRepo(observe(mountRepo(), { provider, csiDriverSecret: null, workNamespaceFound: false, preCheck: mount() }), now);
    expect(noNamespace.creates ?? []).to.deep.equal([]);
    expect(noNamespace.status?.phase).to.equal("Failed");
    expect(noNamespace.status?.failureReason).to.match(/^NamespaceNotFound: namespace "dp-system" for the pre-check Job and the CSI driver Secret/);
  });

  it("marks a second default repo as a conflict, with a Warning once", () => {
    const a = { ...mountRepo({ spec: { accessMethod: "Tool" } }), metadata: { ...mountRepo().metadata, annotations: { [AnnotationIsDefaultRepo]: "true" } } };
    const d = decideRepo({ ...observe(a, { preCheck: { method: "Tool", probe: { location: "x" } } }), repos: [a, repo("b", true)] }, now);
    expect(d.status?.conditions?.find((c) => c.type === "DefaultRepo")).to.deep.include({ status: "False", reason: "MultipleDefaultRepos" });
    expect(reasons(d)).to.include("MultipleDefaultRepos");
  });

  it("blocks deletion while Backups use the repo, with a Warning when the list changes", () => {
    const o = observe(mountRepo({ deleting: true, status: { phase: "Ready" } }), { deletion: { blocking: ["ns/a", "ns/b"], jobs: [], pvcs: [], secrets: [] } });
    const d = decideRepo(o, now);
    const message = 'BackupRepo "r" is still used by 2 Backup(s): ns/a, ns/b: delete them (or wait for their deletion) before the repo';
    expect(d.status?.phase).to.equal("Deleting");
    expect(d.status?.conditions?.[0]).to.deep.include({ type: "DeletionBlocked", status: "True", reason: "DeletionBlocked", message });
    expect(d.events).to.deep.equal([{ type: "Warning", reason: "DeletionBlocked", message }]);
    expect(d.requeueAfterMs).to.equal(30_000);
    expect(d.finalizer).to.equal(undefined);
    const again = decideRepo({ ...o, repo: { ...o.repo, status: d.status } }, now);
    expect(again.events).to.deep.equal([]);
  });

  it("removes what the repo made once no Backup uses it (only its own Secrets), then its finalizer", () => {
    const obj = (name: string, namespace?: string, labels?: Record<string, string>) => ({ metadata: { name, namespace, labels } });
    const repoDone = mountRepo({ deleting: true, status: { generatedStorageClassName: "dp-repo-r" } });
    const d = decideRepo(observe(repoDone, {
      deletion: { blocking: [], jobs: [obj("j", "dp-system")], pvcs: [obj("p", "ns")], secrets: [obj("mine", "ns", { [LabelBackupRepoName]: "r" }), obj("users", "ns")] },
    }), now);
    expect(d.deletes).to.deep.equal([
      { kind: Kinds.Job, name: "j", namespace: "dp-system" },
      { kind: Kinds.PersistentVolumeClaim, name: "p", namespace: "ns" },
      { kind: Kinds.Secret, name: "mine", namespace: "ns" },
      { kind: Kinds.StorageClass, name: "dp-repo-r" },
    ]);
    expect(reasons(d)).to.deep.equal(["Deleting"]);
    expect(d.finalizer).to.deep.equal({ remove: Finalizer });
    expect(d.status).to.equal(undefined);
    expect(decideRepo(observe(mountRepo({ deleting: true, finalizer: false })), now), "nothing left to do without the finalizer").to.deep.equal({});
  });
});
