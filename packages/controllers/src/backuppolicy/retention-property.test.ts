// selectBackupsToPrune over random histories: the invariants of issue 7 hold for every one.
// The oracles here are written from the rules, not from the implementation.
import { expect } from "chai";
import fc from "fast-check";
import { selectBackupsToPrune, type HistoryLimit, type PruneSelection } from "./retention.ts";
import { BACKUP_TYPES, type BackupSummary } from "./types.ts";

const HOUR = 3_600_000;
const NOW = new Date("2026-11-23T12:00:00Z");
const NAMESPACES = ["ns", "ns2"];
const POLICIES = ["pg", "mysql", ""];
const PHASES = [undefined, "", "New", "InProgress", "Running", "Completed", "Failed", "Deleting"];
// Weighted towards one busy group and finished Backups, so limits and chains bite often.
const arbNamespace = fc.constantFrom("ns", "ns", "ns", "ns2");
const arbPolicy = fc.constantFrom("pg", "pg", "pg", "mysql", "");
const arbType = fc.constantFrom("datafile", "datafile", "logfile", "snapshot" as const);
const arbPhase = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom("Completed", "Failed") },
  { weight: 1, arbitrary: fc.constantFrom(...PHASES) },
);
const GROUPS = NAMESPACES.flatMap((namespace) =>
  POLICIES.flatMap((policyName) => BACKUP_TYPES.map((backupType) => ({ namespace, policyName, backupType }))),
);

const arbBackups: fc.Arbitrary<BackupSummary[]> = fc
  .array(
    fc.record({
      namespace: arbNamespace,
      policyName: arbPolicy,
      backupType: arbType,
      phase: arbPhase,
      scheduled: fc.boolean(),
      protected: fc.integer({ min: 0, max: 5 }).map((n) => n === 0),
      // Indices past the end name missing parents; any index may make a cycle.
      parent: fc.option(fc.nat(40), { nil: undefined }),
      createdHoursAgo: fc.integer({ min: 0, max: 60 }),
      expiresInHours: fc.option(fc.integer({ min: -20, max: 20 }), { nil: undefined }),
    }),
    { maxLength: 40, size: "medium" },
  )
  .map((rows) =>
    rows.map((r, i) => ({
      name: `b${i}`,
      namespace: r.namespace,
      backupType: r.backupType,
      phase: r.phase,
      policyName: r.policyName,
      scheduled: r.scheduled,
      protected: r.protected,
      parentBackupName: r.parent === undefined ? undefined : `b${r.parent}`,
      creationTimestamp: new Date(NOW.getTime() - r.createdHoursAgo * HOUR),
      expiration: r.expiresInHours === undefined ? undefined : new Date(NOW.getTime() + r.expiresInHours * HOUR),
    })),
  );

const arbLimits: fc.Arbitrary<HistoryLimit[]> = fc
  .array(fc.integer({ min: 0, max: 4 }), { minLength: GROUPS.length, maxLength: GROUPS.length })
  .map((limits) => GROUPS.map((g, i) => ({ ...g, limit: limits[i] })));

const arbCase = fc
  .tuple(arbBackups, arbLimits)
  .chain(([backups, limits]) =>
    fc.tuple(fc.constant(backups), fc.constant(limits), fc.shuffledSubarray(backups, { minLength: backups.length })),
  );

const id = (b: { namespace: string; name: string }): string => `${b.namespace}/${b.name}`;
const isFinished = (b: BackupSummary): boolean => b.phase === "Completed" || b.phase === "Failed";
const isExpired = (b: BackupSummary): boolean => b.expiration !== undefined && b.expiration <= NOW;
const sameGroup = (a: BackupSummary, g: { namespace: string; policyName: string; backupType: string }): boolean =>
  a.namespace === g.namespace && a.policyName === g.policyName && a.backupType === g.backupType;

/** Completed with the latest creation of its (policy, type): with ties, any of them. */
function isNewestCompleted(b: BackupSummary, all: BackupSummary[]): boolean {
  if (b.phase !== "Completed") return false;
  return all.every((o) => !(sameGroup(o, b) && o.phase === "Completed" && o.creationTimestamp > b.creationTimestamp));
}

/** Every transitive parent of the retained Backups. */
function ancestorsOfRetained(all: BackupSummary[], selected: Set<string>): Set<string> {
  const byId = new Map(all.map((b) => [id(b), b]));
  const out = new Set<string>();
  for (const b of all) {
    if (selected.has(id(b))) continue;
    let p = b.parentBackupName && byId.get(`${b.namespace}/${b.parentBackupName}`);
    while (p && !out.has(id(p))) {
      out.add(id(p));
      p = p.parentBackupName && byId.get(`${p.namespace}/${p.parentBackupName}`);
    }
  }
  return out;
}

function checkInvariants(backups: BackupSummary[], limits: HistoryLimit[], result: PruneSelection[]): void {
  const byId = new Map(backups.map((b) => [id(b), b]));
  const selected = new Set(result.map(id));
  expect(selected.size, "no Backup selected twice").to.equal(result.length);
  const chosen = result.map((r) => {
    const b = byId.get(id(r));
    expect(b, `${id(r)} is one of the input Backups`).to.not.equal(undefined);
    return { b: b as BackupSummary, reason: r.reason };
  });
  const pinnedAncestors = ancestorsOfRetained(backups, selected);

  for (let i = 1; i < chosen.length; i++) {
    expect(chosen[i].b.creationTimestamp.getTime(), "oldest first").to.be.at.least(chosen[i - 1].b.creationTimestamp.getTime());
  }
  for (const { b, reason } of chosen) {
    expect(isFinished(b), `${b.name} (${b.phase}) is finished`).to.equal(true);
    expect(b.protected, `${b.name} is not protected`).to.equal(false);
    expect(pinnedAncestors.has(id(b)), `${b.name} is no ancestor of a retained Backup`).to.equal(false);
    if (reason === "Expired") {
      expect(isExpired(b), `${b.name} selected as Expired has expired`).to.equal(true);
    } else {
      const limit = limits.find((l) => sameGroup(b, l))?.limit ?? 0;
      expect(b.scheduled && limit > 0, `${b.name} selected for HistoryLimit is scheduled and limited`).to.equal(true);
      const keptInGroup = backups.filter(
        (o) => sameGroup(o, b) && o.scheduled && isFinished(o) && !o.protected && !selected.has(id(o)),
      );
      expect(keptInGroup.length, `${b.name} was over the limit ${limit}`).to.be.at.least(limit);
    }
  }
  // The newest Completed of every (policy, type) survives.
  for (const g of GROUPS) {
    const completed = backups.filter((b) => sameGroup(b, g) && b.phase === "Completed");
    if (completed.length === 0) continue;
    const newest = completed.filter((b) => isNewestCompleted(b, backups));
    expect(newest.some((b) => !selected.has(id(b))), `a newest Completed of ${JSON.stringify(g)} is kept`).to.equal(true);
  }
  // Expired ones go unless a rule keeps them.
  for (const b of backups) {
    if (!isExpired(b) || selected.has(id(b))) continue;
    const kept = !isFinished(b) || b.protected || isNewestCompleted(b, backups) || pinnedAncestors.has(id(b));
    expect(kept, `expired ${b.name} is kept only by a rule`).to.equal(true);
  }
  // After pruning, each limit holds except for Backups no rule lets go.
  for (const l of limits) {
    if (l.limit === 0) continue;
    const counted = backups.filter(
      (b) => sameGroup(b, l) && b.scheduled && isFinished(b) && !b.protected && !selected.has(id(b)) && !pinnedAncestors.has(id(b)),
    );
    expect(counted.length, `${JSON.stringify(l)} holds`).to.be.at.most(l.limit);
  }
}

describe("selectBackupsToPrune over random histories (property)", function () {
  // 1,000 histories each; a loaded shared machine needs more than the default timeout.
  this.timeout(120_000);

  it("keeps every invariant, deterministically and whatever the input order", () => {
    fc.assert(
      fc.property(arbCase, ([backups, historyLimits, shuffled]) => {
        const result = selectBackupsToPrune(backups, { now: NOW, historyLimits });
        checkInvariants(backups, historyLimits, result);
        expect(selectBackupsToPrune(backups, { now: NOW, historyLimits }), "same input, same output").to.deep.equal(result);
        expect(selectBackupsToPrune(shuffled, { now: NOW, historyLimits }), "input order does not matter").to.deep.equal(result);
      }),
      { numRuns: 1000 },
    );
  });

  it("exercises every rule in a good share of the histories (the generator is not vacuous)", () => {
    const seen = { Expired: 0, HistoryLimit: 0, keptAsAncestor: 0 };
    fc.assert(
      fc.property(arbCase, ([backups, historyLimits]) => {
        const result = selectBackupsToPrune(backups, { now: NOW, historyLimits });
        for (const reason of new Set(result.map((r) => r.reason))) seen[reason]++;
        const selected = new Set(result.map(id));
        const ancestors = ancestorsOfRetained(backups, selected);
        const rescued = backups.some(
          (b) => ancestors.has(id(b)) && isExpired(b) && isFinished(b) && !b.protected && !isNewestCompleted(b, backups),
        );
        if (rescued) seen.keptAsAncestor++;
      }),
      { numRuns: 1000, seed: 7 },
    );
    expect(seen.Expired, "histories with an expired Backup pruned").to.be.greaterThan(400);
    expect(seen.HistoryLimit, "histories pruned by a history limit").to.be.greaterThan(100);
    expect(seen.keptAsAncestor, "histories where an expired Backup stays as an ancestor").to.be.greaterThan(200);
  });
});
