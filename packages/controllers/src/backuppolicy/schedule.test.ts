import { expect } from "chai";
import fc from "fast-check";
import { isDNS1123Label } from "./backup-name.ts";
import { latestTickAtOrBefore, nextTickAfter } from "./cron.ts";
import {
  archiveIntervalEnv,
  archiveIntervalSeconds,
  backupNameForTick,
  decideTick,
  parseCron,
  type ParsedCron,
  type TickDecision,
  type TickInput,
} from "./schedule.ts";

const at = (iso: string): Date => new Date(iso);

function cronOf(expression: string): ParsedCron {
  const parsed = parseCron(expression);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.cron;
}

describe("parseCron", () => {
  const valid: [string, boolean][] = [
    ["*/5 * * * *", false],
    ["0 2 * * *", false],
    [" 0 3 * * 1-5 ", false],
    ["*/10 * * * * *", true],
    ["@daily", false],
  ];
  for (const [expression, hasSecondsField] of valid) {
    it(`accepts ${JSON.stringify(expression)}`, () => {
      const parsed = parseCron(expression);
      expect(parsed).to.deep.equal({ ok: true, cron: { expression: expression.trim(), hasSecondsField } });
    });
  }

  const invalid: [string, string][] = [
    ["", "got 0"],
    ["* * *", "got 3"],
    ["* * * * * * *", "got 7"],
    ["61 * * * *", "61"],
    ["a b c d e", "a"],
    ["0 0 30 2 *", "day of month"],
  ];
  for (const [expression, detail] of invalid) {
    it(`rejects ${JSON.stringify(expression)} with a message naming it`, () => {
      const parsed = parseCron(expression);
      expect(parsed.ok).to.equal(false);
      if (parsed.ok) return;
      expect(parsed.error).to.contain(`invalid cronExpression "${expression}"`);
      expect(parsed.error).to.contain(detail);
    });
  }
});

describe("cron ticks", () => {
  it("counts a tick exactly at `at` as at-or-before and not as after", () => {
    const cron = cronOf("0 * * * *");
    expect(latestTickAtOrBefore(cron, at("2026-11-23T10:00:00Z"))).to.deep.equal(at("2026-11-23T10:00:00Z"));
    expect(nextTickAfter(cron, at("2026-11-23T10:00:00Z"))).to.deep.equal(at("2026-11-23T11:00:00Z"));
    expect(latestTickAtOrBefore(cron, at("2026-11-23T10:59:59.999Z"))).to.deep.equal(at("2026-11-23T10:00:00Z"));
    expect(nextTickAfter(cron, at("2026-11-23T10:59:59.999Z"))).to.deep.equal(at("2026-11-23T11:00:00Z"));
  });

  it("handles ticks of a seconds field", () => {
    const cron = cronOf("*/5 * * * * *");
    expect(latestTickAtOrBefore(cron, at("2026-11-23T10:00:04.999Z"))).to.deep.equal(at("2026-11-23T10:00:00Z"));
    expect(latestTickAtOrBefore(cron, at("2026-11-23T10:00:05Z"))).to.deep.equal(at("2026-11-23T10:00:05Z"));
    expect(nextTickAfter(cron, at("2026-11-23T10:00:05Z"))).to.deep.equal(at("2026-11-23T10:00:10Z"));
  });
});

describe("backupNameForTick", () => {
  const rows: [string, string, string, string][] = [
    ["pg", "datafile", "2026-11-23T10:05:00Z", "pg-datafile-202611231005"],
    ["pg", "snapshot", "2026-01-02T03:04:00Z", "pg-snapshot-202601020304"],
    ["pg", "logfile", "2026-11-23T10:05:07Z", "pg-logfile-20261123100507"],
  ];
  for (const [policy, type, tick, name] of rows) {
    it(`names the ${type} tick ${tick} of ${policy} ${name}`, () => {
      expect(backupNameForTick(policy, type as "datafile", at(tick))).to.equal(name);
    });
  }

  it("cuts a long policy name to a 63-char label with a stable hash", () => {
    const policy = "a".repeat(80);
    const name = backupNameForTick(policy, "datafile", at("2026-11-23T10:05:00Z"));
    expect(name.length).to.be.at.most(63);
    expect(isDNS1123Label(name)).to.equal(true);
    expect(name).to.match(/^a+-[0-9a-f]{8}-datafile-202611231005$/);
    expect(backupNameForTick(policy, "datafile", at("2026-11-23T10:05:00Z"))).to.equal(name);
    expect(backupNameForTick(`${policy}b`, "datafile", at("2026-11-23T10:05:00Z"))).to.not.equal(name);
  });

  it("turns a dotted policy name into a valid label distinct from its dashed twin", () => {
    const dotted = backupNameForTick("pg.prod", "datafile", at("2026-11-23T10:05:00Z"));
    expect(isDNS1123Label(dotted)).to.equal(true);
    expect(dotted).to.match(/^pg-prod-[0-9a-f]{8}-datafile-202611231005$/);
    expect(dotted).to.not.equal(backupNameForTick("pg-prod", "datafile", at("2026-11-23T10:05:00Z")));
  });

  it("always yields a valid label, distinct for distinct ticks (property)", () => {
    const policyName = fc.stringMatching(/^[a-z0-9]([-a-z0-9.]{0,250}[a-z0-9])?$/);
    const tick = fc.integer({ min: 0, max: 4_000_000_000 }).map((s) => new Date(s * 1000));
    fc.assert(
      fc.property(policyName, fc.constantFrom("datafile", "logfile", "snapshot" as const), tick, tick, (p, type, t1, t2) => {
        const n1 = backupNameForTick(p, type, t1);
        expect(isDNS1123Label(n1)).to.equal(true);
        if (t1.getTime() !== t2.getTime()) expect(backupNameForTick(p, type, t2)).to.not.equal(n1);
      }),
      { numRuns: 1000 },
    );
  });
});

describe("archiveIntervalSeconds", () => {
  const rows: [string, number][] = [
    ["*/5 * * * *", 300],
    ["*/1 * * * *", 60],
    ["0 */2 * * *", 7200],
    ["*/5 */2 * * *", 300],
    ["30 2 * * *", 60],
    ["@hourly", 60],
    ["*/30 * * * * *", 30],
    ["0 */10 * * * *", 600],
  ];
  for (const [cron, seconds] of rows) {
    it(`gives ${seconds}s for ${JSON.stringify(cron)}`, () => {
      expect(archiveIntervalSeconds(cron)).to.equal(seconds);
      expect(archiveIntervalEnv(cron)).to.equal(`${seconds}s`);
    });
  }
});

describe("decideTick", () => {
  const base: TickInput = {
    policyName: "pg",
    backupType: "datafile",
    cron: cronOf("0 * * * *"),
    policyCreationTime: at("2026-11-23T08:30:00Z"),
    now: at("2026-11-23T08:45:00Z"),
    existingBackupNames: new Set(),
  };
  const rows: { name: string; input: Partial<TickInput>; want: TickDecision }[] = [
    {
      name: "waits for the first tick after the policy was created",
      input: { now: at("2026-11-23T08:45:00Z") },
      want: { action: "wait", next: at("2026-11-23T09:00:00Z") },
    },
    {
      name: "does not fire a tick at the policy's creation time",
      input: { policyCreationTime: at("2026-11-23T09:00:00Z"), now: at("2026-11-23T09:00:10Z") },
      want: { action: "wait", next: at("2026-11-23T10:00:00Z") },
    },
    {
      name: "creates the Backup of a tick that is due now",
      input: { now: at("2026-11-23T09:00:00Z") },
      want: { action: "create", tick: at("2026-11-23T09:00:00Z"), name: "pg-datafile-202611230900", next: at("2026-11-23T10:00:00Z") },
    },
    {
      name: "waits once the due tick was scheduled",
      input: { now: at("2026-11-23T09:30:00Z"), lastScheduleTime: at("2026-11-23T09:00:00Z") },
      want: { action: "wait", next: at("2026-11-23T10:00:00Z") },
    },
    {
      name: "collapses ticks missed in an outage into one catch-up of the latest",
      input: { now: at("2026-11-23T13:20:00Z"), lastScheduleTime: at("2026-11-23T09:00:00Z") },
      want: { action: "create", tick: at("2026-11-23T13:00:00Z"), name: "pg-datafile-202611231300", next: at("2026-11-23T14:00:00Z") },
    },
    {
      name: "takes the catch-up within startingDeadlineMinutes",
      input: { now: at("2026-11-23T13:08:00Z"), lastScheduleTime: at("2026-11-23T09:00:00Z"), startingDeadlineMinutes: 10 },
      want: { action: "create", tick: at("2026-11-23T13:00:00Z"), name: "pg-datafile-202611231300", next: at("2026-11-23T14:00:00Z") },
    },
    {
      name: "skips a catch-up past startingDeadlineMinutes",
      input: { now: at("2026-11-23T13:20:00Z"), lastScheduleTime: at("2026-11-23T09:00:00Z"), startingDeadlineMinutes: 10 },
      want: {
        action: "skip",
        tick: at("2026-11-23T13:00:00Z"),
        reason: "MissedDeadline",
        message:
          "skipped tick 2026-11-23T13:00:00Z of datafile schedule: 20m late at 2026-11-23T13:20:00Z, past startingDeadlineMinutes 10",
        next: at("2026-11-23T14:00:00Z"),
      },
    },
    {
      name: "still runs an on-time tick with startingDeadlineMinutes 0",
      input: { now: at("2026-11-23T13:00:30Z"), lastScheduleTime: at("2026-11-23T12:00:00Z"), startingDeadlineMinutes: 0 },
      want: { action: "create", tick: at("2026-11-23T13:00:00Z"), name: "pg-datafile-202611231300", next: at("2026-11-23T14:00:00Z") },
    },
    {
      name: "never catches up with startingDeadlineMinutes 0",
      input: { now: at("2026-11-23T13:02:00Z"), lastScheduleTime: at("2026-11-23T12:00:00Z"), startingDeadlineMinutes: 0 },
      want: {
        action: "skip",
        tick: at("2026-11-23T13:00:00Z"),
        reason: "MissedDeadline",
        message:
          "skipped tick 2026-11-23T13:00:00Z of datafile schedule: 2m late at 2026-11-23T13:02:00Z, past startingDeadlineMinutes 0",
        next: at("2026-11-23T14:00:00Z"),
      },
    },
    {
      name: "skips a tick while the previous Backup of the type is still running",
      input: {
        now: at("2026-11-23T10:00:00Z"),
        lastScheduleTime: at("2026-11-23T09:00:00Z"),
        runningBackupOfType: { name: "x", phase: "InProgress" },
      },
      want: {
        action: "skip",
        tick: at("2026-11-23T10:00:00Z"),
        reason: "PreviousRunning",
        message: 'skipped tick 2026-11-23T10:00:00Z of datafile schedule: previous backup "x" still InProgress',
        next: at("2026-11-23T11:00:00Z"),
      },
    },
    {
      name: "calls a running Backup without a phase New",
      input: {
        now: at("2026-11-23T10:00:00Z"),
        lastScheduleTime: at("2026-11-23T09:00:00Z"),
        runningBackupOfType: { name: "x", phase: "" },
      },
      want: {
        action: "skip",
        tick: at("2026-11-23T10:00:00Z"),
        reason: "PreviousRunning",
        message: 'skipped tick 2026-11-23T10:00:00Z of datafile schedule: previous backup "x" still New',
        next: at("2026-11-23T11:00:00Z"),
      },
    },
    {
      name: "only records the tick when its Backup exists already (restart after create)",
      input: {
        now: at("2026-11-23T10:00:03Z"),
        lastScheduleTime: at("2026-11-23T09:00:00Z"),
        existingBackupNames: new Set(["pg-datafile-202611231000"]),
        runningBackupOfType: { name: "pg-datafile-202611231000", phase: "InProgress" },
      },
      want: { action: "advance", tick: at("2026-11-23T10:00:00Z"), name: "pg-datafile-202611231000", next: at("2026-11-23T11:00:00Z") },
    },
    {
      name: "does nothing when the clock went back before lastScheduleTime",
      input: { now: at("2026-11-23T09:10:00Z"), lastScheduleTime: at("2026-11-23T10:00:00Z") },
      want: { action: "wait", next: at("2026-11-23T10:00:00Z") },
    },
    {
      name: "names ticks of a seconds field with their seconds",
      input: { cron: cronOf("*/20 * * * * *"), backupType: "logfile", now: at("2026-11-23T09:00:41Z") },
      want: { action: "create", tick: at("2026-11-23T09:00:40Z"), name: "pg-logfile-20261123090040", next: at("2026-11-23T09:01:00Z") },
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(decideTick({ ...base, ...row.input })).to.deep.equal(row.want);
    });
  }
});
