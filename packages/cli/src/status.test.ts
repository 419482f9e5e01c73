import { expect } from "chai";
import type { Backup, BackupPolicy } from "@dataprotection/api";
import { cronProblem, ticksAround } from "./cron.ts";
import { pitrWindows, policyStatus, statusRows, statusTable } from "./status.ts";
import { formatTable } from "./table.ts";

const NOW = new Date("2026-11-23T22:15:00Z");

const policy = (name: string, schedule: BackupPolicy["spec"]["schedule"], status: BackupPolicy["status"] = { phase: "Available" }, namespace = "db"): BackupPolicy => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupPolicy", metadata: { name, namespace, creationTimestamp: "2026-11-01T00:00:00Z" },
  spec: { schedule, datafile: { target: { labelsSelector: { matchLabels: { app: name } } }, backupToolName: "volume" } },
  status,
}) as BackupPolicy;

interface B {
  type?: "datafile" | "logfile" | "snapshot";
  phase?: string;
  created?: string;
  start?: string;
  done?: string;
  logStart?: string;
  logStop?: string;
  policy?: string;
  namespace?: string;
  deleting?: boolean;
}
const backup = (name: string, o: B): Backup => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup",
  metadata: { name, namespace: o.namespace ?? "db", creationTimestamp: o.created ?? o.start ?? "2026-11-23T03:00:00Z", ...(o.deleting ? { deletionTimestamp: "2026-11-23T22:00:00Z" } : {}) },
  spec: { backupPolicyName: o.policy ?? "pg", backupType: o.type ?? "datafile" },
  status: {
    ...(o.phase !== undefined ? { phase: o.phase } : {}),
    ...(o.start ? { startTimestamp: o.start } : {}),
    ...(o.done ? { completionTimestamp: o.done } : {}),
    ...(o.logStart || o.logStop ? { manifests: { backupLog: { startTime: o.logStart, stopTime: o.logStop } } } : {}),
  },
}) as Backup;

const daily = { datafile: { enable: true, cronExpression: "0 3 * * *" } };

describe("kubectl-dp status: schedule ticks", () => {
  it("reads a cron in UTC: the tick at or before now, the next one, and the period between them", () => {
    const t = ticksAround("0 3 * * *", NOW)!;
    expect(t.prev!.toISOString()).to.equal("2026-11-23T03:00:00.000Z");
    expect(t.next.toISOString()).to.equal("2026-11-24T03:00:00.000Z");
    expect(t.periodMs).to.equal(24 * 3_600_000);
    // A tick exactly at now is the latest one, not the next.
    const on = ticksAround("*/15 * * * *", NOW)!;
    expect(on.prev!.toISOString()).to.equal("2026-11-23T22:15:00.000Z");
    expect(on.next.toISOString()).to.equal("2026-11-23T22:30:00.000Z");
    expect(ticksAround("*/2 * * * * *", NOW)!.periodMs).to.equal(2000);
    expect(ticksAround("@hourly", NOW)!.periodMs).to.equal(3_600_000);
  });

  it("the period of an irregular schedule is the interval around now", () => {
    // Weekdays at 03:00: 2026-11-23 is a Monday, so Friday's tick is followed by Monday's.
    expect(ticksAround("0 3 * * 1-5", new Date("2026-11-22T12:00:00Z"))!.periodMs).to.equal(3 * 24 * 3_600_000);
    expect(ticksAround("0 3 * * 1-5", NOW)!.periodMs).to.equal(24 * 3_600_000);
  });

  it("refuses what the operator refuses: the wrong number of fields, a bad value", () => {
    expect(cronProblem("* * *")).to.contain("expected 5 fields");
    expect(cronProblem("61 * * * *")).to.be.a("string");
    expect(cronProblem("0 3 * * *")).to.equal(undefined);
    expect(ticksAround("* * *", NOW)).to.equal(undefined);
  });
});

describe("kubectl-dp status: one policy", () => {
  const b1 = backup("pg-1", { phase: "Completed", start: "2026-11-23T03:00:00Z", done: "2026-11-23T03:05:00Z" });

  it("OK while the newest recovery point is younger than the period; the next tick; last success", () => {
    const s = policyStatus(policy("pg", daily), [b1], NOW);
    expect(s).to.deep.include({
      namespace: "db", name: "pg", phase: "Available", lastSuccess: "2026-11-23T03:05:00Z",
      newestPoint: { backup: "pg-1", type: "datafile", time: "2026-11-23T03:05:00Z", ageSeconds: 19 * 3600 + 10 * 60 },
      periodSeconds: 86400, nextTick: "2026-11-24T03:00:00Z", health: "OK", inProgress: [], pitr: [],
    });
    expect(s.schedules).to.deep.equal([{ type: "datafile", cronExpression: "0 3 * * *", nextTick: "2026-11-24T03:00:00Z", periodSeconds: 86400 }]);
  });

  it("LATE once a period went by without a newer point; RUNNING while a backup is under way; NO-BACKUP", () => {
    const later = new Date("2026-11-24T04:00:00Z");
    expect(policyStatus(policy("pg", daily), [b1], later).health).to.equal("LATE");
    const running = backup("pg-2", { phase: "InProgress", created: "2026-11-24T03:00:00Z" });
    const s = policyStatus(policy("pg", daily), [b1, running], later);
    expect(s.health).to.equal("RUNNING");
    expect(s.inProgress).to.deep.equal(["pg-2"]);
    // A Backup the operator has not picked up yet (no phase) is under way too.
    expect(policyStatus(policy("pg", daily), [backup("pg-3", {})], NOW).health).to.equal("RUNNING");
    expect(policyStatus(policy("pg", daily), [], NOW)).to.deep.include({ health: "NO-BACKUP", inProgress: [] });
    expect(policyStatus(policy("pg", daily), [backup("f", { phase: "Failed" })], NOW).health).to.equal("NO-BACKUP");
  });

  it("UNSCHEDULED without an enabled (valid) datafile or snapshot schedule; the shortest period wins", () => {
    expect(policyStatus(policy("pg", undefined), [b1], NOW)).to.deep.include({ health: "UNSCHEDULED", schedules: [] });
    expect(policyStatus(policy("pg", { datafile: { enable: false, cronExpression: "0 3 * * *" }, logfile: { enable: true, cronExpression: "*/5 * * * *" } }), [b1], NOW).health).to.equal("UNSCHEDULED");
    const bad = policyStatus(policy("pg", { datafile: { enable: true, cronExpression: "* * *" } }), [b1], NOW);
    expect(bad.health).to.equal("UNSCHEDULED");
    expect(bad.schedules).to.deep.equal([{ type: "datafile", cronExpression: "* * *" }]);
    const both = policyStatus(policy("pg", { ...daily, snapshot: { enable: true, cronExpression: "0 * * * *" } }), [b1], NOW);
    expect(both).to.deep.include({ periodSeconds: 3600, nextTick: "2026-11-23T23:00:00Z", health: "LATE" });
  });

  it("counts only its own Backups: not another policy's, namespace's, or one being deleted; a snapshot is a recovery point", () => {
    const mine = backup("snap", { type: "snapshot", phase: "Completed", done: "2026-11-23T20:00:00Z" });
    const others = [
      backup("other", { policy: "other", phase: "Completed", done: "2026-11-23T22:00:00Z" }),
      backup("elsewhere", { namespace: "db2", phase: "Completed", done: "2026-11-23T22:00:00Z" }),
      backup("going", { phase: "Completed", done: "2026-11-23T22:10:00Z", deleting: true }),
    ];
    const s = policyStatus(policy("pg", daily), [b1, mine, ...others], NOW);
    expect(s.newestPoint?.backup).to.equal("snap");
    expect(s.lastSuccess).to.equal("2026-11-23T20:00:00Z");
  });

  it("last success: any Completed backup (a logfile one too) or status.lastSuccessfulTime, whichever is newer", () => {
    const log = backup("log", { type: "logfile", phase: "Completed", done: "2026-11-23T21:00:00Z", logStart: "2026-11-23T01:00:00Z", logStop: "2026-11-23T21:00:00Z" });
    expect(policyStatus(policy("pg", daily), [b1, log], NOW).lastSuccess).to.equal("2026-11-23T21:00:00Z");
    expect(policyStatus(policy("pg", daily, { lastSuccessfulTime: "2026-11-23T21:30:00Z" }), [b1, log], NOW).lastSuccess).to.equal("2026-11-23T21:30:00Z");
    // The logfile backup is no recovery point: the newest point stays the datafile one.
    expect(policyStatus(policy("pg", daily), [b1, log], NOW).newestPoint?.backup).to.equal("pg-1");
  });
});

describe("kubectl-dp status: PITR windows", () => {
  it("a logfile backup's logged span, from the first Completed datafile backup inside it (the base) to its stopTime", () => {
    const base1 = backup("base1", { phase: "Completed", start: "2026-11-23T10:00:00Z", done: "2026-11-23T10:05:00Z" });
    const base2 = backup("base2", { phase: "Completed", start: "2026-11-23T16:00:00Z", done: "2026-11-23T16:05:00Z" });
    const before = backup("before", { phase: "Completed", start: "2026-11-23T00:00:00Z", done: "2026-11-23T00:05:00Z" });
    const log = backup("log", { type: "logfile", phase: "Running", start: "2026-11-23T08:00:00Z", logStart: "2026-11-23T08:00:00Z", logStop: "2026-11-23T22:14:50Z" });
    expect(pitrWindows([before, base2, base1, log])).to.deep.equal([{
      backup: "log", phase: "Running", logStart: "2026-11-23T08:00:00Z", logStop: "2026-11-23T22:14:50Z",
      from: "2026-11-23T10:05:00Z", to: "2026-11-23T22:14:50Z", base: "base1",
    }]);
  });

  it("a span without a base inside shows the span itself (no base); logs not started or Failed have none; oldest end first", () => {
    const old = backup("old-log", { type: "logfile", phase: "Completed", logStart: "2026-11-20T00:00:00Z", logStop: "2026-11-21T00:00:00Z" });
    const cur = backup("cur-log", { type: "logfile", phase: "Running", logStart: "2026-11-23T00:00:00Z", logStop: "2026-11-23T22:00:00Z" });
    const failed = backup("bad-log", { type: "logfile", phase: "Failed", logStart: "2026-11-23T00:00:00Z", logStop: "2026-11-23T01:00:00Z" });
    const fresh = backup("new-log", { type: "logfile", phase: "Running", logStart: "2026-11-23T22:00:00Z" });
    const w = pitrWindows([cur, failed, fresh, old]);
    expect(w.map((x) => [x.backup, x.from, x.to, x.base])).to.deep.equal([
      ["old-log", "2026-11-20T00:00:00Z", "2026-11-21T00:00:00Z", undefined],
      ["cur-log", "2026-11-23T00:00:00Z", "2026-11-23T22:00:00Z", undefined],
    ]);
  });
});

describe("kubectl-dp status: the table", () => {
  it("one line per policy, by namespace and name; ages, period, health, next tick, the PITR window of the log that ends last", () => {
    const log = backup("log", { type: "logfile", phase: "Running", logStart: "2026-11-23T02:00:00Z", logStop: "2026-11-23T22:14:50Z" });
    const rows = statusRows([policy("zz", undefined), policy("pg", daily)], [backup("pg-1", { phase: "Completed", start: "2026-11-23T03:00:00Z", done: "2026-11-23T03:05:00Z" }), log], NOW);
    const t = statusTable(rows, false, NOW);
    expect(formatTable(t.header, t.rows).split("\n")).to.deep.equal([
      "NAME   PHASE       LAST-SUCCESS   NEWEST-POINT   PERIOD   HEALTH        NEXT-TICK   PITR-WINDOW",
      "pg     Available   19h            19h            24h      OK            4h45m       2026-11-23T03:05:00Z/2026-11-23T22:14:50Z",
      "zz     Available   <none>         <none>         <none>   UNSCHEDULED   <none>      <none>",
    ]);
  });

  it("-A: a NAMESPACE column first; a policy without status shows <none> as its phase", () => {
    const rows = statusRows([policy("pg", daily, {}, "b"), policy("pg", daily, {}, "a")], [], NOW);
    const t = statusTable(rows, true, NOW);
    expect(t.header.slice(0, 3)).to.deep.equal(["NAMESPACE", "NAME", "PHASE"]);
    expect(t.rows.map((r) => r.slice(0, 3))).to.deep.equal([["a", "pg", "<none>"], ["b", "pg", "<none>"]]);
  });
});
