// Must-show 3 (e2e): a policy with a seconds-field cron on the real control plane and local
// node takes Backups that the Backup controller runs to Completed (volume tool, repo PVC);
// ttl becomes each Backup's expiration and backupsHistoryLimit prunes the oldest.
import { expect } from "chai";
import type { KubeConfig } from "@kubernetes/client-node";
import { LabelAutoBackup, LabelBackupPolicy, LabelBackupType } from "@dataprotection/api";
import { Kinds, type Operator } from "@dataprotection/controllers";
import type { KubeClient } from "@dataprotection/runtime";
import { e2eCluster, startTestOperator, testNamespace, until, untilEvents } from "../harness.ts";
import { createPVC, datafilePolicy, installShared, startTargetPod, testTimeouts } from "../backup/fixtures.ts";
import { backupsOf, createPolicy, getPolicy, kube, type BackupObject } from "./helpers.ts";

describe("BackupPolicy: scheduled Backups run by the Backup controller (e2e)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let c: KubeClient;
  let op: Operator | undefined;
  let ns: { name: string; cleanup: () => Promise<void> };

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    c = kube(kc);
    await installShared(kc);
    ns = await testNamespace(kc, "bp-e2e");
    op = await startTestOperator({ controllers: ["backuppolicy", "backup", "backuptool"], timeouts: testTimeouts });
  });

  after(async () => {
    // The namespace goes first: its Backups' finalizers need the Backup controller running.
    await ns?.cleanup();
    await op?.stop();
    c?.close();
  });

  it("takes a Backup every 10 s that completes, with expiration = start + ttl, and prunes beyond backupsHistoryLimit", async () => {
    const policy = "fast";
    await createPVC(kc, ns.name, "data");
    await startTargetPod(kc, ns.name, "db-0");
    const spec = datafilePolicy("volume", { backupsHistoryLimit: 2 });
    await createPolicy(c, ns.name, policy, { ...spec, retention: { ttl: "1h" }, schedule: { datafile: { cronExpression: "*/10 * * * * *", enable: true } } });

    const completed = new Map<string, BackupObject>();
    await until("3 scheduled Backups Completed", async () => {
      for (const b of await backupsOf(c, ns.name, policy)) {
        if (b.status?.phase === "Failed") throw new Error(`Backup ${b.metadata.name} failed: ${b.status.failureReason}`);
        if (b.status?.phase === "Completed") completed.set(b.metadata.name ?? "", b);
      }
      return completed.size >= 3 ? true : undefined;
    }, 200_000, 1000);
    await c.patch(Kinds.BackupPolicy, policy, ns.name, { spec: { schedule: { datafile: { enable: false } } } });

    for (const [name, b] of completed) {
      expect(name).to.match(/^fast-datafile-\d{12}(\d{2})?$/);
      expect(b.metadata.labels).to.include({ [LabelBackupPolicy]: policy, [LabelBackupType]: "datafile", [LabelAutoBackup]: "true" });
      expect(Date.parse(b.status?.expiration ?? "") - Date.parse(b.status?.startTimestamp ?? "")).to.equal(3_600_000);
    }
    const oldest = [...completed.keys()].sort()[0];
    await until(`oldest Backup ${oldest} pruned`, async () => ((await backupsOf(c, ns.name, policy)).some((b) => b.metadata.name === oldest) ? undefined : true), 90_000, 1000);
    // More than 3 may have completed before the schedule was disabled: the pruning of the
    // others (Backup controller finalizers: their data is deleted first) can trail the oldest's.
    const finishedNames = async (): Promise<string[]> =>
      (await backupsOf(c, ns.name, policy)).filter((b) => b.status?.phase === "Completed" || b.status?.phase === "Failed").map((b) => b.metadata.name ?? "");
    const finished = await until("at most backupsHistoryLimit finished Backups left", async () => {
      const names = await finishedNames();
      if (names.length <= 2) return names;
      throw new Error(`finished Backups: ${names.join(", ")}`);
    }, 90_000, 1000);
    expect(finished.length).to.be.at.most(2);
    // BackupPruned Events are written in the background.
    const prunedMessage = `deleted Backup "${oldest}": beyond backupsHistoryLimit 2`;
    const pruned = (await untilEvents(kc, ns.name, policy, `BackupPruned for ${oldest}`, (evs) => evs.some((e) => e.reason === "BackupPruned" && (e.message ?? "").includes(prunedMessage))))
      .filter((e) => e.reason === "BackupPruned").map((e) => e.message ?? "");
    expect(pruned.join("\n")).to.contain(prunedMessage);
    const status = (await getPolicy(c, ns.name, policy)).status;
    expect(status?.phase).to.equal("Available");
    expect(status?.lastScheduleTime).to.be.a("string");
    expect(status?.lastSuccessfulTime).to.be.a("string");
  });
});
