import { expect } from "chai";
import { LabelAutoBackup, LabelBackupPolicy, LabelBackupProtection, LabelBackupType, type BackupPolicy, type BackupPolicyStatus } from "@dataprotection/api";
import { buildScheduledBackup, observeBackup, type ObservedBackup } from "./backups.ts";
import { Kinds } from "../kinds.ts";
import { decidePolicy, decideSchedule, type PolicyDecision } from "./decide.ts";
import type { BackupType } from "./types.ts";

const CREATED = "2026-11-23T09:58:30Z";
const at = (iso: string): Date => new Date(iso);
const world = { tools: new Set(["pg-basebackup"]), repos: new Set(["s3"]) };

type Spec = BackupPolicy["spec"];
function policy(spec: Partial<Spec> = {}, status?: BackupPolicyStatus): BackupPolicy {
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
    kind: "BackupPolicy",
    metadata: { name: "pg", namespace: "ns", generation: 3, creationTimestamp: CREATED },
    spec: {
      datafile: { target: { labelsSelector: { matchLabels: { app: "pg" } } }, backupToolName: "pg-basebackup", backupsHistoryLimit: 2 },
      schedule: { datafile: { cronExpression: "*/5 * * * *", enable: true } },
      ...spec,
    },
    ...(status ? { status } : {}),
  };
}

/** A policy already reconciled once (its datafile schedule enabled since creation). */
const seen = (extra: BackupPolicyStatus = {}): BackupPolicyStatus => ({
  observedGeneration: 3,
  phase: "Available",
  conditions: [{ type: "DatafileScheduleEnabled", status: "True", reason: "Enabled", message: "", lastTransitionTime: CREATED }],
  ...extra,
});

function backup(name: string, o: { type?: BackupType; phase?: string; created?: string; policy?: string; scheduled?: boolean; expiration?: string; retain?: boolean } = {}): ObservedBackup {
  const b = buildScheduledBackup({ namespace: "ns", name: o.policy ?? "pg" }, o.type ?? "datafile", name);
  if (o.scheduled === false) delete b.metadata.labels?.[LabelAutoBackup];
  if (o.retain) b.metadata.labels = { ...b.metadata.labels, [LabelBackupProtection]: "retain" };
  Object.assign(b.metadata, { creationTimestamp: o.created ?? "2026-11-23T10:00:01Z" });
  b.status = { ...(o.phase ? { phase: o.phase as "Completed" } : {}), ...(o.expiration ? { expiration: o.expiration } : {}) };
  return observeBackup(b);
}

/**
 * decidePolicy, checking on every case here that the shell's first question, decideSchedule,
 * asks for the same creates, and that the decision built on it is the one decidePolicy makes alone.
 */
function decide(p: BackupPolicy, now: string, backups: ObservedBackup[] = [], w = world): PolicyDecision {
  const o = { policy: p, backups, world: w, now: at(now) };
  const d = decidePolicy(o);
  const schedule = decideSchedule(o);
  expect(schedule.creates, "decideSchedule's creates").to.deep.equal(d.creates);
  expect(decidePolicy(o, schedule), "decidePolicy on decideSchedule's answer").to.deep.equal(d);
  return d;
}
/** ms from the decision's now to when it looks again. */
const after = (d: PolicyDecision): number | undefined => d.requeueAfterMs;

const created = (d: PolicyDecision) => d.creates.map((c) => c.object.metadata.name);
const reasons = (d: PolicyDecision) => d.events.map((e) => e.reason);
const pruned = (d: PolicyDecision) => d.events.filter((e) => e.reason === "BackupPruned");

describe("buildScheduledBackup", () => {
  it("labels the Backup with its policy, its type and that a schedule made it", () => {
    const b = buildScheduledBackup({ namespace: "ns", name: "pg" }, "snapshot", "pg-snapshot-202611231005");
    expect(b.metadata.labels).to.deep.equal({ [LabelBackupPolicy]: "pg", [LabelBackupType]: "snapshot", [LabelAutoBackup]: "true" });
    expect(b.spec).to.deep.equal({ backupPolicyName: "pg", backupType: "snapshot" });
    expect(b.metadata.ownerReferences, "a Backup outlives its policy").to.equal(undefined);
  });

  it("bounds the policy label of a long policy name to 63 characters", () => {
    const b = buildScheduledBackup({ namespace: "ns", name: "p".repeat(100) }, "datafile", "x");
    expect(b.metadata.labels?.[LabelBackupPolicy]).to.have.length.at.most(63);
  });
});

describe("decidePolicy: schedules", () => {
  it("waits for the first tick after creation and requeues at it; the policy turns Available", () => {
    const d = decide(policy(), "2026-11-23T09:59:00Z");
    expect(d.creates).to.deep.equal([]);
    expect(d.status.phase).to.equal("Available");
    expect(d.status.observedGeneration).to.equal(3);
    expect(after(d)).to.equal(60_000);
    expect(reasons(d)).to.deep.equal(["PolicyAvailable"]);
    expect(d.status.conditions?.[0]).to.include({ type: "DatafileScheduleEnabled", status: "True", lastTransitionTime: "2026-11-23T09:59:00Z" });
  });

  it("does not back up a tick that passed before the policy was first seen (operator down at its creation)", () => {
    const d = decide(policy(), "2026-11-23T10:00:01Z");
    expect(d.creates).to.deep.equal([]);
    expect(d.status.conditions?.[0]).to.include({ lastTransitionTime: "2026-11-23T10:00:01Z" });
    expect(after(d)).to.equal(5 * 60_000 - 1000);
  });

  it("creates the tick's Backup once a tick passed after the schedule was seen enabled", () => {
    const d = decide(policy({}, seen()), "2026-11-23T10:00:01Z");
    expect(created(d)).to.deep.equal(["pg-datafile-202611231000"]);
    expect(d.creates[0]).to.deep.include({ kind: Kinds.Backup, object: buildScheduledBackup({ namespace: "ns", name: "pg" }, "datafile", "pg-datafile-202611231000") });
    expect(d.creates[0].event.reason).to.equal("BackupScheduled");
    expect(d.creates[0].eventOnCreate, "recorded with the tick, after the burst of creates").to.equal(false);
    expect(d.status.lastScheduleTime).to.equal("2026-11-23T10:00:00Z");
    expect(after(d)).to.equal(5 * 60_000 - 1000);
  });

  it("only records the tick when its Backup already exists (made before a restart)", () => {
    const d = decide(policy({}, seen()), "2026-11-23T10:00:03Z", [backup("pg-datafile-202611231000")]);
    expect(d.creates).to.deep.equal([]);
    expect(d.status.lastScheduleTime).to.equal("2026-11-23T10:00:00Z");
    expect(d.events).to.deep.equal([]);
  });

  it("does nothing for a tick already recorded", () => {
    const d = decide(policy({}, seen({ lastScheduleTime: "2026-11-23T10:00:00Z" })), "2026-11-23T10:04:59Z");
    expect(d.creates).to.deep.equal([]);
    expect(d.events).to.deep.equal([]);
  });

  it("skips a tick while the previous scheduled Backup of the type still runs, with a Warning", () => {
    const running = backup("pg-datafile-202611231000", { phase: "InProgress" });
    const d = decide(policy({}, seen({ lastScheduleTime: "2026-11-23T10:00:00Z" })), "2026-11-23T10:05:01Z", [running]);
    expect(d.creates).to.deep.equal([]);
    expect(d.events[0]).to.include({ type: "Warning", reason: "PreviousRunning" });
    expect(d.events[0].message).to.contain("pg-datafile-202611231000");
    expect(d.status.lastScheduleTime).to.equal("2026-11-23T10:05:00Z");
  });

  it("does not let a running Backup of another type or a manual one block the tick", () => {
    const others = [backup("pg-snap", { type: "snapshot", phase: "InProgress" }), backup("manual", { phase: "InProgress", scheduled: false })];
    const d = decide(policy({}, seen({ lastScheduleTime: "2026-11-23T10:00:00Z" })), "2026-11-23T10:05:01Z", others);
    expect(created(d)).to.deep.equal(["pg-datafile-202611231005"]);
  });

  it("catches up one missed tick within startingDeadlineMinutes, and only the latest", () => {
    const p = policy({ schedule: { startingDeadlineMinutes: 10, datafile: { cronExpression: "*/5 * * * *", enable: true } } }, seen({ lastScheduleTime: "2026-11-23T10:00:00Z" }));
    const d = decide(p, "2026-11-23T10:24:00Z");
    expect(created(d)).to.deep.equal(["pg-datafile-202611231020"]);
    expect(d.creates[0].event.message).to.contain("late by 4m");
  });

  it("skips a missed tick past startingDeadlineMinutes with a Warning naming the tick", () => {
    const p = policy({ schedule: { startingDeadlineMinutes: 2, datafile: { cronExpression: "*/5 * * * *", enable: true } } }, seen({ lastScheduleTime: "2026-11-23T10:00:00Z" }));
    const d = decide(p, "2026-11-23T10:24:00Z");
    expect(d.creates).to.deep.equal([]);
    expect(d.events[0]).to.include({ type: "Warning", reason: "MissedDeadline" });
    expect(d.events[0].message).to.contain("2026-11-23T10:20:00Z");
  });

  it("schedules snapshot and datafile independently in one pass", () => {
    const p = policy({
      snapshot: { target: { labelsSelector: { matchLabels: { app: "pg" } } } },
      schedule: { datafile: { cronExpression: "0 * * * *", enable: true }, snapshot: { cronExpression: "*/5 * * * *", enable: true } },
    }, seen({ conditions: [...(seen().conditions ?? []), { type: "SnapshotScheduleEnabled", status: "True", reason: "Enabled", message: "", lastTransitionTime: CREATED }] }));
    const d = decide(p, "2026-11-23T11:00:02Z");
    expect(created(d)).to.deep.equal(["pg-snapshot-202611231100", "pg-datafile-202611231100"]);
  });

  it("counts a schedule enabled later from the moment it was enabled, not from the policy's creation", () => {
    const p = policy({ schedule: { datafile: { cronExpression: "0 * * * *", enable: true } } }, { observedGeneration: 2, phase: "Available" });
    const d = decide(p, "2026-11-23T15:20:00Z");
    expect(d.creates, "the 15:00 tick is before the schedule was enabled").to.deep.equal([]);
    expect(reasons(d)).to.include("ScheduleEnabled");
    expect(d.status.conditions?.[0]).to.include({ status: "True", lastTransitionTime: "2026-11-23T15:20:00Z" });
  });

  it("records a disabled schedule as a False condition with an Event and stops requeueing for it", () => {
    const p = policy({ schedule: { datafile: { cronExpression: "*/5 * * * *", enable: false } } }, seen());
    const d = decide(p, "2026-11-23T10:05:01Z");
    expect(d.creates).to.deep.equal([]);
    expect(reasons(d)).to.deep.equal(["ScheduleDisabled"]);
    expect(d.status.conditions?.[0]).to.include({ type: "DatafileScheduleEnabled", status: "False" });
    expect(after(d)).to.equal(undefined);
  });
});

describe("decidePolicy: logfile", () => {
  const logfilePolicy = (status = seen()) => policy({
    logfile: { target: { labelsSelector: { matchLabels: { app: "pg" } } }, backupToolName: "pg-basebackup" },
    schedule: { logfile: { cronExpression: "*/5 * * * *", enable: true } },
  }, status);

  it("creates one logfile Backup named after the latest tick when none is running", () => {
    const d = decide(logfilePolicy(), "2026-11-23T10:07:00Z");
    expect(created(d)).to.deep.equal(["pg-logfile-202611231005"]);
    expect(d.creates[0].event.reason).to.equal("LogfileBackupCreated");
  });

  for (const phase of [undefined, "New", "InProgress", "Running"]) {
    it(`keeps the existing logfile Backup while it is ${phase ?? "without a phase"}`, () => {
      const d = decide(logfilePolicy(), "2026-11-23T10:27:00Z", [backup("pg-logfile-202611231005", { type: "logfile", phase })]);
      expect(d.creates).to.deep.equal([]);
    });
  }

  it("replaces a logfile Backup that ended, at the next tick rather than in a loop", () => {
    const ended = backup("pg-logfile-202611231005", { type: "logfile", phase: "Failed" });
    const same = decide(logfilePolicy(), "2026-11-23T10:07:00Z", [ended]);
    expect(same.creates).to.deep.equal([]);
    expect(after(same)).to.equal(3 * 60_000);
    expect(created(decide(logfilePolicy(), "2026-11-23T10:10:00Z", [ended]))).to.deep.equal(["pg-logfile-202611231010"]);
  });
});

describe("decidePolicy: validation", () => {
  const rows: { name: string; p: BackupPolicy; w?: typeof world; reason: string; detail: string }[] = [
    { name: "an invalid cron", p: policy({ schedule: { datafile: { cronExpression: "61 * * * *", enable: true } } }), reason: "InvalidCron", detail: ".spec.schedule.datafile.cronExpression" },
    { name: "a missing tool", p: policy(), w: { tools: new Set(), repos: world.repos }, reason: "ToolNotFound", detail: 'BackupTool "pg-basebackup" not found' },
    {
      name: "a missing repo",
      p: policy({ datafile: { target: { labelsSelector: {} }, backupToolName: "pg-basebackup", backupRepoName: "gone" } }),
      reason: "RepoNotFound", detail: 'BackupRepo "gone" not found: create it or change BackupPolicy "ns/pg" .spec.datafile.backupRepoName',
    },
    { name: "an enabled schedule without its section", p: policy({ schedule: { snapshot: { cronExpression: "* * * * *", enable: true } } }), reason: "SectionMissing", detail: ".spec.snapshot" },
    { name: "a zero ttl", p: policy({ retention: { ttl: "0d" } }), reason: "InvalidTTL", detail: "retention.ttl" },
  ];
  for (const r of rows) {
    it(`fails the policy on ${r.name}, naming it, and schedules nothing`, () => {
      const d = decide(r.p, "2026-11-23T10:00:01Z", [], r.w);
      expect(d.status.phase).to.equal("Failed");
      expect(d.status.failureReason).to.contain(`${r.reason}: `).and.contain(r.detail);
      expect(d.creates).to.deep.equal([]);
      expect(d.events.find((e) => e.type === "Warning")).to.include({ reason: r.reason });
    });
  }

  it("recovers by itself once the tool exists, with an Event, and clears failureReason", () => {
    const p = policy({}, seen({ phase: "Failed", failureReason: "ToolNotFound: ..." }));
    const d = decide(p, "2026-11-23T10:00:01Z");
    expect(d.status.phase).to.equal("Available");
    expect(d.status).to.not.have.property("failureReason");
    expect(d.events.find((e) => e.reason === "PolicyAvailable")?.message).to.contain("recovered");
    expect(created(d)).to.deep.equal(["pg-datafile-202611231000"]);
  });

  it("does not repeat the failure Event while nothing changed", () => {
    const first = decide(policy(), "2026-11-23T10:00:01Z", [], { tools: new Set(), repos: new Set() });
    const again = decide(policy({}, first.status), "2026-11-23T10:00:05Z", [], { tools: new Set(), repos: new Set() });
    expect(again.events).to.deep.equal([]);
  });
});

describe("decidePolicy: retention", () => {
  const done = (name: string, created: string, extra: Parameters<typeof backup>[1] = {}) => backup(name, { phase: "Completed", created, ...extra });

  it("deletes the policy's expired Backups, never another policy's, and wakes at the next expiration", () => {
    const bs = [
      done("old", "2026-11-20T00:00:00Z", { expiration: "2026-11-23T09:00:00Z" }),
      done("other", "2026-11-20T00:00:00Z", { expiration: "2026-11-23T09:00:00Z", policy: "mysql" }),
      done("newest", "2026-11-23T09:00:00Z", { expiration: "2026-11-23T10:01:00Z" }),
    ];
    const d = decide(policy({ schedule: {} }, seen()), "2026-11-23T10:00:00Z", bs);
    expect(d.deletes).to.deep.equal([{ kind: Kinds.Backup, name: "old", namespace: "ns" }]);
    expect(pruned(d)).to.have.length(1);
    expect(pruned(d)[0].message).to.contain('deleted Backup "old": expired at 2026-11-23T09:00:00Z');
    expect(after(d)).to.equal(60_000);
  });

  it("keeps backupsHistoryLimit scheduled Backups of a type; protected, running and manual ones are not counted", () => {
    const bs = [
      done("b1", "2026-11-23T01:00:00Z"),
      done("b2", "2026-11-23T02:00:00Z", { retain: true }),
      done("b3", "2026-11-23T03:00:00Z"),
      done("b4", "2026-11-23T04:00:00Z", { scheduled: false }),
      done("b5", "2026-11-23T05:00:00Z"),
      done("b6", "2026-11-23T06:00:00Z"),
      backup("b7", { created: "2026-11-23T07:00:00Z", phase: "InProgress" }),
    ];
    const d = decide(policy({ schedule: {} }, seen()), "2026-11-23T10:00:00Z", bs);
    expect(d.deletes.map((x) => x.name)).to.deep.equal(["b1", "b3"]);
    expect(pruned(d).map((e) => e.message)).to.have.length(2).and.satisfy((ms: string[]) => ms.every((m) => m.includes("beyond backupsHistoryLimit 2")));
  });

  it("never deletes the newest Completed Backup, even when expired, and still prunes on a Failed policy", () => {
    const bs = [done("a", "2026-11-20T00:00:00Z", { expiration: "2026-11-21T00:00:00Z" }), done("b", "2026-11-21T00:00:00Z", { expiration: "2026-11-22T00:00:00Z" })];
    const d = decide(policy({ schedule: {} }, seen()), "2026-11-23T10:00:00Z", bs, { tools: new Set(), repos: new Set() });
    expect(d.status.phase).to.equal("Failed");
    expect(d.deletes.map((x) => x.name)).to.deep.equal(["a"]);
  });

  it("sets lastSuccessfulTime from the newest Completed scheduled Backup", () => {
    const d = decide(policy({ schedule: {} }, seen()), "2026-11-23T10:00:00Z", [done("a", "2026-11-23T08:00:00Z"), done("m", "2026-11-23T09:00:00Z", { scheduled: false })]);
    expect(d.status.lastSuccessfulTime).to.equal("2026-11-23T08:00:00Z");
  });
});
