// Namespaces are tenants: a repo with a namespaceSelector is usable only from the namespaces it
// admits. A Backup or RestoreJob elsewhere fails with RepoNotAllowed, and nothing of the repo
// (credential or key copies) is copied into that namespace.
import { expect } from "chai";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons } from "../harness.ts";
import { backupInPhase, createBackup, createEncryptedRepo, createPolicy, createPVC, datafilePolicy, installShared, runJob, seedScript, startTargetPod, testTimeouts } from "./fixtures.ts";
import { createRestoreJob, createStatefulSet, waitRestore } from "../restore/seed.ts";

const REPO = "tenant-a-repo";

async function setNamespaceLabels(kc: KubeConfig, name: string, labels: Record<string, string>): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const ns = await core.readNamespace({ name });
  ns.metadata!.labels = { ...ns.metadata!.labels, ...labels };
  await core.replaceNamespace({ name, body: ns });
}

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
    } finally {
      await ns.cleanup();
    }
  });
});
