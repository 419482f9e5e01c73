// Failure paths: each ends with a failureReason naming the cause, a Failed condition and a
// Warning Event; nothing waits forever.
import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { APIManagerBackupStatus, APIManagerRestoreStatus } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { threescaleControllers } from "@dataprotection/threescale";
import { e2eCluster, eventsFor, startTestOperator, testNamespace, until } from "../harness.ts";
import { G, StandIn3scale, V, apiManager, crStatus, installApiManagerCrd, seed3scale } from "./fixtures.ts";

const done = (s: { completed?: boolean; failureReason?: string }) => s.completed === true || !!s.failureReason;
const create = (kc: KubeConfig, ns: string, plural: string, kind: string, name: string, spec: unknown) =>
  kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: G, version: V, namespace: ns, plural, body: { apiVersion: `${G}/${V}`, kind, metadata: { name }, spec } });
const pvcDest = { backupDestination: { persistentVolumeClaim: { resources: { requests: "100Mi" } } } };

describe("3scale: failure paths", function () {
  this.timeout(300_000);
  let op: Operator;
  let kc: KubeConfig;
  let standIn: StandIn3scale;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installApiManagerCrd(kc);
    standIn = new StandIn3scale(kc);
    standIn.start();
    op = await startTestOperator({ controllers: ["backup", "restorejob"], timeouts: { podStartMs: 60_000 } }, [threescaleControllers({ readyTimeoutSeconds: 4, env: [{ name: "THREESCALE_POLL_MS", value: "300" }] })]);
  });
  after(async () => {
    standIn?.stop();
    await op?.stop();
  });

  async function expectFailed<T extends { failureReason?: string; completed?: boolean; conditions?: Array<{ type?: string; reason?: string }> }>(ns: string, plural: string, name: string, reason: string, text: RegExp): Promise<T> {
    const s = await crStatus<T>(kc, plural, ns, name, done);
    expect(s.completed).to.equal(false);
    expect(s.failureReason).to.match(new RegExp(`^${reason}: `)).and.match(text);
    expect(s.conditions?.[0]).to.deep.include({ type: "Failed", reason });
    // Events are written after the status, asynchronously: wait for the Warning rather than race it.
    await until(`a Warning Event for ${plural}/${name}`, async () => ((await eventsFor(kc, ns, name)).some((e) => e.type === "Warning") ? true : undefined), 30_000);
    return s;
  }

  it("fails a backup when the namespace has no APIManager, and when it has two", async () => {
    const ns = await testNamespace(kc, "apim-f1");
    try {
      await create(kc, ns.name, "apimanagerbackups", "APIManagerBackup", "none", pvcDest);
      await expectFailed<APIManagerBackupStatus>(ns.name, "apimanagerbackups", "none", "APIManagerNotFound", /no APIManager in namespace/);
      const api = kc.makeApiClient(CustomObjectsApi);
      for (const n of ["am-a", "am-b"]) await api.createNamespacedCustomObject({ group: G, version: V, namespace: ns.name, plural: "apimanagers", body: apiManager(n, {}) });
      await create(kc, ns.name, "apimanagerbackups", "APIManagerBackup", "two", pvcDest);
      await expectFailed<APIManagerBackupStatus>(ns.name, "apimanagerbackups", "two", "MultipleAPIManagers", /am-a, am-b.*spec\.apiManagerName/);
    } finally {
      await ns.cleanup();
    }
  });

  it("fails a backup whose tool Job fails, naming the missing Secret", async () => {
    const ns = await testNamespace(kc, "apim-f2");
    try {
      await seed3scale(kc, ns.name, apiManager("am", {}), { skipSecret: "system-app" });
      await create(kc, ns.name, "apimanagerbackups", "APIManagerBackup", "b", pvcDest);
      await expectFailed<APIManagerBackupStatus>(ns.name, "apimanagerbackups", "b", "SecretNotFound", /Secret "apim-f2-[0-9a-f]+\/system-app" not found/);
    } finally {
      await ns.cleanup();
    }
  });

  it("refuses a restore when an APIManager already exists, and times out when the APIManager never becomes ready", async () => {
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await testNamespace(kc, "apim-f3");
    try {
      await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: G, version: V, namespace: ns.name, plural: "apimanagers", body: apiManager("present", {}) });
      await core.createNamespacedPersistentVolumeClaim({ namespace: ns.name, body: { metadata: { name: "src" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Mi" } } } } });
      await create(kc, ns.name, "apimanagerrestores", "APIManagerRestore", "r", { restoreSource: { persistentVolumeClaim: { claimSource: { claimName: "src" } } } });
      await expectFailed<APIManagerRestoreStatus>(ns.name, "apimanagerrestores", "r", "APIManagerExists", /APIManager "present" already exists/);
    } finally {
      await ns.cleanup();
    }
    // No stand-in for this namespace: the restored APIManager never reports system-sidekiq ready.
    const ns2 = await testNamespace(kc, "apim-f4");
    try {
      await seed3scale(kc, ns2.name, apiManager("am", { simpleStorageService: { configurationSecretRef: { name: "none" } } }));
      await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: G, version: V, namespace: ns2.name, plural: "apimanagers", name: "am" });
      await core.createNamespacedPersistentVolumeClaim({ namespace: ns2.name, body: { metadata: { name: "src" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Mi" } } } } });
      // A backup in the upstream layout with PVC file storage and nothing in it.
      const { hostPathOf } = await import("../backup/fixtures.ts");
      const { mkdir, writeFile } = await import("node:fs/promises");
      const root = await hostPathOf(kc, ns2.name, "src");
      await mkdir(`${root}/apimanager`, { recursive: true });
      await writeFile(`${root}/apimanager/apimanager-backup.json`, JSON.stringify({ apiVersion: `${G}/${V}`, kind: "APIManager", metadata: { name: "never-ready" }, spec: { wildcardDomain: "x.example.com" } }));
      await core.deleteNamespacedSecret({ name: "zync", namespace: ns2.name });
      await create(kc, ns2.name, "apimanagerrestores", "APIManagerRestore", "r2", { restoreSource: { persistentVolumeClaim: { claimSource: { claimName: "src" } } } });
      await expectFailed<APIManagerRestoreStatus>(ns2.name, "apimanagerrestores", "r2", "APIManagerNotReady", /"apim-f4-[0-9a-f]+\/never-ready" did not report system-sidekiq ready .* within 4s/);
    } finally {
      await ns2.cleanup();
    }
  });
});
