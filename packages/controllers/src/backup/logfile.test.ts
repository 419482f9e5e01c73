// Table tests of logfile (PITR) backups: Running while the schedule is enabled, Completed otherwise.
import { expect } from "chai";
import type { BackupPolicy } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { pvcAccess } from "./destination.ts";
import { buildLogStatefulSet, decideLogfile, LOG_SPOOL_MOUNT, MAX_LOG_STATUS_INTERVAL_MS } from "./logfile.ts";
import { Reason } from "./reasons.ts";
import { backup, NOW, pod, policy as policyOf, repo, tool, writes } from "./testdata.ts";
import { validateNewBackup } from "./validate.ts";

const running = backup({ backupType: "logfile" }, { phase: "Running", startTimestamp: "2024-05-01T09:00:00Z", manifests: { backupLog: { startTime: "2024-05-01T09:00:00Z", stopTime: "2024-05-01T09:59:00Z" } } });
const policy = (enable: boolean, cronExpression = "*/5 * * * *"): BackupPolicy => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy", metadata: { name: "daily", namespace: "ns" },
  spec: { schedule: { logfile: { enable, cronExpression } } },
});
const sts = (availableReplicas: number) => ({ metadata: { name: "b1-log" }, status: { availableReplicas } }) as KubeObject & { status: { availableReplicas: number } };

describe("decideLogfile", () => {
  it("refreshes stopTime and availableReplicas while the archiver is available, at most every 10s", () => {
    const d = decideLogfile({ backup: running, policy: policy(true), statefulSet: sts(1) }, NOW);
    expect(d.status).to.deep.include({ availableReplicas: 1 });
    expect(d.status!.manifests!.backupLog).to.deep.equal({ startTime: "2024-05-01T09:00:00Z", stopTime: "2024-05-01T10:00:00Z" });
    expect(d.requeueAfterMs).to.equal(MAX_LOG_STATUS_INTERVAL_MS);
    expect(writes(d)).to.deep.equal([]);
  });

  it("follows a faster archive interval", () => {
    expect(decideLogfile({ backup: running, policy: policy(true, "*/2 * * * * *"), statefulSet: sts(1) }, NOW).requeueAfterMs).to.equal(2_000);
  });

  it("keeps stopTime while no archiver is available", () => {
    const d = decideLogfile({ backup: running, policy: policy(true), statefulSet: sts(0) }, NOW);
    expect(d.status).to.deep.equal({ ...running.status, availableReplicas: 0 });
  });

  const ends: Array<[string, BackupPolicy | undefined, string]> = [
    ["completes and stops the archiver when the logfile schedule is disabled", policy(false), "is disabled"],
    ["completes and stops the archiver when the policy is deleted", undefined, "was deleted"],
  ];
  for (const [name, p, why] of ends) {
    it(name, () => {
      const d = decideLogfile({ backup: running, policy: p, statefulSet: sts(1) }, NOW);
      expect(d.status).to.include({ phase: "Completed", availableReplicas: 0, completionTimestamp: "2024-05-01T10:00:00Z", duration: "1h0m0s" });
      expect(d.status!.manifests!.backupLog!.stopTime).to.equal("2024-05-01T10:00:00Z");
      expect(d.deletes).to.deep.equal([{ kind: Kinds.StatefulSet, name: "b1-log", namespace: "ns" }]);
      expect(writes(d)).to.deep.equal(["delete StatefulSet"]);
      expect(d.events![0].reason).to.equal(Reason.LogArchivingStopped);
      expect(d.events![0].message).to.contain(why);
    });
  }

  it("gives the archiver a spool that outlives its container (an emptyDir at LOG_SPOOL_DIR)", () => {
    const v = validateNewBackup({ backup: backup(), policy: policyOf(), tool: tool(), repos: [repo()], pods: [pod("db-0", { app: "db" })], now: NOW, targetPodWaitMs: 60_000 });
    if (v.kind !== "ok") throw new Error(JSON.stringify(v));
    const p = v.plan;
    p.destination = { repoName: "repo", access: pvcAccess("dp-backup-repo") };
    const spec = buildLogStatefulSet(backup({ backupType: "logfile" }), p).spec!.template.spec!;
    expect(spec.volumes).to.deep.include({ name: "dp-log-spool", emptyDir: {} });
    for (const c of spec.containers) {
      expect(c.volumeMounts).to.deep.include({ name: "dp-log-spool", mountPath: LOG_SPOOL_MOUNT });
      expect(c.env).to.deep.include({ name: "LOG_SPOOL_DIR", value: LOG_SPOOL_MOUNT });
    }
  });
});
