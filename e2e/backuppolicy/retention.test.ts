// Must-show 3 (retention): ttl and backupsHistoryLimit delete the right Backups and a
// protected one survives. The test sets Backup statuses (expiration = start + ttl, as the
// Backup controller does) and drives time with a FakeClock.
import { expect } from "chai";
import type { KubeConfig } from "@kubernetes/client-node";
import { DataProtectionAPIVersion, LabelAutoBackup, LabelBackupProtection, type BackupStatus } from "@dataprotection/api";
import { Kinds, type Operator } from "@dataprotection/controllers";
import type { FakeClock, KubeClient } from "@dataprotection/runtime";
import { e2eCluster, eventsFor, startTestOperator, testNamespace, until, untilEvents } from "../harness.ts";
import { advanceTo, backupNames, createPolicy, createTool, datafile, deleteTool, getPolicy, kube, rfc3339, schedulingClock, setBackupStatus } from "./helpers.ts";

const HOUR = 3_600_000;

describe("BackupPolicy retention (API server, FakeClock)", function () {
  this.timeout(180_000);
  let kc: KubeConfig;
  let c: KubeClient;
  let ns: { name: string; cleanup: () => Promise<void> };
  let clock: FakeClock;
  let op: Operator | undefined;
  let tool: string;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    c = kube(kc);
    ns = await testNamespace(kc, "bp-ret");
    clock = schedulingClock();
    tool = `noop-${ns.name}`;
    await createTool(c, tool);
    op = await startTestOperator({ controllers: ["backuppolicy"], clock, namespace: ns.name });
  });

  after(async () => {
    await op?.stop();
    await ns?.cleanup();
    if (c) await deleteTool(c, tool);
    c?.close();
  });

  /** Creates Backups in order (names sort like their age) with the given statuses and labels. */
  async function seed(policy: string, rows: Array<{ name: string; status: BackupStatus; labels?: Record<string, string>; parent?: string; scheduled?: boolean }>): Promise<void> {
    for (const r of rows) {
      const labels = { ...(r.scheduled === false ? {} : { [LabelAutoBackup]: "true" }), ...r.labels };
      await c.create(Kinds.Backup, {
        apiVersion: DataProtectionAPIVersion, kind: "Backup", metadata: { name: r.name, namespace: ns.name, labels },
        spec: { backupPolicyName: policy, backupType: "datafile", ...(r.parent ? { parentBackupName: r.parent } : {}) },
      });
      await setBackupStatus(c, ns.name, r.name, r.status);
    }
  }

  it("deletes expired Backups at their expiration, but never a protected one, an unfinished one, the newest Completed or the parent of a kept incremental", async () => {
    const policy = "ttl";
    await createPolicy(c, ns.name, policy, { retention: { ttl: "1h" }, datafile: datafile(tool, 0) });
    const start = clock.now();
    const done = (startedHoursAgo: number): BackupStatus => ({
      phase: "Completed", startTimestamp: rfc3339(new Date(start - startedHoursAgo * HOUR)), completionTimestamp: rfc3339(new Date(start - startedHoursAgo * HOUR)),
      expiration: rfc3339(new Date(start - startedHoursAgo * HOUR + HOUR)),
    });
    await seed(policy, [
      { name: "t1-expired", status: done(0.9) },
      { name: "t2-protected", status: done(0.9), labels: { [LabelBackupProtection]: "retain" } },
      { name: "t3-parent", status: done(0.9) },
      { name: "t4-child", status: { ...done(0.1), expiration: rfc3339(new Date(start + 5 * HOUR)) }, parent: "t3-parent" },
      { name: "t5-running", status: { phase: "InProgress", expiration: rfc3339(new Date(start - HOUR)) } },
      { name: "t6-newest", status: done(0.5) },
    ]);
    await until("policy reconciled", async () => ((await getPolicy(c, ns.name, policy)).status?.phase === "Available" ? true : undefined));
    expect(await backupNames(c, ns.name, policy), "nothing expired yet").to.have.length(6);

    // 0.1 h later t1, t2 and t3 are past their expiration; only t1 may go.
    advanceTo(clock, start + 0.15 * HOUR);
    await until("t1 deleted", async () => ((await backupNames(c, ns.name, policy)).includes("t1-expired") ? undefined : true));
    // Past t6's expiration too: it is the newest Completed, so it stays.
    advanceTo(clock, start + 0.6 * HOUR);
    await new Promise((r) => setTimeout(r, 1000)); // let the requeue at t6's expiration run
    expect(await backupNames(c, ns.name, policy)).to.deep.equal(["t2-protected", "t3-parent", "t4-child", "t5-running", "t6-newest"]);
    // The BackupPruned Event is written in the background, after the delete: wait for it.
    const pruned = (await untilEvents(kc, ns.name, policy, "a BackupPruned Event", (evs) => evs.some((e) => e.reason === "BackupPruned")))
      .filter((e) => e.reason === "BackupPruned").map((e) => e.message);
    expect(pruned).to.deep.equal(['deleted Backup "t1-expired": expired at ' + rfc3339(new Date(start + 0.1 * HOUR)) + " (retention.ttl 1h)"]);
  });

  it("keeps backupsHistoryLimit scheduled Backups of the type, oldest deleted first; Failed ones count, manual and protected ones do not, the newest Completed stays", async () => {
    const policy = "limit";
    await seed(policy, [
      { name: "l0-manual", status: { phase: "Completed" }, scheduled: false },
      { name: "l1", status: { phase: "Completed" } },
      { name: "l2-protected", status: { phase: "Completed" }, labels: { [LabelBackupProtection]: "retain" } },
      { name: "l3", status: { phase: "Completed" } },
      { name: "l4", status: { phase: "Completed" } },
      { name: "l5-newest-completed", status: { phase: "Completed" } },
      { name: "l6-failed", status: { phase: "Failed" } },
    ]);
    await createPolicy(c, ns.name, policy, { datafile: datafile(tool, 2) });
    await until("pruned to the limit", async () => ((await backupNames(c, ns.name, policy)).length === 4 ? true : undefined));
    expect(await backupNames(c, ns.name, policy)).to.deep.equal(["l0-manual", "l2-protected", "l5-newest-completed", "l6-failed"]);
    const pruned = await until("BackupPruned Events", async () => {
      const m = (await eventsFor(kc, ns.name, policy)).filter((e) => e.reason === "BackupPruned").map((e) => e.message ?? "");
      return m.length === 3 ? m : undefined;
    });
    expect(pruned.join("\n")).to.contain("beyond backupsHistoryLimit 2");
  });
});
