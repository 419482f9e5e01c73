// Namespaces are tenants: a repo with a namespaceSelector is usable only from the namespaces it
// admits. A Backup or RestoreJob elsewhere fails with RepoNotAllowed, and nothing of the repo
// (credential or key copies) is copied into that namespace; the copies leave a namespace with the
// last Backup there that uses the repo.
import { expect } from "chai";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { DataProtectionGroup } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, until, untilEventReasons } from "../harness.ts";
import { backupInPhase, createBackup, createEncryptedRepo, createPolicy, createPVC, datafilePolicy, installShared, runJob, seedScript, setNamespaceLabels, startTargetPod, testTimeouts } from "./fixtures.ts";
import { createRestoreJob, createStatefulSet, waitRestore } from "../restore/seed.ts";

const REPO = "tenant-a-repo";

async function repoSecretCopies(kc: KubeConfig, ns: string): Promise<string[]> {
  const list = await kc.makeApiClient(CoreV1Api).listNamespacedSecret({ namespace: ns });
  return list.items.map((s) => s.metadata?.name ?? "").filter((n) => n.startsWith("dp-repo-"));
}

describe("Tenancy: BackupRepo.spec.namespaceSelector (e2e)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let op: Operator;

  let removeRepo: (() => Promise<void>) | undefined;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob", "backuprepo", "storageprovider"], timeouts: testTimeouts });
    removeRepo = await createEncryptedRepo(kc, REPO, { namespaceSelector: { matchLabels: { team: "a" } } });
  });
  after(async () => {
    await op?.stop();
    await removeRepo?.();
  });

  it("refuses a Backup and a RestoreJob from a namespace the repo does not admit, copying nothing there, and serves one it admits", async () => {
    const ns = await testNamespace(kc, "tenant");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(10), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "p", datafilePolicy("volume", { backupRepoName: REPO }));

      await createBackup(kc, ns.name, "refused", "p");
      const refused = await backupInPhase(kc, ns.name, "refused", ["Failed"]);
      expect(refused.status!.failureReason).to.match(new RegExp(`^RepoNotAllowed: BackupRepo "${REPO}" does not allow namespace "${ns.name}"`));
      expect((await untilEventReasons(kc, ns.name, "refused", ["RepoNotAllowed"])).find((e) => e.reason === "RepoNotAllowed")?.type).to.equal("Warning");
      expect(await repoSecretCopies(kc, ns.name), "no credential or key copy in a refused namespace").to.deep.equal([]);

      await setNamespaceLabels(kc, ns.name, { team: "a" });
      await createBackup(kc, ns.name, "admitted", "p");
      await backupInPhase(kc, ns.name, "admitted", ["Completed"], 120_000);
      expect(await repoSecretCopies(kc, ns.name)).to.have.length(1);

      // The namespace leaves the tenant: its RestoreJob is refused before anything runs.
      await setNamespaceLabels(kc, ns.name, { team: "b" });
      await createStatefulSet(kc, ns.name, "restored", 1, { app: "restored" });
      await createRestoreJob(kc, ns.name, "restore", { backupJobName: "admitted", labels: { app: "restored" }, claim: "data-restored-0" });
      const rj = await waitRestore(kc, ns.name, "restore", "Failed");
      expect(rj.status!.failureReason).to.match(new RegExp(`^RepoNotAllowed: BackupRepo "${REPO}" does not allow namespace "${ns.name}"`));

      // The last Backup on the repo leaves the namespace: so does the key copy (the refused
      // Backup never resolved a repo; it is deleted first so it cannot hold the copy).
      const api = kc.makeApiClient(CustomObjectsApi);
      for (const name of ["refused", "admitted"]) await api.deleteNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "backups", name });
      await until("the Backups gone", async () => ((await api.listNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "backups" })) as { items: unknown[] }).items.length === 0 || undefined, 120_000, 500);
      expect(await repoSecretCopies(kc, ns.name), "no key copy once no Backup there uses the repo").to.deep.equal([]);
    } finally {
      await ns.cleanup();
    }
  });
});
