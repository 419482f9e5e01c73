// A policy's own PVC created from persistentVolumeConfigMap: the templated PV (hostPath here)
// is created pre-bound to the claim and the backup's files land in it.
import { expect } from "chai";
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, exists, installShared, runJob, seedScript, startTargetPod, testTimeouts } from "./fixtures.ts";

describe("Backup: policy PVC from persistentVolumeConfigMap", function () {
  this.timeout(240_000);
  let op: Operator;
  const hostDir = mkdtempSync(join(tmpdir(), "dp-pvtemplate-"));

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig);
    op = await startTestOperator({ controllers: ["backup", "backuptool"], timeouts: testTimeouts });
  });
  after(async () => {
    await op?.stop();
    rmSync(hostDir, { recursive: true, force: true });
  });

  it("creates the templated PV bound to the policy's claim and writes the backup into it", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const ns = await testNamespace(kc, "bk-pvtpl");
    const pvName = `pv-backups-${ns.name}`;
    try {
      // The admin's volume: writable by the non-root tool user, as a real NFS export would be.
      const volumeDir = join(hostDir, `backups-${ns.name}`);
      mkdirSync(volumeDir);
      chmodSync(volumeDir, 0o777);
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(20), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await core.createNamespacedConfigMap({
        namespace: ns.name,
        body: {
          metadata: { name: "pv-template" },
          data: {
            persistentVolume: [
              "apiVersion: v1", "kind: PersistentVolume",
              "metadata: { name: pv-$(GENERATE_NAME) }",
              "spec:",
              "  capacity: { storage: 1Gi }",
              "  accessModes: [ReadWriteMany]",
              "  persistentVolumeReclaimPolicy: Retain",
              `  hostPath: { path: ${hostDir}/$(GENERATE_NAME), type: DirectoryOrCreate }`,
            ].join("\n"),
          },
        },
      });
      await createPolicy(kc, ns.name, "own-pvc", {
        datafile: {
          backupToolName: "volume",
          target: { labelsSelector: { matchLabels: { app: "db" } } },
          persistentVolumeClaim: { name: "backups", createPolicy: "IfNotPresent", persistentVolumeConfigMap: { name: "pv-template", namespace: ns.name } },
        },
      } as never);
      await createBackup(kc, ns.name, "b1", "own-pvc");

      const b = await backupInPhase(kc, ns.name, "b1", ["Completed", "Failed"], 120_000);
      expect(b.status?.failureReason ?? "").to.equal("");
      expect(b.status?.persistentVolumeClaimName).to.equal("backups");
      const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "backups", namespace: ns.name });
      expect(pvc.spec?.volumeName).to.equal(pvName);
      const pv = await core.readPersistentVolume({ name: pvName });
      expect(pv.spec?.claimRef).to.deep.include({ namespace: ns.name, name: "backups" });
      expect(await exists(join(hostDir, `backups-${ns.name}`, ns.name, "b1"))).to.equal(true);
    } finally {
      await ns.cleanup();
      await core.deletePersistentVolume({ name: pvName }).catch(() => undefined);
    }
  });
});
