// A BackupRepo on Azure Blob Storage (Azurite on loopback), through the one repository contract:
// a StorageProvider whose agentConfigTemplate says type=azure, a Tool repo with a credential
// Secret, the operator's pre-check (Ready; Failed naming the fix for a wrong key), a datafile
// Backup of a PVC with the built-in volume tool, a RestoreJob into a fresh StatefulSet compared
// byte for byte, and the Backup's deletion removing its blobs.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { ContainerClient, StorageSharedKeyCredential } from "@azure/storage-blob";
import { DataProtectionGroup, LabelBackupRepoName, StorageGroup, type BackupRepo } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { startAzurite, type AzuriteServer } from "../../packages/storage/test/azurite.ts";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until } from "../harness.ts";
import {
  backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, deleteBackup, expectRestoredTree, getBackup, installShared, jobsOf,
  runJob, seedScript, startTargetPod, testTimeouts,
} from "../backup/fixtures.ts";

const V = "v1alpha1";
const suffix = randomBytes(3).toString("hex");
const PROVIDER = `azure-blob-${suffix}`;
const REPO = `azure-${suffix}`;
const BAD_REPO = `azure-badkey-${suffix}`;
const CONTAINER = "dp-e2e";
const PREFIX = "e2e";

/** What a user writes for Azure Blob: the backend's parameters and its two Secret keys. */
const provider = {
  apiVersion: `${StorageGroup}/${V}`, kind: "StorageProvider", metadata: { name: PROVIDER },
  spec: {
    agentConfigTemplate: [
      "type=azure",
      "container={{ .Parameters.container }}",
      "{{- if .Parameters.endpoint }}",
      "endpoint={{ .Parameters.endpoint }}",
      "{{- end }}",
      "prefix={{ .Parameters.prefix }}",
      "",
    ].join("\n"),
    parametersSchema: {
      openAPIV3Schema: {
        type: "object",
        required: ["container", "accountName", "accountKey"],
        properties: {
          container: { type: "string", minLength: 3 },
          endpoint: { type: "string", pattern: "^https?://" },
          prefix: { type: "string" },
          accountName: { type: "string", minLength: 1 },
          accountKey: { type: "string", minLength: 1 },
        },
      },
      credentialFields: ["accountName", "accountKey"],
    },
  },
};

describe("BackupRepo on Azure Blob Storage (Azurite): pre-check, volume backup, RestoreJob, deletion (e2e)", function () {
  this.timeout(600_000);
  let kc: KubeConfig;
  let op: Operator;
  let azurite: AzuriteServer;
  let container: ContainerClient;
  const custom = () => kc.makeApiClient(CustomObjectsApi);
  const core = () => kc.makeApiClient(CoreV1Api);
  const blobs = async (prefix: string) => {
    const names: string[] = [];
    for await (const b of container.listBlobsFlat({ prefix })) names.push(b.name);
    return names.sort();
  };
  const repo = (name: string, secret: string) => ({
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name },
    spec: { storageProviderRef: PROVIDER, accessMethod: "Tool", pvReclaimPolicy: "Retain", config: { container: CONTAINER, endpoint: azurite.endpoint, prefix: PREFIX }, credential: { name: secret, namespace: "default" } },
  });
  const repoIn = (name: string, phase: string) =>
    until(`BackupRepo ${name} ${phase}`, async () => {
      const r = await getCustom<BackupRepo>(kc, DataProtectionGroup, "backuprepos", undefined, name);
      return r?.status?.phase === phase ? r : undefined;
    }, 120_000, 500);

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    azurite = await startAzurite([CONTAINER]);
    container = new ContainerClient(`${azurite.endpoint}/${CONTAINER}`, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey));
    // The user's Secret holds more than the backend needs; only its two keys may leave "default".
    await core().createNamespacedSecret({ namespace: "default", body: { metadata: { name: `${REPO}-cred` }, stringData: { accountName: azurite.accountName, accountKey: azurite.accountKey, note: "not for copies" } } });
    await core().createNamespacedSecret({ namespace: "default", body: { metadata: { name: `${BAD_REPO}-cred` }, stringData: { accountName: azurite.accountName, accountKey: randomBytes(64).toString("base64") } } });
    await custom().createClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", body: provider });
    await custom().createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", body: repo(REPO, `${REPO}-cred`) });
    await custom().createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", body: repo(BAD_REPO, `${BAD_REPO}-cred`) });
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob", "backuprepo", "storageprovider"], timeouts: testTimeouts });
  });

  after(async () => {
    await op?.stop();
    const del = (group: string, plural: string, name: string) => custom().deleteClusterCustomObject({ group, version: V, plural, name }).catch(() => undefined);
    for (const name of [REPO, BAD_REPO]) await del(DataProtectionGroup, "backuprepos", name);
    await del(StorageGroup, "storageproviders", PROVIDER);
    for (const name of [`${REPO}-cred`, `${BAD_REPO}-cred`]) await core().deleteNamespacedSecret({ name, namespace: "default" }).catch(() => undefined);
    await azurite?.stop();
  });

  it("makes the repo Ready after the operator's probe of the container, and Failed naming the fix for a wrong account key", async () => {
    const good = await repoIn(REPO, "Ready");
    const passed = good.status?.conditions?.find((c) => c.type === "PreCheckPassed");
    expect(passed?.status).to.equal("True");
    expect(passed?.message).to.equal(`wrote, read back and deleted a probe object in azure://${azurite.accountName}/${CONTAINER}/${PREFIX}`);
    expect(good.status?.backupPVCName).to.equal(undefined);
    const bad = await repoIn(BAD_REPO, "Failed");
    expect(bad.status?.failureReason).to.match(/^PreCheckFailed: pre-check of BackupRepo ".*" failed: access denied to access container azure:\/\/dpaccount\/dp-e2e \(\w+\): check the repo's accountName and accountKey/);
    expect(await blobs(""), "the probe object is gone").to.deep.equal([]);
  });

  it("backs up a PVC of 300 files with the volume tool into blobs, restores them byte-identical into a fresh StatefulSet, and deleting the Backup removes its blobs", async () => {
    await repoIn(REPO, "Ready");
    const ns = await testNamespace(kc, "azure-volume", 180_000);
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(300), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "daily", datafilePolicy("volume", { backupRepoName: REPO }));
      await createBackup(kc, ns.name, "b1", "daily");
      const b = await backupInPhase(kc, ns.name, "b1", ["Completed"], 180_000);
      expect(b.status?.backupRepoName).to.equal(REPO);
      expect(b.status?.persistentVolumeClaimName).to.equal(undefined);
      const bt = b.status!.manifests!.backupTool!;
      expect(bt.filePath).to.equal(`/${ns.name}/b1`);
      expect((bt.files ?? []).map((f) => f.name)).to.deep.equal(["dir.dpar"]);
      expect(await blobs(`${PREFIX}/${ns.name}/b1/`)).to.deep.equal([`${PREFIX}/${ns.name}/b1/dir.dpar`, `${PREFIX}/${ns.name}/b1/manifest.json`]);

      // The tool pod got one document (no secret in it) and the secrets by reference to the copy.
      const [job] = await jobsOf(kc, ns.name, "b1");
      const env = job!.spec!.template.spec!.containers.flatMap((c) => c.env ?? []);
      const doc = JSON.parse(env.find((e) => e.name === "DP_REPO_CONFIG")!.value!) as Record<string, unknown>;
      expect(doc).to.deep.equal({
        version: 1, kind: "azure", params: { container: CONTAINER, endpoint: azurite.endpoint, prefix: PREFIX },
        secretEnv: { accountName: "DP_REPO_SECRET_ACCOUNT_NAME", accountKey: "DP_REPO_SECRET_ACCOUNT_KEY" },
      });
      const keyRef = env.find((e) => e.name === "DP_REPO_SECRET_ACCOUNT_KEY")!.valueFrom!.secretKeyRef!;
      const copy = await core().readNamespacedSecret({ name: keyRef.name!, namespace: ns.name });
      expect(Object.keys(copy.data ?? {}).sort(), "the copy carries exactly the backend's keys").to.deep.equal(["accountKey", "accountName"]);
      expect(copy.metadata?.labels?.[LabelBackupRepoName]).to.equal(REPO);

      await expectRestoredTree(kc, ns.name, "b1", "data", 300);

      await deleteBackup(kc, ns.name, "b1");
      await until("Backup b1 gone", async () => ((await getBackup(kc, ns.name, "b1")) ? undefined : true), 120_000);
      expect(await blobs(`${PREFIX}/${ns.name}/`), "the Backup's blobs are deleted with it").to.deep.equal([]);
    } finally {
      await ns.cleanup();
    }
  });
});
