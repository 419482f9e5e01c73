// Must-show 2: schedules against the real API server, the operator in-process with a
// FakeClock and only the backuppolicy controller; the test sets the created Backups'
// phases, standing in for the Backup controller.
import { expect } from "chai";
import type { KubeConfig } from "@kubernetes/client-node";
import { DataProtectionAPIVersion, LabelAutoBackup, LabelBackupPolicy, LabelBackupType } from "@dataprotection/api";
import { Kinds, type Operator } from "@dataprotection/controllers";
import type { FakeClock, KubeClient } from "@dataprotection/runtime";
import { e2eCluster, eventsFor, startTestOperator, testNamespace, until, untilEventReasons } from "../harness.ts";
import {
  advanceTo, backupNames, completeNew, createPolicy, createTool, datafile, deleteTool, exists, getPolicy, kube, MINUTE, rfc3339,
  schedulingClock, setBackupStatus, tickName, untilTicked,
} from "./helpers.ts";

describe("BackupPolicy schedules (API server, FakeClock)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let c: KubeClient;
  let ns: { name: string; cleanup: () => Promise<void> };
  let clock: FakeClock;
  let op: Operator | undefined;
  let tool: string;
  const startOperator = async (): Promise<void> => {
    op = await startTestOperator({ controllers: ["backuppolicy"], clock, namespace: ns.name });
  };
  const stopOperator = async (): Promise<void> => {
    await op?.stop();
    op = undefined;
  };
  /** True once the tick is recorded; otherwise throws what the test saw (a timeout reports it). */
  const recorded = async (policy: string, tick: Date): Promise<true> => {
    const status = (await getPolicy(c, ns.name, policy)).status;
    if (status?.lastScheduleTime === rfc3339(tick)) return true;
    const backups = await backupNames(c, ns.name, policy);
    throw new Error(`fake now ${rfc3339(new Date(clock.now()))}; policy status ${JSON.stringify(status)}; Backups [${backups.join(", ")}]`);
  };
  const messages = async (policy: string, reason: string): Promise<string[]> =>
    (await eventsFor(kc, ns.name, policy)).filter((e) => e.reason === reason).map((e) => e.message ?? "");

  /** Completes the policy's new Backups and waits until the operator saw it (else the next tick is rightly skipped). */
  const completed = async (policy: string, at: Date): Promise<void> => {
    await completeNew(c, ns.name, policy, at);
    await until("completion seen by the operator", async () => ((await getPolicy(c, ns.name, policy)).status?.lastSuccessfulTime === rfc3339(at) ? true : undefined));
  };

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    c = kube(kc);
    ns = await testNamespace(kc, "bp-sched");
    clock = schedulingClock();
    tool = `noop-${ns.name}`;
    await createTool(c, tool);
    await startOperator();
  });

  after(async () => {
    await stopOperator();
    await ns?.cleanup();
    if (c) await deleteTool(c, tool);
    c?.close();
  });

  it("creates exactly one Backup per tick over 10 ticks, across a restart between ticks and one in the middle of creating a Backup", async () => {
    const policy = "every-minute";
    await createPolicy(c, ns.name, policy, { datafile: datafile(tool), schedule: { datafile: { cronExpression: "* * * * *", enable: true } } });
    await until("policy Available", async () => ((await getPolicy(c, ns.name, policy)).status?.phase === "Available" ? true : undefined));
    const first = Math.ceil(clock.now() / MINUTE) * MINUTE;
    const ticks = Array.from({ length: 10 }, (_, i) => new Date(first + i * MINUTE));
    const crashTick = ticks[6];

    for (const [i, tick] of ticks.entries()) {
      if (i === 3) {
        await stopOperator();
        await startOperator();
      }
      if (tick === crashTick) {
        // The operator created the tick's Backup and died before recording the tick.
        await stopOperator();
        advanceTo(clock, tick.getTime() + 1000);
        await c.create(Kinds.Backup, {
          apiVersion: DataProtectionAPIVersion, kind: "Backup",
          metadata: { name: tickName(policy, "datafile", tick), namespace: ns.name, labels: { [LabelBackupPolicy]: policy, [LabelBackupType]: "datafile", [LabelAutoBackup]: "true" } },
          spec: { backupPolicyName: policy, backupType: "datafile" },
        });
        await startOperator();
      } else {
        advanceTo(clock, tick.getTime() + 1000);
      }
      await untilTicked(clock, `tick ${rfc3339(tick)} recorded`, () => recorded(policy, tick));
      expect(await exists(c, ns.name, tickName(policy, "datafile", tick))).to.equal(true);
      await completed(policy, new Date(clock.now()));
    }

    expect(await backupNames(c, ns.name, policy)).to.deep.equal(ticks.map((t) => tickName(policy, "datafile", t)));
    const status = (await getPolicy(c, ns.name, policy)).status;
    expect(status).to.include({ phase: "Available", observedGeneration: 1, lastScheduleTime: rfc3339(ticks[9]) });
    expect(status?.lastSuccessfulTime, "completions are stamped with the fake time").to.be.a("string");
    const scheduled = await until("Events written", async () => {
      const m = await messages(policy, "BackupScheduled");
      return m.length >= 9 ? m : undefined;
    });
    expect(scheduled).to.have.length(9);
    expect(scheduled.join("\n"), "the Backup made before the crash was found, not created again").to.not.contain(tickName(policy, "datafile", crashTick));
    await c.delete(Kinds.BackupPolicy, policy, ns.name);
  });

  it("takes a tick missed during an outage once within startingDeadlineMinutes, and skips one past it with an Event", async () => {
    const policy = "ten-minutes";
    await createPolicy(c, ns.name, policy, { datafile: datafile(tool), schedule: { startingDeadlineMinutes: 5, datafile: { cronExpression: "*/10 * * * *", enable: true } } });
    await until("policy Available", async () => ((await getPolicy(c, ns.name, policy)).status?.phase === "Available" ? true : undefined));

    await stopOperator();
    const t1 = new Date(Math.ceil(clock.now() / (10 * MINUTE)) * 10 * MINUTE);
    advanceTo(clock, t1.getTime() + 3 * MINUTE);
    await startOperator();
    await untilTicked(clock, "late tick taken", () => recorded(policy, t1), 0);
    expect(await backupNames(c, ns.name, policy)).to.deep.equal([tickName(policy, "datafile", t1)]);
    const late = await until("late Event", async () => (await messages(policy, "BackupScheduled")).find((m) => m.includes("late by 3m")));
    expect(late).to.contain(tickName(policy, "datafile", t1));
    await completeNew(c, ns.name, policy, new Date(clock.now()));

    await stopOperator();
    const t2 = new Date(t1.getTime() + 10 * MINUTE);
    advanceTo(clock, t2.getTime() + 8 * MINUTE);
    await startOperator();
    await untilTicked(clock, "missed tick recorded", () => recorded(policy, t2), 0);
    const skipped = await until("MissedDeadline Event", async () => (await messages(policy, "MissedDeadline"))[0]);
    expect(skipped).to.contain(`skipped tick ${rfc3339(t2)}`).and.contain("past startingDeadlineMinutes 5");

    // Another restart does not take the skipped tick either; the next tick runs on time.
    await stopOperator();
    await startOperator();
    const t3 = new Date(t2.getTime() + 10 * MINUTE);
    advanceTo(clock, t3.getTime() + 1000);
    await untilTicked(clock, "next tick taken", () => recorded(policy, t3));
    expect(await backupNames(c, ns.name, policy)).to.deep.equal([tickName(policy, "datafile", t1), tickName(policy, "datafile", t3)]);
    expect(await messages(policy, "MissedDeadline")).to.have.length(1);
    await c.delete(Kinds.BackupPolicy, policy, ns.name);
  });

  it("skips a tick while the previous Backup still runs, with an Event, and does not pile up afterwards", async () => {
    const policy = "busy";
    await createPolicy(c, ns.name, policy, { datafile: datafile(tool), schedule: { datafile: { cronExpression: "* * * * *", enable: true } } });
    await until("policy Available", async () => ((await getPolicy(c, ns.name, policy)).status?.phase === "Available" ? true : undefined));
    const t1 = new Date(Math.ceil(clock.now() / MINUTE) * MINUTE);
    advanceTo(clock, t1.getTime() + 1000);
    await untilTicked(clock, "first tick", () => recorded(policy, t1));
    const first = tickName(policy, "datafile", t1);
    await setBackupStatus(c, ns.name, first, { phase: "InProgress" });

    for (let i = 1; i <= 3; i++) {
      const t = new Date(t1.getTime() + i * MINUTE);
      advanceTo(clock, t.getTime() + 1000);
      await untilTicked(clock, `tick ${i} recorded`, () => recorded(policy, t));
    }
    expect(await backupNames(c, ns.name, policy)).to.deep.equal([first]);
    const skips = await until("PreviousRunning Events", async () => {
      const m = await messages(policy, "PreviousRunning");
      if (m.length === 3) return m;
      throw new Error(`${m.length} PreviousRunning Events: ${JSON.stringify(m)}`);
    });
    // The first skip may come before the operator's cache saw InProgress: New counts as running too.
    expect(skips[0]).to.match(new RegExp(`previous backup "${first}" still (New|InProgress)`));

    await setBackupStatus(c, ns.name, first, { phase: "Completed", completionTimestamp: rfc3339(new Date(clock.now())) });
    await until("completion seen by the operator", async () => ((await getPolicy(c, ns.name, policy)).status?.lastSuccessfulTime ? true : undefined));
    const t5 = new Date(t1.getTime() + 4 * MINUTE);
    advanceTo(clock, t5.getTime() + 1000);
    await untilTicked(clock, "tick after completion", () => recorded(policy, t5));
    expect(await backupNames(c, ns.name, policy)).to.deep.equal([first, tickName(policy, "datafile", t5)]);
    await c.delete(Kinds.BackupPolicy, policy, ns.name);
  });

  it("keeps exactly one logfile Backup while the logfile schedule is enabled, replacing one that ended", async () => {
    const policy = "pitr";
    const logfile = { ...datafile(tool), backupsHistoryLimit: 0 };
    await createPolicy(c, ns.name, policy, { logfile, schedule: { logfile: { cronExpression: "*/5 * * * *", enable: true } } });
    const firstName = await until("logfile Backup", async () => (await backupNames(c, ns.name, policy))[0]);
    expect(firstName).to.match(/^pitr-logfile-\d{12}$/);
    await setBackupStatus(c, ns.name, firstName, { phase: "Running" });

    advanceTo(clock, clock.now() + 12 * MINUTE);
    await until("policy reconciled after the ticks", async () => ((await getPolicy(c, ns.name, policy)).status?.phase === "Available" ? true : undefined));
    expect(await backupNames(c, ns.name, policy)).to.deep.equal([firstName]);

    // It ended: a new one, named after the latest tick, takes its place.
    await setBackupStatus(c, ns.name, firstName, { phase: "Failed" });
    const replacement = tickName(policy, "logfile", new Date(Math.floor(clock.now() / (5 * MINUTE)) * 5 * MINUTE));
    await until("replacement logfile Backup", async () => ((await exists(c, ns.name, replacement)) ? true : undefined));
    expect(await backupNames(c, ns.name, policy)).to.deep.equal([firstName, replacement].sort());
    // The Event follows the Backup's creation and is written in the background.
    expect((await untilEventReasons(kc, ns.name, policy, ["LogfileBackupCreated"])).map((e) => e.reason)).to.include("LogfileBackupCreated");

    // Disabled: the Backup controller completes the running one; no new one appears.
    await c.patch(Kinds.BackupPolicy, policy, ns.name, { spec: { schedule: { logfile: { enable: false } } } });
    await setBackupStatus(c, ns.name, replacement, { phase: "Completed" });
    await until("schedule disabled", async () => ((await getPolicy(c, ns.name, policy)).status?.observedGeneration === 2 ? true : undefined));
    advanceTo(clock, clock.now() + 11 * MINUTE);
    await until("disabled condition", async () => {
      const cond = (await getPolicy(c, ns.name, policy)).status?.conditions?.find((x) => x.type === "LogfileScheduleEnabled");
      return cond?.status === "False" ? true : undefined;
    });
    expect(await backupNames(c, ns.name, policy)).to.have.length(2);
    await c.delete(Kinds.BackupPolicy, policy, ns.name);
  });

  it("is Failed naming a missing tool, a missing repo and a bad cron, and recovers by itself when they are fixed", async () => {
    const policy = "broken";
    const missingTool = `later-${ns.name}`;
    const repo = `repo-${ns.name}`;
    await createPolicy(c, ns.name, policy, {
      datafile: { ...datafile(missingTool), backupRepoName: repo },
      schedule: { datafile: { cronExpression: "61 * * * *", enable: true } },
    });
    const failed = await until("Failed", async () => (await getPolicy(c, ns.name, policy)).status?.failureReason);
    expect((await getPolicy(c, ns.name, policy)).status?.phase).to.equal("Failed");
    expect(failed).to.contain(`ToolNotFound: BackupTool "${missingTool}" not found`).and.contain(`RepoNotFound: BackupRepo "${repo}" not found`).and.contain('InvalidCron: invalid cronExpression "61 * * * *"');
    // The Warning is written in the background, after the Failed status.
    const invalidCron = await untilEventReasons(kc, ns.name, policy, ["InvalidCron"]);
    expect(invalidCron.some((e) => e.type === "Warning" && e.reason === "InvalidCron")).to.equal(true);

    try {
      await createTool(c, missingTool);
      await c.create(Kinds.BackupRepo, { apiVersion: DataProtectionAPIVersion, kind: "BackupRepo", metadata: { name: repo }, spec: { storageProviderRef: "none", pvReclaimPolicy: "Retain" } });
      await until("only the cron left", async () => {
        const r = (await getPolicy(c, ns.name, policy)).status?.failureReason ?? "";
        return !r.includes("ToolNotFound") && !r.includes("RepoNotFound") && r.includes("InvalidCron") ? true : undefined;
      });
      await c.patch(Kinds.BackupPolicy, policy, ns.name, { spec: { schedule: { datafile: { cronExpression: "0 * * * *" } } } });
      const status = await until("Available", async () => {
        const s = (await getPolicy(c, ns.name, policy)).status;
        return s?.phase === "Available" ? s : undefined;
      });
      expect(status.failureReason).to.equal(undefined);
      expect(status.observedGeneration).to.equal(2);
      const available = await until("PolicyAvailable Event", async () => (await messages(policy, "PolicyAvailable"))[0]);
      expect(available).to.contain("recovered");
    } finally {
      await deleteTool(c, missingTool);
      await c.delete(Kinds.BackupRepo, repo).catch(() => undefined);
    }
  });
});
