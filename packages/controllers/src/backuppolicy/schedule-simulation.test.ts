// decideTick driven by a simulated operator: a clock stepping through hours with
// requeues, spurious reconciles, outages (restarts lose everything but the API server's
// state) and lost status writes. Whatever happens, a tick gets at most one Backup and an
// outage at most one catch-up.
import { expect } from "chai";
import fc from "fast-check";
import { decideTick, parseCron, type ParsedCron } from "./schedule.ts";

const MINUTE = 60_000;
const HORIZON_MS = 4 * 60 * MINUTE;
const RETRY_AFTER_ERROR_MS = 5_000;
const START = Date.parse("2026-03-01T00:00:00Z");

interface Outage {
  start: number;
  end: number;
}

interface Scenario {
  stepMinutes: number;
  creationOffsetMs: number;
  startingDeadlineMinutes: number | undefined;
  outages: Outage[];
  spuriousReconciles: number[];
  latenciesMs: number[];
  durationsMs: number[];
  lostStatusWrites: boolean[];
}

interface Created {
  name: string;
  tick: number;
  at: number;
  finishAt: number;
}

/** Sorted, merged outages inside the horizon. */
function normalizeOutages(raw: Outage[]): Outage[] {
  const sorted = raw.map((o) => ({ start: o.start, end: Math.min(o.end, HORIZON_MS) })).sort((a, b) => a.start - b.start);
  const merged: Outage[] = [];
  for (const o of sorted) {
    const last = merged[merged.length - 1];
    if (last !== undefined && o.start <= last.end) last.end = Math.max(last.end, o.end);
    else merged.push({ ...o });
  }
  return merged;
}

const scenario: fc.Arbitrary<Scenario> = fc.record({
  stepMinutes: fc.constantFrom(1, 2, 3, 5, 7, 10, 15, 30),
  creationOffsetMs: fc.integer({ min: 0, max: 30 * MINUTE }),
  startingDeadlineMinutes: fc.option(fc.integer({ min: 0, max: 60 }), { nil: undefined }),
  outages: fc
    .array(
      fc.record({ start: fc.integer({ min: 0, max: HORIZON_MS }), len: fc.integer({ min: 1_000, max: 120 * MINUTE }) }),
      { maxLength: 4 },
    )
    .map((os) => normalizeOutages(os.map((o) => ({ start: o.start, end: o.start + o.len })))),
  spuriousReconciles: fc.array(fc.integer({ min: 0, max: HORIZON_MS }), { maxLength: 30 }).map((ts) => [...ts].sort((a, b) => a - b)),
  latenciesMs: fc.array(fc.integer({ min: 0, max: 90_000 }), { minLength: 1, maxLength: 10 }),
  durationsMs: fc.array(fc.integer({ min: 0, max: 40 * MINUTE }), { minLength: 1, maxLength: 10 }),
  lostStatusWrites: fc.array(fc.boolean(), { minLength: 1, maxLength: 10 }),
});

function cronOf(expression: string): ParsedCron {
  const parsed = parseCron(expression);
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.cron;
}

/** Runs the operator over the horizon; returns every Backup it created. */
function simulate(s: Scenario): Created[] {
  const cron = cronOf(`*/${s.stepMinutes} * * * *`);
  const created = new Map<string, Created>();
  const creates: Created[] = [];
  let lastScheduleTime: number | undefined;
  let requeueAt = s.creationOffsetMs;
  let n = 0;
  // A restart lists everything and reconciles at once; requeues die with the process.
  const events = [...s.spuriousReconciles, ...s.outages.map((o) => o.end)].sort((a, b) => a - b);
  let e = 0;
  const down = (t: number): boolean => s.outages.some((o) => t >= o.start && t < o.end);

  for (;;) {
    const nextEvent = events[e] ?? Infinity;
    const t = Math.min(requeueAt, nextEvent);
    if (t >= HORIZON_MS) break;
    if (t === nextEvent) e++;
    else requeueAt = Infinity;
    if (down(t)) continue;
    if (t < s.creationOffsetMs) continue;

    const running = [...created.values()].filter((c) => c.finishAt > t).sort((a, b) => b.tick - a.tick)[0];
    const decision = decideTick({
      policyName: "pg",
      backupType: "datafile",
      cron,
      lastScheduleTime: lastScheduleTime === undefined ? undefined : new Date(START + lastScheduleTime),
      policyCreationTime: new Date(START + s.creationOffsetMs),
      now: new Date(START + t),
      startingDeadlineMinutes: s.startingDeadlineMinutes,
      runningBackupOfType: running && { name: running.name, phase: "InProgress" },
      existingBackupNames: new Set(created.keys()),
    });
    const pick = <T>(xs: T[]): T => xs[n % xs.length];
    n++;
    let retry = false;
    if (decision.action === "create") {
      expect(created.has(decision.name), `created ${decision.name} twice`).to.equal(false);
      const c = { name: decision.name, tick: decision.tick.getTime() - START, at: t, finishAt: t + pick(s.durationsMs) };
      created.set(c.name, c);
      creates.push(c);
      if (pick(s.lostStatusWrites)) retry = true;
      else lastScheduleTime = c.tick;
    } else if (decision.action !== "wait") {
      lastScheduleTime = decision.tick.getTime() - START;
    }
    const wanted = retry ? t + RETRY_AFTER_ERROR_MS : decision.next.getTime() - START + pick(s.latenciesMs);
    requeueAt = Math.min(requeueAt, wanted);
  }
  return creates;
}

describe("decideTick under a simulated operator (property)", function () {
  // Each run steps a simulated clock through hours of reconciles; slow machines need room.
  this.timeout(120_000);

  it("never creates two Backups for one tick nor more than one catch-up per outage", () => {
    fc.assert(
      fc.property(scenario, (s) => {
        const creates = simulate(s);
        const ticks = creates.map((c) => c.tick);
        expect(new Set(ticks).size, "one Backup per tick").to.equal(ticks.length);
        for (let i = 1; i < ticks.length; i++) expect(ticks[i]).to.be.greaterThan(ticks[i - 1]);
        for (const c of creates) {
          expect(c.tick).to.be.at.most(c.at);
          expect(c.tick).to.be.greaterThan(s.creationOffsetMs);
          expect((c.tick % (60 * MINUTE)) % (s.stepMinutes * MINUTE), "on a tick of the cron").to.equal(0);
        }
        for (const o of s.outages) {
          const catchUps = creates.filter((c) => c.tick < o.end && c.at >= o.end);
          expect(catchUps.length, `catch-ups after outage ${JSON.stringify(o)}`).to.be.at.most(1);
        }
        if (s.startingDeadlineMinutes !== undefined) {
          const deadline = Math.max(s.startingDeadlineMinutes * MINUTE, 60_000);
          for (const c of creates) expect(c.at - c.tick).to.be.at.most(deadline);
        }
      }),
      { numRuns: 1000 },
    );
  });

  it("backs up every tick when nothing goes wrong (property)", () => {
    fc.assert(
      fc.property(scenario, (raw) => {
        // Requeues land well within a tick: later ones would rightly collapse ticks.
        const latenciesMs = raw.latenciesMs.map((l) => l % 20_000);
        const s: Scenario = { ...raw, outages: [], latenciesMs, durationsMs: [0], lostStatusWrites: [false] };
        const ticks = simulate(s).map((c) => c.tick);
        const step = s.stepMinutes * MINUTE;
        const expected: number[] = [];
        for (let hour = 0; hour < HORIZON_MS; hour += 60 * MINUTE) {
          for (let t = hour; t < hour + 60 * MINUTE; t += step) {
            // The last tick may still be waiting for its requeue at the horizon.
            if (t > s.creationOffsetMs && t + 20_000 < HORIZON_MS) expected.push(t);
          }
        }
        expect(ticks.slice(0, expected.length)).to.deep.equal(expected);
      }),
      { numRuns: 300 },
    );
  });
});
