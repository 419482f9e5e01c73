// Point-in-time recovery from backups the operator made itself: a "database" appends one
// timestamped entry a second; a logfile Backup archives the entries through its StatefulSet
// while a datafile Backup copies them (both KubeBlocks 0.6-style tools writing plain files into
// BACKUP_DIR); a RestoreJob with restoreTime restores the base, replays the archived log up to
// that second, and the restored entries are exactly the source's entries up to it.
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { DataProtectionGroup, type BackupPolicy, type BackupTool } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, until } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, getBackup, hostPathOf, installShared, REPO, testTimeouts } from "./fixtures.ts";
import { createRestoreJob, createStatefulSet, waitReady, waitRestore } from "../restore/seed.ts";

const V = "v1alpha1";
const tool = (name: string, spec: Partial<BackupTool["spec"]>): BackupTool => ({
  apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool", metadata: { name },
  spec: { image: "busybox", deployKind: "job", type: "file", backupCommands: ["true"], env: [{ name: "DATA_DIR", value: "/data" }], ...spec },
});
const base = tool("pitr-entries-base", {
  backupCommands: ["sh", "-c", "set -e; mkdir -p ${BACKUP_DIR}; cp ${DATA_DIR}/entries.txt ${BACKUP_DIR}/entries.txt"],
  physical: { restoreCommands: ["sh", "-c", "set -e; mkdir -p ${DATA_DIR}; cp ${BACKUP_DIR}/entries.txt ${DATA_DIR}/entries.txt"] },
});
// Archives the whole entry file every ARCHIVE_INTERVAL (like a WAL archiver); replays the entries
// after the base's last one up to KB_RECOVERY_TIMESTAMP.
const log = tool("pitr-entries-log", {
  type: "pitr", deployKind: "statefulSet",
  backupCommands: ["sh", "-c", 'set -e; mkdir -p ${BACKUP_DIR}; while true; do cp ${DATA_DIR}/entries.txt ${BACKUP_DIR}/archive.tmp; mv ${BACKUP_DIR}/archive.tmp ${BACKUP_DIR}/archive.log; sleep "${ARCHIVE_INTERVAL%s}"; done'],
  physical: { restoreCommands: ["sh", "-c", 'set -e; last=`tail -n 1 ${DATA_DIR}/entries.txt | cut -d" " -f2`; awk -v last="$last" -v to="$KB_RECOVERY_TIMESTAMP" \'$2 > last && $1 <= to\' ${BACKUP_DIR}/archive.log >> ${DATA_DIR}/entries.txt'] },
});

async function startWriter(kc: KubeConfig, ns: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.createNamespacedPod({ namespace: ns, body: {
    metadata: { name: "db-0", labels: { app: "db" } },
    spec: {
      containers: [{
        name: "db", image: "busybox", command: ["sh", "-c", 'i=0; while true; do echo "`date +%s` $i" >> /data/entries.txt; i=`expr $i + 1`; sleep 1; done'],
        volumeMounts: [{ name: "data", mountPath: "/data" }],
      }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
      terminationGracePeriodSeconds: 1,
    },
  } });
  await until("writer running", async () => ((await core.readNamespacedPod({ name: "db-0", namespace: ns })).status?.phase === "Running" ? true : undefined), 60_000);
}

describe("Point-in-time recovery from operator-made datafile and logfile backups (e2e)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let op: Operator;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc, [base, log]);
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("restores the base and replays the archived log to the chosen second: exactly the source's entries up to it", async () => {
    const ns = await testNamespace(kc, "pitr-made");
    try {
      await createPVC(kc, ns.name, "data");
      await startWriter(kc, ns.name);
      const target = { labelsSelector: { matchLabels: { app: "db" } } };
      await createPolicy(kc, ns.name, "pitr", {
        schedule: { logfile: { enable: true, cronExpression: "*/2 * * * * *" } },
        datafile: { backupToolName: base.metadata!.name!, backupRepoName: REPO, target },
        logfile: { backupToolName: log.metadata!.name!, backupRepoName: REPO, target },
      } as BackupPolicy["spec"]);
      await createBackup(kc, ns.name, "log1", "pitr", { backupType: "logfile" });
      await until("log1 Running", async () => ((await getBackup(kc, ns.name, "log1"))?.status?.phase === "Running" ? true : undefined), 120_000, 300);
      await new Promise((r) => setTimeout(r, 3_000));
      await createBackup(kc, ns.name, "base1", "pitr");
      const b = await backupInPhase(kc, ns.name, "base1", ["Completed"], 120_000);
      expect(b.status!.manifests!.backupTool!.dataFormat).to.equal("PlainFiles");

      // A second a few seconds after the base, once the archive holds entries past it.
      const t = Math.floor(Date.parse(b.status!.completionTimestamp!) / 1000) + 3;
      const archive = join(await hostPathOf(kc, ns.name, b.status!.persistentVolumeClaimName!), ns.name, "log1", "archive.log");
      await until(`archive.log past ${t}`, async () => {
        const lines = (await readFile(archive, "utf8").catch(() => "")).trim().split("\n");
        return Number(lines[lines.length - 1]?.split(" ")[0]) > t + 1 ? true : undefined;
      }, 60_000, 500);
      await until("log1's stopTime past it", async () => {
        const stop = (await getBackup(kc, ns.name, "log1"))?.status?.manifests?.backupLog?.stopTime;
        return stop && Date.parse(stop) / 1000 > t ? true : undefined;
      }, 60_000, 500);

      await createStatefulSet(kc, ns.name, "restored", 1, { app: "restored" });
      await waitReady(kc, ns.name, "restored", 1);
      const restoreTime = new Date(t * 1000).toISOString().replace(".000Z", "Z");
      await createRestoreJob(kc, ns.name, "to-t", { backupJobName: "log1", labels: { app: "restored" }, claim: "data-restored-0", restoreTime });
      const rj = await waitRestore(kc, ns.name, "to-t", "Completed");
      expect(rj.status?.conditions?.find((c) => c.type === "Verified")?.status, "the base's kept files were verified").to.equal("True");

      const source = (await readFile(join(await hostPathOf(kc, ns.name, "data"), "entries.txt"), "utf8")).trim().split("\n");
      const restored = (await readFile(join(await hostPathOf(kc, ns.name, "data-restored-0"), "entries.txt"), "utf8")).trim().split("\n");
      const want = source.filter((l) => Number(l.split(" ")[0]) <= t);
      expect(restored.length).to.be.greaterThan(3);
      expect(restored).to.deep.equal(want);
      expect(source.length, "the source kept writing past the restore point").to.be.greaterThan(want.length);
    } finally {
      await ns.cleanup();
    }
  });
});
