// BackupRepo and StorageProvider controllers on the real control plane + local node:
// pre-check Jobs on real PVCs, a real S3 server with a wrong key, per-namespace PVCs
// on first use, and deletion held back by Backups.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import type { KubeConfig, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { AnnotationIsDefaultRepo, DataProtectionAPIVersion, LabelBackupRepoName, type Backup, type BackupRepo, type StorageProvider } from "@dataprotection/api";
import { ensureRepoAccess, Kinds, type Operator } from "@dataprotection/controllers";
import { KubeClient, isNotFound, type Kind, type KubeObject } from "@dataprotection/runtime";
import { localPvcProvider, s3Provider } from "../../packages/controllers/src/storageprovider/builtin/index.ts";
import { e2eCluster, startTestOperator, testNamespace, until, untilEventReasons, untilEvents } from "../harness.ts";
import { startS3Server, type S3Server } from "./s3server.ts";

type Repo = BackupRepo & KubeObject;
type Provider = StorageProvider & KubeObject;
const suffix = randomBytes(3).toString("hex");

describe("BackupRepo controller (e2e)", function () {
  this.timeout(180_000);
  let kc: KubeConfig;
  let client: KubeClient;
  let operator: Operator;
  let s3: S3Server;
  let ns: { name: string; cleanup: () => Promise<void> };
  const created: Array<{ kind: Kind; name: string; namespace?: string }> = [];

  const create = async <T extends KubeObject>(kind: Kind, obj: T): Promise<T> => {
    const out = await client.create<T>(kind, obj);
    created.push({ kind, name: obj.metadata.name!, namespace: obj.metadata.namespace });
    return out;
  };
  const getRepo = (name: string) => client.get<Repo>(Kinds.BackupRepo, name).catch((e) => (isNotFound(e) ? undefined : Promise.reject(e)));
  const repoIn = (name: string, phase: string) =>
    until(`BackupRepo ${name} ${phase}`, async () => {
      const r = await getRepo(name);
      return r?.status?.phase === phase && r.status.observedGeneration === r.metadata.generation ? r : undefined;
    }, 120_000, 300);
  const secret = (name: string, namespace: string, data: Record<string, string>) =>
    create(Kinds.Secret, { apiVersion: "v1", kind: "Secret", metadata: { name, namespace }, stringData: data } as KubeObject);
  const repo = (name: string, spec: BackupRepo["spec"], annotations?: Record<string, string>): Repo =>
    ({ apiVersion: DataProtectionAPIVersion, kind: "BackupRepo", metadata: { name, annotations }, spec }) as Repo;

  before(async function () {
    this.timeout(300_000);
    const cluster = await e2eCluster();
    kc = cluster.controlPlane.kubeConfig;
    client = new KubeClient(kc);
    s3 = await startS3Server();
    operator = await startTestOperator({ controllers: ["backuprepo", "storageprovider"], timeouts: { podStartMs: 60_000 } });
    ns = await testNamespace(kc, "repo");
    await create(Kinds.StorageProvider, localPvcProvider(`local-pvc-${suffix}`) as Provider);
    await create(Kinds.StorageProvider, s3Provider(`s3-${suffix}`) as Provider);
  });

  after(async function () {
    this.timeout(180_000);
    for (const c of created.reverse()) {
      await client.delete(c.kind, c.name, c.namespace).catch(() => undefined);
    }
    for (const c of created.filter((x) => x.kind === Kinds.BackupRepo)) {
      await until(`BackupRepo ${c.name} gone`, async () => ((await getRepo(c.name)) ? undefined : true), 60_000, 300).catch(() => undefined);
    }
    await operator?.stop();
    await ns?.cleanup();
    await s3?.stop();
    client?.close();
  });

  it("marks a provider NotReady until its named CSI driver exists, then Ready", async () => {
    const name = `csi-${suffix}`;
    const driver = `csi.${suffix}.example.com`;
    await create(Kinds.StorageProvider, { ...localPvcProvider(name), spec: { ...localPvcProvider().spec, csiDriverName: driver } } as Provider);
    const notReady = await until("provider NotReady", async () => {
      const p = await client.get<Provider>(Kinds.StorageProvider, name);
      return p.status?.phase === "NotReady" ? p : undefined;
    });
    const cond = notReady.status?.conditions?.find((c) => c.type === "CSIDriverInstalled");
    expect(cond?.status).to.equal("False");
    expect(cond?.message).to.contain(driver).and.contain("install");
    await create(Kinds.CSIDriver, { apiVersion: "storage.k8s.io/v1", kind: "CSIDriver", metadata: { name: driver }, spec: {} } as KubeObject);
    await until("provider Ready", async () => ((await client.get<Provider>(Kinds.StorageProvider, name)).status?.phase === "Ready" ? true : undefined));
  });

  it("makes a filesystem repo Ready after its pre-check Job wrote, read and deleted a probe file", async () => {
    const name = `fs-${suffix}`;
    await create(Kinds.BackupRepo, repo(name, { storageProviderRef: `local-pvc-${suffix}`, pvReclaimPolicy: "Delete", volumeCapacity: "1Gi" }, { [AnnotationIsDefaultRepo]: "true" }));
    const r = await repoIn(name, "Ready");
    expect(r.status?.isDefault).to.equal(true);
    expect(r.status?.conditions?.find((c) => c.type === "PreCheckPassed")?.status).to.equal("True");
    expect(r.status?.backupPVCName).to.be.a("string");
    const sc = await client.get<V1StorageClass & KubeObject>(Kinds.StorageClass, r.status!.generatedStorageClassName!);
    expect(sc.provisioner).to.equal("dataprotection.local/local-path");
    expect(sc.reclaimPolicy).to.equal("Delete");
    expect(sc.metadata.ownerReferences?.[0]?.name).to.equal(name);
    // PreCheckPassed is written in the background, with or after the Ready status.
    const reasons = (await untilEventReasons(kc, "default", name, ["StorageClassCreated", "PreCheckStarted", "PreCheckPassed"])).map((e) => e.reason);
    expect(reasons).to.include.members(["StorageClassCreated", "PreCheckStarted", "PreCheckPassed"]);
  });

  it("provisions the repo PVC in a namespace on first use (ensureRepoAccess)", async () => {
    const r = await repoIn(`fs-${suffix}`, "Ready");
    const access = await ensureRepoAccess(client, undefined, r, ns.name);
    expect(access.accessMethod).to.equal("Mount");
    const pvc = await until("repo PVC bound", async () => {
      const p = await client.get<V1PersistentVolumeClaim & KubeObject>(Kinds.PersistentVolumeClaim, access.pvcName!, ns.name);
      return p.status?.phase === "Bound" ? p : undefined;
    });
    expect(pvc.metadata.labels?.[LabelBackupRepoName]).to.equal(r.metadata.name);
    expect(pvc.spec?.storageClassName).to.equal(r.status?.generatedStorageClassName);
    expect(pvc.spec?.accessModes).to.deep.equal(["ReadWriteOnce"]);
    expect(pvc.spec?.resources?.requests?.storage).to.equal("1Gi");
    // Idempotent: a second call finds it.
    await ensureRepoAccess(client, undefined, r, ns.name);
  });

  it("makes an S3 repo Ready with the right keys and Failed with the reason for a wrong secret key", async () => {
    await secret(`s3-good-${suffix}`, ns.name, { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    await secret(`s3-bad-${suffix}`, ns.name, { accessKeyId: s3.accessKeyId, secretAccessKey: "not-the-secret-key" });
    const config = { bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: "true" };
    await create(Kinds.BackupRepo, repo(`s3-good-${suffix}`, { storageProviderRef: `s3-${suffix}`, accessMethod: "Tool", pvReclaimPolicy: "Retain", config, credential: { name: `s3-good-${suffix}`, namespace: ns.name } }));
    await create(Kinds.BackupRepo, repo(`s3-bad-${suffix}`, { storageProviderRef: `s3-${suffix}`, accessMethod: "Tool", pvReclaimPolicy: "Retain", config, credential: { name: `s3-bad-${suffix}`, namespace: ns.name } }));
    const good = await repoIn(`s3-good-${suffix}`, "Ready");
    expect(good.status?.backupPVCName).to.equal(undefined);
    const bad = await repoIn(`s3-bad-${suffix}`, "Failed");
    expect(bad.status?.failureReason).to.match(/^PreCheckFailed: /);
    expect(bad.status?.failureReason).to.match(/credential|signature|access/i);
    const ev = (await untilEventReasons(kc, "default", `s3-bad-${suffix}`, ["PreCheckFailed"])).find((e) => e.reason === "PreCheckFailed");
    expect(ev?.type).to.equal("Warning");
  });

  it("fails a repo whose config breaks the provider's parametersSchema, naming the field", async () => {
    const name = `s3-param-${suffix}`;
    await create(Kinds.BackupRepo, repo(name, { storageProviderRef: `s3-${suffix}`, accessMethod: "Tool", pvReclaimPolicy: "Retain", config: { bucket: s3.bucket, endpoint: "ftp://nope" }, credential: { name: `s3-good-${suffix}`, namespace: ns.name } }));
    const r = await repoIn(name, "Failed");
    expect(r.status?.failureReason).to.contain("InvalidParameters").and.contain('"endpoint"').and.contain(".spec.config");
  });

  it("reports the conflict on both repos when two are annotated default", async () => {
    const name = `s3-default-${suffix}`;
    await create(Kinds.BackupRepo, repo(name, { storageProviderRef: `s3-${suffix}`, accessMethod: "Tool", pvReclaimPolicy: "Retain", config: { bucket: s3.bucket, endpoint: s3.endpoint }, credential: { name: `s3-good-${suffix}`, namespace: ns.name } }, { [AnnotationIsDefaultRepo]: "true" }));
    for (const n of [name, `fs-${suffix}`]) {
      const r = await until(`${n} reports the default conflict`, async () => {
        const x = await getRepo(n);
        return x?.status?.conditions?.find((c) => c.type === "DefaultRepo" && c.reason === "MultipleDefaultRepos") ? x : undefined;
      });
      expect(r.status?.isDefault).to.equal(true);
    }
    await client.delete(Kinds.BackupRepo, name);
    await until("conflict cleared on the remaining default", async () => {
      const x = await getRepo(`fs-${suffix}`);
      return x && !x.status?.conditions?.some((c) => c.type === "DefaultRepo") ? true : undefined;
    });
  });

  it("refuses to delete a repo while a Backup uses it, and finishes once the Backup is gone", async () => {
    const name = `fs-${suffix}`;
    const backupName = `b-${suffix}`;
    const b = await create(Kinds.Backup, { apiVersion: DataProtectionAPIVersion, kind: "Backup", metadata: { name: backupName, namespace: ns.name }, spec: { backupPolicyName: "none", backupType: "datafile" } } as Backup & KubeObject);
    await client.replace(Kinds.Backup, { ...b, status: { backupRepoName: name } } as Backup & KubeObject, "status");
    // The controller decides from its cache: delete the repo only once the cache holds the Backup's
    // status, or a watch event still in flight would let the deletion through.
    await until(`the operator's cache sees Backup ${backupName} use ${name}`, async () =>
      operator.manager.cache.get<Backup & KubeObject>(Kinds.Backup, backupName, ns.name)?.status?.backupRepoName === name ? true : undefined, 60_000, 100);
    await client.delete(Kinds.BackupRepo, name);
    const blocked = await until("deletion blocked", async () => {
      const r = await getRepo(name);
      return r?.status?.conditions?.find((c) => c.type === "DeletionBlocked" && c.status === "True") ? r : undefined;
    });
    expect(blocked.status?.phase).to.equal("Deleting");
    expect(blocked.metadata.deletionTimestamp).to.be.a("string");
    expect(blocked.status?.conditions?.find((c) => c.type === "DeletionBlocked")?.message).to.contain(`${ns.name}/${backupName}`);
    const blockedEvents = await untilEvents(kc, "default", name, "a DeletionBlocked Warning", (evs) => evs.some((e) => e.reason === "DeletionBlocked" && e.type === "Warning"));
    expect(blockedEvents.some((e) => e.reason === "DeletionBlocked" && e.type === "Warning")).to.equal(true);
    await client.delete(Kinds.Backup, backupName, ns.name);
    await until("repo deleted", async () => ((await getRepo(name)) ? undefined : true), 60_000, 300);
    // Its per-namespace PVC went with it.
    const pvcs = await client.list<KubeObject>(Kinds.PersistentVolumeClaim, { namespace: ns.name, labelSelector: `${LabelBackupRepoName}=${name}` });
    expect(pvcs.items.filter((p) => !p.metadata.deletionTimestamp)).to.have.length(0);
  });
});
