// backupStatusUpdates end to end: pre scripts run before the tool (they see the data as it was),
// post scripts after it; their JSON lands at `path`; with no script the tool's backup.info is
// read; a failing script only raises a Warning Event and the Backup still completes.
import { expect } from "chai";
import { BatchV1Api, type V1Job } from "@kubernetes/client-node";
import type { BackupPolicy } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, eventsFor, startTestOperator, testNamespace, until } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, installShared, runJob, startTargetPod, testTimeouts, tool } from "./fixtures.ts";

const markerTool = tool("e2e-marker", ["sh", "-c", 'set -e; echo after > /data/marker; mkdir -p "$BACKUP_DIR"; printf \'{"tool":"wrote-backup-info"}\' > "$BACKUP_DIR/backup.info"']);
// The marker was written by root: the tool rewrites it as root.
markerTool.metadata!.annotations = { "dataprotection.kubeblocks.io/run-as-root": "true" };

describe("Backup: backupStatusUpdates as Jobs next to the target", function () {
  this.timeout(240_000);
  let op: Operator;

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig, [markerTool]);
    op = await startTestOperator({ controllers: ["backup"], timeouts: testTimeouts });
  });
  after(async () => op?.stop());

  it("merges pre and post script output and backup.info into status, in order, and survives a failing script", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-status");
    try {
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", "echo before > /data/marker", [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      const spec = datafilePolicy(markerTool.metadata!.name!, {
        backupStatusUpdates: [
          { updateStage: "pre", path: "manifests.userContext", containerName: "db", script: "printf '{\"pre\":\"%s\"}' \"`cat /data/marker`\"" },
          { updateStage: "post", path: "manifests.userContext", script: "printf '{\"post\":\"%s\"}' \"`cat /data/marker`\"" },
          { updateStage: "post", path: "manifests.userContext" },
          { updateStage: "post", path: "manifests.backupLog", script: "echo '{\"startTime\":\"2024-01-01T00:00:00Z\",\"stopTime\":\"2024-01-01T01:00:00Z\"}'" },
          { updateStage: "post", path: "manifests.userContext", script: "echo broken >&2; exit 3" },
        ],
      }) as BackupPolicy["spec"];
      await createPolicy(kc, ns.name, "upd", spec);
      await createBackup(kc, ns.name, "u1", "upd");

      const b = await backupInPhase(kc, ns.name, "u1", ["Completed"], 150_000);
      const m = b.status!.manifests!;
      expect(m.userContext).to.deep.equal({ pre: "before", post: "after", tool: "wrote-backup-info" });
      expect(m.backupLog).to.deep.equal({ startTime: "2024-01-01T00:00:00Z", stopTime: "2024-01-01T01:00:00Z" });
      expect(m.backupTool!.files!.map((f) => f.name)).to.deep.equal(["backup.info"]);

      // Namespace users write these scripts: they run as the target's user, never with the root
      // the run-as-root tool asked for (the tool Job has it).
      const jobs = (await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns.name, labelSelector: "dataprotection.kubeblocks.io/backup-name=u1" })).items;
      const roleOf = (j: V1Job) => j.metadata?.labels?.["dataprotection.kubeblocks.io/job-role"] ?? "";
      const statusJobs = jobs.filter((j) => roleOf(j).startsWith("status-"));
      expect(statusJobs).to.have.length(5);
      for (const j of statusJobs) expect(j.spec!.template.spec!.securityContext, j.metadata!.name).to.deep.include({ runAsNonRoot: true }).and.not.deep.include({ runAsUser: 0 });
      expect(jobs.find((j) => roleOf(j) === "tool")!.spec!.template.spec!.securityContext).to.deep.include({ runAsUser: 0 });

      // Events are written asynchronously: wait for all five.
      const events = await until("five status update Events", async () => {
        const evs = (await eventsFor(kc, ns.name, "u1")).filter((e) => e.reason?.startsWith("StatusUpdate"));
        return evs.length >= 5 ? evs : undefined;
      }, 60_000);
      expect(events.filter((e) => e.reason === "StatusUpdated").map((e) => e.message!.replace(/, Job .*/, "")).sort()).to.deep.equal([
        "backupStatusUpdates post #1 (path manifests.userContext)", "backupStatusUpdates post #2 (path manifests.userContext)",
        "backupStatusUpdates post #3 (path manifests.backupLog)", "backupStatusUpdates pre #1 (path manifests.userContext)",
      ]);
      const failed = events.filter((e) => e.reason === "StatusUpdateFailed");
      expect(failed).to.have.length(1);
      expect(failed[0].type).to.equal("Warning");
      expect(failed[0].message).to.contain("post #4").and.contain("broken");
    } finally {
      await ns.cleanup();
    }
  });

  it("runs a snapshot policy's updates too: pre before the VolumeSnapshot (it sees the pre hook's marker), post after the post hook", async () => {
    const kc = (await e2eCluster()).controlPlane.kubeConfig;
    const ns = await testNamespace(kc, "bk-status-snap");
    try {
      await createPVC(kc, ns.name, "data", { "kubeblocks.io/volume-type": "data" });
      await runJob(kc, ns.name, "seed", "echo live > /data/marker", [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      const spec = {
        snapshot: {
          target: { labelsSelector: { matchLabels: { app: "db" } } },
          hooks: { containerName: "db", preCommands: ["sh", "-c", "echo frozen > /data/marker"], postCommands: ["sh", "-c", "echo thawed > /data/marker"] },
          backupStatusUpdates: [
            { updateStage: "pre", path: "manifests.userContext", script: "printf '{\"pre\":\"%s\",\"backup\":\"%s\"}' \"`cat /data/marker`\" \"$BACKUP_NAME\"" },
            { updateStage: "post", path: "manifests.userContext", script: "printf '{\"post\":\"%s\"}' \"`cat /data/marker`\"" },
          ],
        },
      } as BackupPolicy["spec"];
      await createPolicy(kc, ns.name, "snap-upd", spec);
      await createBackup(kc, ns.name, "s1", "snap-upd", { backupType: "snapshot" });
      const b = await backupInPhase(kc, ns.name, "s1", ["Completed"], 150_000);
      expect(b.status!.manifests!.userContext).to.deep.equal({ pre: "frozen", backup: "s1", post: "thawed" });
      expect(b.status!.manifests!.backupSnapshot!.volumeSnapshotName).to.equal("s1");
      const updated = await until("two StatusUpdated Events", async () => {
        const evs = (await eventsFor(kc, ns.name, "s1")).filter((e) => e.reason === "StatusUpdated");
        return evs.length >= 2 ? evs : undefined;
      }, 60_000);
      expect(updated.map((e) => e.message!.replace(/, Job .*/, "")).sort()).to.deep.equal([
        "backupStatusUpdates post #1 (path manifests.userContext)", "backupStatusUpdates pre #1 (path manifests.userContext)",
      ]);
    } finally {
      await ns.cleanup();
    }
  });
});
