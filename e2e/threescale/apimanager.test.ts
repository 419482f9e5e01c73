// APIManagerBackup -> delete the namespace -> APIManagerRestore in a new namespace, through the
// threescale-dp CLI in tool pods with their own ServiceAccount/Role; upstream-layout PVCs.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { APIManagerBackupStatus, APIManagerRestoreStatus } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { layout, threescaleControllers } from "@dataprotection/threescale";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons } from "../harness.ts";
import { hostPathOf, readTree } from "../backup/fixtures.ts";
import { G, StandIn3scale, V, apiManager, comparable, crStatus, installApiManagerCrd, seed3scale, seedSystemStorage, snapshot } from "./fixtures.ts";

const done = (s: { completed?: boolean; failureReason?: string }) => s.completed === true || !!s.failureReason;

async function createCR(kc: KubeConfig, ns: string, plural: string, kind: string, name: string, spec: unknown): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: G, version: V, namespace: ns, plural, body: { apiVersion: `${G}/${V}`, kind, metadata: { name }, spec } });
}

/** A Retain hostPath PV: the backup survives its namespace, as a real backup volume would. */
async function retainedPV(kc: KubeConfig, sc: string): Promise<string> {
  const name = `apim-backup-${randomBytes(3).toString("hex")}`;
  const path = `/tmp/${name}`;
  await mkdir(path, { recursive: true, mode: 0o777 });
  await kc.makeApiClient(CoreV1Api).createPersistentVolume({ body: { metadata: { name }, spec: { capacity: { storage: "1Gi" }, accessModes: ["ReadWriteOnce"], persistentVolumeReclaimPolicy: "Retain", storageClassName: sc, hostPath: { path } } } });
  return name;
}

describe("3scale: APIManagerBackup / APIManagerRestore", function () {
  this.timeout(400_000);
  let op: Operator;
  let standIn: StandIn3scale;
  let kc: KubeConfig;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installApiManagerCrd(kc);
    standIn = new StandIn3scale(kc);
    standIn.start();
    // readyTimeoutSeconds: the CLI waits for the stand-in's system-sidekiq to be ready; 8 s was short on a busy machine.
    op = await startTestOperator({ controllers: ["backup", "restorejob"], timeouts: { podStartMs: 60_000 } }, [threescaleControllers({ readyTimeoutSeconds: 30, env: [{ name: "THREESCALE_POLL_MS", value: "300" }, { name: "DP_COMPRESSION_THREADS", value: "1" }] })]);
  });
  after(async () => {
    standIn?.stop();
    await op?.stop();
  });

  it("backs up an APIManager with 13 Secrets, 2 ConfigMaps and 1,000 files to its PVC (a default BackupRepo does not take it), and restores it in a new namespace: objects equal modulo removed fields, files byte-identical, resync once", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const sc = `manual-${randomBytes(3).toString("hex")}`;
    const pv = await retainedPV(kc, sc);
    const src = await testNamespace(kc, "apim-src");
    const dst = await testNamespace(kc, "apim-dst");
    // A cluster with a default repo: the generic Backup controller would pick it before a policy's PVC.
    const defaultRepo = `default-${src.name}`;
    const custom = kc.makeApiClient(CustomObjectsApi);
    await custom.createClusterCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", plural: "backuprepos", body: {
      apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupRepo",
      metadata: { name: defaultRepo, annotations: { "dataprotection.kubeblocks.io/is-default-repo": "true" } },
      spec: { storageProviderRef: "none", pvReclaimPolicy: "Retain" },
    } });
    try {
      standIn.namespaces.add(src.name);
      standIn.namespaces.add(dst.name);
      await seedSystemStorage(kc, src.name, 1000);
      await seed3scale(kc, src.name, apiManager("example-apimanager", { persistentVolumeClaim: { resources: { requests: "200Mi" } } }));
      await createCR(kc, src.name, "apimanagerbackups", "APIManagerBackup", "backup1", { backupDestination: { persistentVolumeClaim: { resources: { requests: "1Gi" }, volumeName: pv, storageClass: sc } } });
      const bs = await crStatus<APIManagerBackupStatus>(kc, "apimanagerbackups", src.name, "backup1", done);
      expect(bs.failureReason).to.equal(undefined);
      expect(bs).to.deep.include({ completed: true, apiManagerSourceName: "example-apimanager", backupPersistentVolumeClaimName: "backup1" });
      expect(Date.parse(bs.completionTime!)).to.be.at.least(Date.parse(bs.startTime!));
      expect(Object.values(bs.mainStepsCompleted!).every(Boolean)).to.equal(true);
      expect(bs.conditions?.[0]).to.deep.include({ type: "Completed", status: "True" });
      const dest = await core.readNamespacedPersistentVolumeClaim({ name: "backup1", namespace: src.name });
      expect(dest.spec).to.deep.include({ volumeName: pv, storageClassName: sc });
      expect(dest.metadata!.annotations).to.deep.include({ "apps.3scale.net/apimanager-name": "example-apimanager", "apps.3scale.net/apimanagerbackup-name": "backup1" });
      expect(dest.metadata!.ownerReferences).to.equal(undefined);
      // BackupCompleted is written in the background, after the status.
      expect((await untilEventReasons(kc, src.name, "backup1", ["BackupStarted", "BackupCompleted"])).map((e) => e.reason)).to.include.members(["BackupStarted", "BackupCompleted"]);

      // The plain upstream layout on the PV.
      const tree = await readTree(`/tmp/${pv}`);
      for (const s of layout.BACKED_UP_SECRETS) expect(tree.has(`secrets/${s}.json`), s).to.equal(true);
      expect(tree.has("configmaps/system-environment.json") && tree.has("apimanager/apimanager-backup.json")).to.equal(true);
      expect([...tree.keys()].filter((k) => k.startsWith("system-filestorage-pvc/"))).to.have.length(1000);

      const before = await snapshot(kc, src.name, "example-apimanager");
      const files = await readTree(await hostPathOf(kc, src.name, "system-storage"));
      await src.cleanup();
      // The namespace is gone; its backup volume is not: bind it to a claim in the new namespace.
      await core.patchPersistentVolume({ name: pv, body: [{ op: "remove", path: "/spec/claimRef" }] }, { headers: { "Content-Type": "application/json-patch+json" } } as never);
      await core.createNamespacedPersistentVolumeClaim({ namespace: dst.name, body: { metadata: { name: "backup1" }, spec: { accessModes: ["ReadWriteOnce"], storageClassName: sc, volumeName: pv, resources: { requests: { storage: "1Gi" } } } } });
      await createCR(kc, dst.name, "apimanagerrestores", "APIManagerRestore", "restore1", { restoreSource: { persistentVolumeClaim: { claimSource: { claimName: "backup1", readOnly: true } } } });
      const rs = await crStatus<APIManagerRestoreStatus>(kc, "apimanagerrestores", dst.name, "restore1", done);
      expect(rs.failureReason).to.equal(undefined);
      expect(rs).to.deep.include({ completed: true, apiManagerToRestoreRef: { name: "example-apimanager" } });
      expect(Date.parse(rs.completionTime!)).to.be.at.least(Date.parse(rs.startTime!));
      expect(rs.mainStepsCompleted?.routesResynced).to.equal(true);

      const after = await snapshot(kc, dst.name, "example-apimanager");
      for (const name of layout.RESTORED_SECRETS) expect(comparable(after.secrets.get(name)), name).to.deep.equal(comparable(before.secrets.get(name)));
      for (const name of ["system-database", "backend-redis", "system-redis", "system-memcache"]) expect(after.secrets.has(name), name).to.equal(false);
      for (const [name, cm] of before.configMaps) expect(comparable(after.configMaps.get(name)), name).to.deep.equal(comparable(cm));
      expect(comparable(after.apimanager)).to.deep.equal(comparable(before.apimanager));
      const claim = await core.readNamespacedPersistentVolumeClaim({ name: "system-storage", namespace: dst.name });
      expect(claim.spec!.resources!.requests!.storage).to.equal("200Mi");
      const restored = await readTree(await hostPathOf(kc, dst.name, "system-storage"));
      expect(restored.size).to.equal(1000);
      for (const [k, v] of files) expect(restored.get(k)?.equals(v), k).to.equal(true);
      expect(await standIn.resyncLog(dst.name)).to.deep.equal(["exec rake zync:resync:domains"]);
      expect((await untilEventReasons(kc, dst.name, "restore1", ["RestoreStarted", "RestoreCompleted"])).map((e) => e.reason)).to.include.members(["RestoreStarted", "RestoreCompleted"]);
    } finally {
      await custom.deleteClusterCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", plural: "backuprepos", name: defaultRepo }).catch(() => undefined);
      await src.cleanup();
      await dst.cleanup();
      await core.deletePersistentVolume({ name: pv }).catch(() => undefined);
    }
  });

  it("restores from a PVC written in the upstream operator's layout", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await testNamespace(kc, "apim-upstream");
    try {
      standIn.namespaces.add(ns.name);
      await core.createNamespacedPersistentVolumeClaim({ namespace: ns.name, body: { metadata: { name: "upstream-backup" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Mi" } } } } });
      const root = await hostPathOf(kc, ns.name, "upstream-backup");
      const put = async (p: string, v: unknown) => {
        await mkdir(join(root, p, ".."), { recursive: true });
        await writeFile(join(root, p), typeof v === "string" || Buffer.isBuffer(v) ? v : layout.toBackupJson(v));
      };
      for (const name of layout.BACKED_UP_SECRETS) await put(`secrets/${name}.json`, { apiVersion: "v1", kind: "Secret", metadata: { name, labels: { app: "3scale-api-management" } }, type: "Opaque", data: { k: Buffer.from(name).toString("base64") } });
      for (const name of layout.BACKED_UP_CONFIGMAPS) await put(`configmaps/${name}.json`, { apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { a: name } });
      await put("apimanager/apimanager-backup.json", { apiVersion: `${G}/${V}`, kind: "APIManager", metadata: { name: "upstream-am" }, spec: { wildcardDomain: "up.example.com", system: { fileStorage: { persistentVolumeClaim: { resources: { requests: "150Mi" } } } } } });
      await put("system-filestorage-pvc/2024/logo.png", Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]));
      await put("system-filestorage-pvc/readme.txt", "hello\n");
      await createCR(kc, ns.name, "apimanagerrestores", "APIManagerRestore", "r-up", { restoreSource: { persistentVolumeClaim: { claimSource: { claimName: "upstream-backup" } } } });
      const rs = await crStatus<APIManagerRestoreStatus>(kc, "apimanagerrestores", ns.name, "r-up", done);
      expect(rs.failureReason).to.equal(undefined);
      expect(rs).to.deep.include({ completed: true, apiManagerToRestoreRef: { name: "upstream-am" } });
      const zync = await core.readNamespacedSecret({ name: "zync", namespace: ns.name });
      expect(Buffer.from(zync.data!.k, "base64").toString()).to.equal("zync");
      expect((await core.readNamespacedConfigMap({ name: "apicast-environment", namespace: ns.name })).data).to.deep.equal({ a: "apicast-environment" });
      const files = await readTree(await hostPathOf(kc, ns.name, "system-storage"));
      expect([...files.keys()].sort()).to.deep.equal(["2024/logo.png", "readme.txt"]);
      expect(files.get("2024/logo.png")!.equals(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2, 3]))).to.equal(true);
      expect((await core.readNamespacedPersistentVolumeClaim({ name: "system-storage", namespace: ns.name })).spec!.resources!.requests!.storage).to.equal("150Mi");
      expect(await standIn.resyncLog(ns.name)).to.have.length(1);
    } finally {
      await ns.cleanup();
    }
  });
});
