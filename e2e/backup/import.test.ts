// A Backup imported into another namespace (spec.importFrom): the disaster-recovery path, where
// the namespace (or cluster) that made a backup is gone and a new one restores it from the repo.
// Namespace A backs up a volume into an encrypted S3 repo (versitygw) that admits the "dr" tenant;
// namespace B imports it by path (kubectl dp import), with no policy and no tool run; a RestoreJob in B brings the
// files back byte-identical. A namespace the repo does not admit, a path that climbs out, a path
// with no backup and a manifest forged by a writer without the key all fail, naming why; deleting
// the imported Backup leaves the original's data in the bucket.
import { expect } from "chai";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { DataProtectionGroup, type Backup } from "@dataprotection/api";
import { runCli } from "@dataprotection/cli";
import type { Operator } from "@dataprotection/controllers";
import { backendFromConfig, type RepoBackend } from "@dataprotection/storage";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilEventReasons } from "../harness.ts";
import { startS3Server, type S3Server } from "../../packages/storage/test/s3-server.ts";
import { createRestoreJob, createStatefulSet, waitReady, waitRestore } from "../restore/seed.ts";
import {
  backupInPhase, createBackup, createEncryptedS3Repo, createPolicy, createPVC, datafilePolicy, hostPathOf, installShared, readTree, runJob, seedScript, setNamespaceLabels, startTargetPod, testTimeouts,
} from "./fixtures.ts";

const V = "v1alpha1";
const REPO = "e2e-import";
const BUCKET = "dp-import";
const TENANT = { "dp-e2e-tenant": "dr" };

async function createImport(kc: KubeConfig, ns: string, name: string, path: string): Promise<void> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns, plural: "backups", body: {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "Backup", metadata: { name },
    spec: { backupPolicyName: "restored", backupType: "datafile", importFrom: { backupRepoName: REPO, path } },
  } });
}

async function keysUnder(bucket: RepoBackend, prefix: string): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of bucket.list(prefix)) keys.push(o.key);
  return keys.sort();
}

describe("Backup import: a backup another namespace wrote, restored in a new one (e2e)", function () {
  this.timeout(600_000);
  let kc: KubeConfig;
  let kubeconfig: string;
  let op: Operator;
  let s3: S3Server;
  let bucket: RepoBackend;
  let removeRepo: (() => Promise<void>) | undefined;
  const custom = () => kc.makeApiClient(CustomObjectsApi);

  before(async () => {
    const { controlPlane } = await e2eCluster();
    kc = controlPlane.kubeConfig;
    kubeconfig = controlPlane.kubeconfigPath;
    await installShared(kc);
    s3 = await startS3Server([BUCKET]);
    bucket = backendFromConfig({ kind: "s3", bucket: BUCKET, endpoint: s3.endpoint, forcePathStyle: true, region: "us-east-1", accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey });
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob", "backuprepo", "storageprovider"], timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 } });
    removeRepo = await createEncryptedS3Repo(kc, REPO, s3, BUCKET, TENANT);
  });
  after(async () => {
    await op?.stop();
    await removeRepo?.();
    await s3?.stop();
  });

  it("imports a volume backup by its path into a new namespace and restores it byte-identical; refuses what it cannot trust; deleting the import keeps the data", async () => {
    const a = await testNamespace(kc, "made");
    const b = await testNamespace(kc, "dr");
    const outsider = await testNamespace(kc, "outsider");
    try {
      // Namespace A: a volume of 30 files, backed up into the repo.
      await setNamespaceLabels(kc, a.name, TENANT);
      await createPVC(kc, a.name, "data");
      await runJob(kc, a.name, "seed", seedScript(30), [{ claim: "data", path: "/data" }]);
      const want = await readTree(await hostPathOf(kc, a.name, "data"));
      await startTargetPod(kc, a.name);
      await createPolicy(kc, a.name, "p", datafilePolicy("volume", { backupRepoName: REPO }));
      await createBackup(kc, a.name, "nightly", "p");
      const original = await backupInPhase(kc, a.name, "nightly", ["Completed"], 120_000);
      const path = original.status!.manifests!.backupTool!.filePath!;
      const objects = await keysUnder(bucket, path.replace(/^\//, "") + "/");
      expect(objects.length, `objects under ${path}`).to.be.greaterThan(1);

      // Namespace B, admitted by the repo: `kubectl dp import` makes the import, which verifies the
      // backup and completes with its record.
      await setNamespaceLabels(kc, b.name, TENANT);
      const out: string[] = [];
      const err: string[] = [];
      const code = await runCli(["--kubeconfig", kubeconfig, "-n", b.name, "import", REPO, path, "--name", "recovered", "--wait", "--timeout", "3m"], { out: (l) => out.push(l), err: (l) => err.push(l), pollMs: 300 });
      expect(code, err.join("\n")).to.equal(0);
      expect(out[0]).to.equal("backup.dataprotection.kubeblocks.io/recovered created");
      expect(out.at(-1)).to.match(new RegExp(`^backup/recovered: imported \\S+ of backup ${original.metadata!.uid} \\(tool volume\\) from repo ${REPO}$`));
      const imported = await backupInPhase(kc, b.name, "recovered", ["Completed", "Failed"], 120_000);
      expect(imported.status?.failureReason).to.equal(undefined);
      expect(imported.status?.backupToolName).to.equal("volume");
      expect(imported.status?.backupRepoName).to.equal(REPO);
      const got = imported.status!.manifests!.backupTool!;
      const made = original.status!.manifests!.backupTool!;
      expect(got.backupId, "bound to the original's uid").to.equal(original.metadata!.uid).and.equal(made.backupId);
      expect(got.filePath).to.equal(path);
      expect(got.encrypted).to.equal(true);
      expect(got.files).to.deep.equal(made.files);
      expect(got.checksum).to.equal(made.checksum);
      expect(imported.status?.totalSize).to.equal(original.status?.totalSize);

      // A RestoreJob of B restores it into B's own fresh StatefulSet: the files of A's volume.
      await createStatefulSet(kc, b.name, "restored", 1, { app: "restored" });
      await waitReady(kc, b.name, "restored", 1);
      await createRestoreJob(kc, b.name, "from-import", { backupJobName: "recovered", labels: { app: "restored" }, claim: "data-restored-0" });
      const rj = await waitRestore(kc, b.name, "from-import", "Completed");
      expect(rj.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");
      const restored = await readTree(await hostPathOf(kc, b.name, "data-restored-0"));
      expect([...restored.keys()].sort()).to.deep.equal([...want.keys()].sort());
      for (const [k, v] of want) expect(restored.get(k)!.equals(v), k).to.equal(true);

      // What is refused, each naming why.
      await createImport(kc, outsider.name, "not-admitted", path);
      expect((await backupInPhase(kc, outsider.name, "not-admitted", ["Failed"])).status?.failureReason).to.match(new RegExp(`^RepoNotAllowed: BackupRepo "${REPO}" does not allow namespace "${outsider.name}"`));
      // A path that climbs out is refused by the schema's pattern (the controller refuses it too: import.test.ts).
      const climbs = await createImport(kc, b.name, "climbs", `${a.name}/x/../nightly`).then(() => undefined, (e: unknown) => e as { code?: number });
      expect(climbs?.code, "the API server refuses a path with ..").to.equal(422);
      await createImport(kc, b.name, "nothing-there", `${a.name}/no-such-backup`);
      expect((await backupInPhase(kc, b.name, "nothing-there", ["Failed"], 120_000)).status?.failureReason).to.match(/^JobFailed: .*no-such-backup/);
      // A writer without the key copies A's objects to another path beside a manifest of their own.
      const prefix = path.replace(/^\//, "");
      const forged = `${a.name}/forged`;
      for (const k of objects.filter((k) => !k.endsWith("/manifest.json"))) await bucket.put(`${forged}${k.slice(prefix.length)}`, await readObject(bucket, k));
      const manifest = JSON.parse((await readObject(bucket, `${prefix}/manifest.json`)).toString("utf8")) as Record<string, unknown>;
      await bucket.put(`${forged}/manifest.json`, Buffer.from(JSON.stringify({ ...manifest, backupPath: forged, mac: undefined, macSalt: undefined, macKeyCheck: undefined })));
      await createImport(kc, b.name, "forged", forged);
      expect((await backupInPhase(kc, b.name, "forged", ["Failed"], 120_000)).status?.failureReason).to.match(/^JobFailed: .*manifest/);

      // Deleting the import keeps the data: the original's objects are all still there.
      await custom().deleteNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: b.name, plural: "backups", name: "recovered" });
      await untilEventReasons(kc, b.name, "recovered", ["DataRetained"]);
      await until("the imported Backup gone", async () => ((await getCustom<Backup>(kc, DataProtectionGroup, "backups", b.name, "recovered")) ? undefined : true), 60_000, 500);
      expect(await keysUnder(bucket, `${prefix}/`)).to.deep.equal(objects);
    } finally {
      await outsider.cleanup();
      await b.cleanup();
      await a.cleanup();
    }
  });
});

async function readObject(bucket: RepoBackend, key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of await bucket.get(key)) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}
