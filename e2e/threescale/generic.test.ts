// Must-show 2: the threescale-apimanager tool through the generic machinery only — a plain
// BackupPolicy + Backup into an encrypted filesystem repo (built-in local-pvc provider), the
// APIManager's objects and files wiped, then a RestoreJob. The Backup object is namespaced and
// a RestoreJob names a Backup of its own namespace, so the namespace that holds the Backup
// stays; everything 3scale in it goes (see packages/threescale/README.md).
import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { DataProtectionAPIVersion, DataProtectionGroup, type Backup, type RestoreJob } from "@dataprotection/api";
import { Kinds, repoPVCName, type Operator } from "@dataprotection/controllers";
import { KubeClient, isNotFound, type KubeObject } from "@dataprotection/runtime";
import { TOOL_NAME, layout, threescaleToolFor, toolRbac } from "@dataprotection/threescale";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until } from "../harness.ts";
import { hostPathOf, readTree } from "../backup/fixtures.ts";
import { APIManagerKind, StandIn3scale, apiManager, comparable, createEncryptedRepo, installApiManagerCrd, seed3scale, seedSystemStorage, snapshot } from "./fixtures.ts";

let REPO = "";
let removeRepo: (() => Promise<void>) | undefined;

/** 64-byte windows (start and middle) of `buf`, the plaintext runs that must not reach the repo. */
function probes(buf: Buffer): Buffer[] {
  if (buf.length < 64) return [];
  const mid = Math.floor((buf.length - 64) / 2);
  return [buf.subarray(0, 64), buf.subarray(mid, mid + 64)];
}

describe("3scale: the tool through BackupPolicy + Backup + RestoreJob, encrypted repo", function () {
  this.timeout(400_000);
  let op: Operator;
  let kc: KubeConfig;
  let client: KubeClient;
  let standIn: StandIn3scale;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    client = new KubeClient(kc);
    await installApiManagerCrd(kc);
    standIn = new StandIn3scale(kc);
    standIn.start();
    op = await startTestOperator({ controllers: ["backup", "restorejob", "backuprepo", "storageprovider"], timeouts: { podStartMs: 60_000 } });
    // The tool as an operator install provides it (cluster-scoped; other 3scale suites may have it with their env).
    const tool = threescaleToolFor({ env: [{ name: "THREESCALE_POLL_MS", value: "300" }, { name: "THREESCALE_READY_TIMEOUT_SECONDS", value: "30" }, { name: "DP_COMPRESSION_THREADS", value: "1" }] }) as KubeObject & { spec: unknown };
    const have = await client.get<KubeObject>(Kinds.BackupTool, TOOL_NAME).catch((e: unknown) => (isNotFound(e) ? undefined : Promise.reject(e)));
    if (have) await client.replace(Kinds.BackupTool, { ...have, spec: tool.spec } as KubeObject);
    else await client.create(Kinds.BackupTool, tool);
    const repo = await createEncryptedRepo(client, "threescale", "Retain");
    REPO = repo.name;
    removeRepo = repo.remove;
  });

  after(async () => {
    standIn?.stop();
    await removeRepo?.();
    await op?.stop();
    client?.close();
  });

  it("backs up 13 Secrets, 2 ConfigMaps and 1,000 files encrypted, and restores them after the APIManager's objects are gone: equal modulo removed fields, files byte-identical, resync once", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const api = kc.makeApiClient(CustomObjectsApi);
    const ns = await testNamespace(kc, "apim-generic");
    let repoPV: string | undefined;
    try {
      standIn.namespaces.add(ns.name);
      // What a user applies once per namespace: the tool's ServiceAccount, bound to the chart's ClusterRole.
      const rbac = toolRbac(ns.name);
      await client.create({ group: "", version: "v1", kind: "ServiceAccount", plural: "serviceaccounts", namespaced: true }, rbac.serviceAccount as KubeObject);
      await client.create({ group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true }, rbac.roleBinding as KubeObject);
      await seedSystemStorage(kc, ns.name, 1000);
      await seed3scale(kc, ns.name, apiManager("example-apimanager", { persistentVolumeClaim: { resources: { requests: "200Mi" } } }));

      const create = (plural: string, kind: string, name: string, spec: unknown) =>
        api.createNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural, body: { apiVersion: DataProtectionAPIVersion, kind, metadata: { name }, spec } });
      await create("backuppolicies", "BackupPolicy", "apim", { datafile: { backupToolName: TOOL_NAME, backupRepoName: REPO, target: { labelsSelector: {} } } });
      await create("backups", "Backup", "apim-1", { backupPolicyName: "apim", backupType: "datafile" });
      const b = await until("Backup apim-1 finished", async () => {
        const x = await getCustom<Backup>(kc, DataProtectionGroup, "backups", ns.name, "apim-1");
        return x?.status?.phase === "Completed" || x?.status?.phase === "Failed" ? x : undefined;
      }, 240_000, 500);
      expect(b.status?.failureReason).to.equal(undefined);
      expect(b.status).to.deep.include({ phase: "Completed", backupToolName: TOOL_NAME, backupRepoName: REPO });
      expect(b.status?.manifests?.backupTool?.encrypted).to.equal(true);
      expect(b.status?.manifests?.backupTool?.checksum).to.match(/^sha256:/);

      const before = await snapshot(kc, ns.name, "example-apimanager");
      const files = await readTree(await hostPathOf(kc, ns.name, "system-storage"));
      expect(files.size).to.equal(1000);

      // The repo's bytes on the node hold no 64-byte plaintext run of a Secret's JSON or of a file.
      const repoClaim = await core.readNamespacedPersistentVolumeClaim({ name: repoPVCName(REPO), namespace: ns.name });
      repoPV = repoClaim.spec!.volumeName;
      const stored = await readTree(await hostPathOf(kc, ns.name, repoPVCName(REPO)));
      const all = Buffer.concat([...stored.values()]);
      expect(all.length).to.be.above(0);
      const plain: Array<[string, Buffer]> = [];
      for (const name of layout.BACKED_UP_SECRETS) {
        const s = await client.get<KubeObject>(Kinds.Secret, name, ns.name);
        for (const p of probes(layout.toBackupJson(layout.stripObject(s)))) plain.push([`secrets/${name}.json`, p]);
      }
      for (const [k, v] of files) for (const p of probes(v)) plain.push([k, p]);
      expect(plain.length).to.be.above(1000);
      const leaked = plain.filter(([, p]) => all.includes(p)).map(([k]) => k);
      expect(leaked, "plaintext found in the repo").to.deep.equal([]);

      // Lose the APIManager: its Secrets, ConfigMaps, system-storage PVC, the operator's Deployment.
      await api.deleteNamespacedCustomObject({ group: APIManagerKind.group, version: APIManagerKind.version, namespace: ns.name, plural: APIManagerKind.plural, name: "example-apimanager" });
      for (const name of layout.BACKED_UP_SECRETS) await core.deleteNamespacedSecret({ name, namespace: ns.name });
      for (const name of layout.BACKED_UP_CONFIGMAPS) await core.deleteNamespacedConfigMap({ name, namespace: ns.name });
      await client.delete({ group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true }, "system-sidekiq", ns.name).catch(() => undefined);
      // Finished pods that mounted it (the seeding Job's) would hold the claim (pvc-protection).
      for (const p of (await core.listNamespacedPod({ namespace: ns.name })).items) {
        if (p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === "system-storage")) await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns.name, gracePeriodSeconds: 0 });
      }
      await core.deleteNamespacedPersistentVolumeClaim({ name: "system-storage", namespace: ns.name });
      await until("system-storage gone", async () => (await core.readNamespacedPersistentVolumeClaim({ name: "system-storage", namespace: ns.name }).then(() => undefined, () => true)), 60_000, 300);

      await create("restorejobs", "RestoreJob", "apim-restore", { backupJobName: "apim-1", target: { labelsSelector: {} }, targetVolumes: [], targetVolumeMounts: [] });
      const rj = await until("RestoreJob finished", async () => {
        const x = await getCustom<RestoreJob>(kc, DataProtectionGroup, "restorejobs", ns.name, "apim-restore");
        return x?.status?.phase === "Completed" || x?.status?.phase === "Failed" ? x : undefined;
      }, 240_000, 500);
      expect(rj.status?.failureReason, rj.status?.failureReason).to.equal(undefined);
      expect(rj.status?.phase).to.equal("Completed");
      expect(rj.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");

      const after = await snapshot(kc, ns.name, "example-apimanager");
      for (const name of layout.RESTORED_SECRETS) expect(comparable(after.secrets.get(name)), name).to.deep.equal(comparable(before.secrets.get(name)));
      for (const name of ["system-database", "backend-redis", "system-redis", "system-memcache"]) expect(after.secrets.has(name), name).to.equal(false);
      for (const [name, cm] of before.configMaps) expect(comparable(after.configMaps.get(name)), name).to.deep.equal(comparable(cm));
      expect(comparable(after.apimanager)).to.deep.equal(comparable(before.apimanager));
      expect((await core.readNamespacedPersistentVolumeClaim({ name: "system-storage", namespace: ns.name })).spec!.resources!.requests!.storage).to.equal("200Mi");
      const restored = await readTree(await hostPathOf(kc, ns.name, "system-storage"));
      expect(restored.size).to.equal(1000);
      for (const [k, v] of files) expect(restored.get(k)?.equals(v), k).to.equal(true);
      expect(await standIn.resyncLog(ns.name)).to.deep.equal(["exec rake zync:resync:domains"]);
    } finally {
      await ns.cleanup();
      if (repoPV) await core.deletePersistentVolume({ name: repoPV }).catch(() => undefined);
    }
  });
});
