// Must-show 4: a logfile (PITR) backup archives continuously through a StatefulSet: Running,
// availableReplicas 1, backupLog.stopTime advancing; Completed (and the StatefulSet gone) once
// the policy's logfile schedule is disabled. The BackupPolicy controller is not running: the
// test creates the logfile Backup itself, as that controller would.
import { expect } from "chai";
import { join } from "node:path";
import { readFile } from "node:fs/promises";
import { AppsV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { DataProtectionGroup, type BackupPolicy } from "@dataprotection/api";
import { e2eCluster, startTestOperator, testNamespace, until, untilEventReasons } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, getBackup, hostPathOf, installShared, REPO, startTargetPod, testTimeouts, tool } from "./fixtures.ts";

// Appends one line per ARCHIVE_INTERVAL, like a WAL archiver, until stopped.
const archiver = tool("e2e-archiver", ["sh", "-c", [
  'mkdir -p "$BACKUP_DIR"',
  'echo "interval=$ARCHIVE_INTERVAL db=$DB_HOST" > "$BACKUP_DIR/archiver.info"',
  'while true; do date -u +%s >> "$BACKUP_DIR/archive.log"; sleep "${ARCHIVE_INTERVAL%s}"; done',
].join("\n")], { type: "pitr", deployKind: "statefulSet" });

describe("Backup: logfile backups through a StatefulSet", function () {
  this.timeout(240_000);
  let op: Operator;

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig, [archiver]);
    op = await startTestOperator({ controllers: ["backup"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("stays Running with stopTime advancing while the schedule is enabled, and completes once it is disabled", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const apps = kc.makeApiClient(AppsV1Api);
    const ns = await testNamespace(kc, "bk-log");
    try {
      await createPVC(kc, ns.name, "data");
      const target = await startTargetPod(kc, ns.name);
      const spec = {
        // A six-field cron: every 2 seconds, so ARCHIVE_INTERVAL=2s and the status follows quickly.
        schedule: { logfile: { enable: true, cronExpression: "*/2 * * * * *" } },
        logfile: { backupToolName: archiver.metadata!.name!, backupRepoName: REPO, target: { labelsSelector: { matchLabels: { app: "db" } } } },
      } as BackupPolicy["spec"];
      await createPolicy(kc, ns.name, "pitr", spec);
      await createBackup(kc, ns.name, "log1", "pitr", { backupType: "logfile" });

      const running = await until("log1 Running with an available archiver and a stopTime", async () => {
        const b = await getBackup(kc, ns.name, "log1");
        if (b?.status?.phase === "Failed") throw new Error(`Backup failed: ${b.status.failureReason}`);
        return b?.status?.phase === "Running" && b.status.availableReplicas === 1 && b.status.manifests?.backupLog?.stopTime ? b : undefined;
      }, 120_000, 300);
      const first = running.status!.manifests!.backupLog!;
      expect(Date.parse(first.stopTime!)).to.be.at.least(Date.parse(first.startTime!));
      expect(running.status!.logFilePersistentVolumeClaimName).to.equal(running.status!.persistentVolumeClaimName);
      const advanced = await until("stopTime advancing", async () => {
        const b = await getBackup(kc, ns.name, "log1");
        const t = b?.status?.manifests?.backupLog?.stopTime;
        return t && Date.parse(t) > Date.parse(first.stopTime!) ? b : undefined;
      }, 60_000, 500);
      expect(advanced.status!.phase).to.equal("Running");
      const stsList = await apps.listNamespacedStatefulSet({ namespace: ns.name, labelSelector: "dataprotection.kubeblocks.io/backup-name=log1" });
      expect(stsList.items).to.have.length(1);
      const sts = stsList.items[0];

      // Disable the logfile schedule (what a user does to stop archiving).
      const api = kc.makeApiClient(CustomObjectsApi);
      await api.patchNamespacedCustomObject({
        group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "backuppolicies", name: "pitr",
        body: [{ op: "replace", path: "/spec/schedule/logfile/enable", value: false }],
      });
      const done = await backupInPhase(kc, ns.name, "log1", ["Completed"], 60_000);
      const log = done.status!.manifests!.backupLog!;
      expect(Date.parse(log.stopTime!)).to.be.at.least(Date.parse(advanced.status!.manifests!.backupLog!.stopTime!));
      expect(done.status!.availableReplicas).to.equal(0);
      expect(done.status!.completionTimestamp).to.be.a("string");
      await until("the archiver StatefulSet deleted", async () => {
        const l = await apps.listNamespacedStatefulSet({ namespace: ns.name, labelSelector: "dataprotection.kubeblocks.io/backup-name=log1" });
        return l.items.some((s) => s.metadata?.uid === sts.metadata?.uid) ? undefined : true;
      }, 60_000);
      // LogArchivingStopped is written in the background, after the Completed status.
      expect((await untilEventReasons(kc, ns.name, "log1", ["BackupRunning", "LogArchivingStopped"])).map((e) => e.reason)).to.include.members(["BackupRunning", "LogArchivingStopped"]);

      // The archiver ran with the execution contract's env and wrote into the repo.
      const dir = join(await hostPathOf(kc, ns.name, done.status!.persistentVolumeClaimName!), ns.name, "log1");
      expect(await readFile(join(dir, "archiver.info"), "utf8")).to.equal(`interval=2s db=${target.status!.podIP}\n`);
      const lines = (await readFile(join(dir, "archive.log"), "utf8")).trim().split("\n");
      expect(lines.length).to.be.at.least(1);
      for (const l of lines) expect(l).to.match(/^\d+$/);
    } finally {
      await ns.cleanup();
    }
  });
});
