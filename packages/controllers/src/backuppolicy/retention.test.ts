import { expect } from "chai";
import { expirationFor, parseTTL, selectBackupsToPrune, type HistoryLimit, type PruneSelection } from "./retention.ts";
import type { BackupSummary } from "./types.ts";

const NOW = new Date("2026-11-23T12:00:00Z");
const hoursAgo = (h: number): Date => new Date(NOW.getTime() - h * 3_600_000);

/** A scheduled, Completed datafile Backup of policy "pg" made `age` hours ago. */
function backup(name: string, age: number, extra: Partial<BackupSummary> = {}): BackupSummary {
  return {
    name,
    namespace: "ns",
    backupType: "datafile",
    phase: "Completed",
    policyName: "pg",
    scheduled: true,
    protected: false,
    creationTimestamp: hoursAgo(age),
    ...extra,
  };
}

const limit = (n: number, extra: Partial<HistoryLimit> = {}): HistoryLimit[] => [
  { namespace: "ns", policyName: "pg", backupType: "datafile", limit: n, ...extra },
];
const expired = { expiration: hoursAgo(0.5) };
const pruned = (reason: PruneSelection["reason"], ...names: string[]): PruneSelection[] =>
  names.map((name) => ({ namespace: "ns", name, reason }));

describe("parseTTL", () => {
  const valid: [string, number][] = [
    ["7d", 7 * 24 * 3_600_000],
    ["7D", 7 * 24 * 3_600_000],
    ["12h", 12 * 3_600_000],
    ["12H", 12 * 3_600_000],
    [" 1d ", 24 * 3_600_000],
  ];
  for (const [ttl, ms] of valid) {
    it(`reads ${JSON.stringify(ttl)} as ${ms} ms`, () => {
      expect(parseTTL(ttl)).to.deep.equal({ ok: true, milliseconds: ms });
    });
  }
  const invalid: [string, string][] = [
    ["", "whole number of days or hours"],
    ["7", "whole number of days or hours"],
    ["7m", "whole number of days or hours"],
    ["1.5d", "whole number of days or hours"],
    ["-1d", "whole number of days or hours"],
    ["d", "whole number of days or hours"],
    ["0d", "more than 0"],
    ["999999999d", "at most 100000d"],
  ];
  for (const [ttl, why] of invalid) {
    it(`rejects ${JSON.stringify(ttl)} naming it`, () => {
      const parsed = parseTTL(ttl);
      expect(parsed.ok).to.equal(false);
      if (parsed.ok) return;
      expect(parsed.error).to.contain(`invalid retention.ttl "${ttl}"`);
      expect(parsed.error).to.contain(why);
    });
  }
  it("puts the expiration ttl after the start", () => {
    expect(expirationFor(new Date("2026-11-23T12:00:00Z"), 36 * 3_600_000)).to.deep.equal(new Date("2026-11-25T00:00:00Z"));
  });
});

describe("selectBackupsToPrune", () => {
  const rows: { name: string; backups: BackupSummary[]; historyLimits?: HistoryLimit[]; want: PruneSelection[] }[] = [
    { name: "selects nothing without expirations or limits", backups: [backup("a", 3), backup("b", 2)], want: [] },
    {
      name: "deletes expired Backups, oldest first",
      backups: [backup("c", 1), backup("b", 2, expired), backup("a", 3, expired)],
      want: pruned("Expired", "a", "b"),
    },
    {
      name: "deletes a Backup whose expiration is exactly now",
      backups: [backup("c", 1), backup("a", 3, { expiration: NOW })],
      want: pruned("Expired", "a"),
    },
    {
      name: "keeps a Backup expiring later",
      backups: [backup("c", 1), backup("a", 3, { expiration: new Date(NOW.getTime() + 1) })],
      want: [],
    },
    {
      name: "keeps the newest Completed Backup even when it expired",
      backups: [backup("a", 3, expired), backup("b", 2, expired), backup("f", 1, { ...expired, phase: "Failed" })],
      want: pruned("Expired", "a", "f"),
    },
    {
      name: "keeps the newest Completed per type and per policy",
      backups: [
        backup("d1", 3, expired),
        backup("s1", 3, { ...expired, backupType: "snapshot" }),
        backup("o1", 3, { ...expired, policyName: "other" }),
        backup("d2", 2, expired),
      ],
      want: pruned("Expired", "d1"),
    },
    {
      name: "never deletes unfinished Backups, expired or not",
      backups: [
        backup("new", 5, { ...expired, phase: "New" }),
        backup("none", 5, { ...expired, phase: undefined }),
        backup("inprogress", 5, { ...expired, phase: "InProgress" }),
        backup("running", 5, { ...expired, phase: "Running" }),
        backup("deleting", 5, { ...expired, phase: "Deleting" }),
        backup("latest", 1),
      ],
      want: [],
    },
    {
      name: "never deletes a protected Backup",
      backups: [backup("p", 3, { ...expired, protected: true }), backup("latest", 1)],
      want: [],
    },
    {
      name: "deletes the oldest scheduled Backups beyond the history limit",
      backups: [backup("a", 4), backup("b", 3), backup("c", 2), backup("d", 1)],
      historyLimits: limit(2),
      want: pruned("HistoryLimit", "a", "b"),
    },
    {
      name: "does not limit with backupsHistoryLimit 0",
      backups: [backup("a", 4), backup("b", 3), backup("c", 2)],
      historyLimits: limit(0),
      want: [],
    },
    {
      name: "counts Failed Backups but keeps the newest Completed in a slot",
      backups: [backup("c1", 5), backup("c2", 4), backup("f1", 3, { phase: "Failed" }), backup("f2", 2, { phase: "Failed" }), backup("f3", 1, { phase: "Failed" })],
      historyLimits: limit(2),
      want: pruned("HistoryLimit", "c1", "f1", "f2"),
    },
    {
      name: "counts only scheduled Backups of the limited policy and type",
      backups: [
        backup("manual", 9, { scheduled: false }),
        backup("snap", 8, { backupType: "snapshot" }),
        backup("other", 7, { policyName: "other" }),
        backup("elsewhere", 6, { namespace: "ns2" }),
        backup("a", 2),
        backup("b", 1),
      ],
      historyLimits: limit(2),
      want: [],
    },
    {
      name: "neither counts nor deletes protected or unfinished Backups for the limit",
      backups: [backup("p", 4, { protected: true }), backup("r", 3, { phase: "InProgress" }), backup("a", 2), backup("b", 1)],
      historyLimits: limit(2),
      want: [],
    },
    {
      name: "does not count expired Backups against the limit",
      backups: [backup("a", 4, expired), backup("b", 3), backup("c", 2), backup("d", 1)],
      historyLimits: limit(2),
      want: [...pruned("Expired", "a"), ...pruned("HistoryLimit", "b")],
    },
    {
      name: "keeps the parent of a retained incremental",
      backups: [backup("full", 3, expired), backup("inc", 1, { parentBackupName: "full" })],
      want: [],
    },
    {
      name: "keeps every ancestor of a retained incremental",
      backups: [
        backup("full", 4, expired),
        backup("inc1", 3, { ...expired, parentBackupName: "full" }),
        backup("inc2", 2, { ...expired, parentBackupName: "inc1" }),
        backup("inc3", 1, { parentBackupName: "inc2" }),
      ],
      want: [],
    },
    {
      name: "keeps the ancestors of an unfinished incremental",
      backups: [backup("full", 4, expired), backup("latest", 2), backup("inc", 1, { phase: "InProgress", parentBackupName: "full" })],
      want: [],
    },
    {
      name: "deletes a chain whose every member goes",
      backups: [
        backup("full", 4, expired),
        backup("inc", 3, { ...expired, parentBackupName: "full" }),
        backup("latest", 1),
      ],
      want: pruned("Expired", "full", "inc"),
    },
    {
      name: "keeps a parent beyond the history limit for its retained child",
      backups: [backup("full", 4), backup("x", 3), backup("inc", 2, { parentBackupName: "full" }), backup("y", 1)],
      historyLimits: limit(2),
      want: pruned("HistoryLimit", "x"),
    },
    {
      name: "keeps a parent in another policy's retained child",
      backups: [backup("full", 4, expired), backup("latest", 1), backup("inc", 2, { policyName: "other", parentBackupName: "full" })],
      want: [],
    },
    {
      name: "ignores missing and cyclic parents",
      backups: [
        backup("a", 4, { ...expired, parentBackupName: "b" }),
        backup("b", 3, { ...expired, parentBackupName: "a" }),
        backup("c", 2, { ...expired, parentBackupName: "gone" }),
        backup("latest", 1),
      ],
      want: pruned("Expired", "a", "b", "c"),
    },
    {
      name: "keeps a cycle that a retained Backup hangs from",
      backups: [
        backup("a", 4, { ...expired, parentBackupName: "b" }),
        backup("b", 3, { ...expired, parentBackupName: "a" }),
        backup("latest", 1, { parentBackupName: "a" }),
      ],
      want: [],
    },
    {
      name: "orders equal creation times by name",
      backups: [backup("b", 3, expired), backup("a", 3, expired), backup("latest", 1)],
      want: pruned("Expired", "a", "b"),
    },
  ];
  for (const row of rows) {
    it(row.name, () => {
      expect(selectBackupsToPrune(row.backups, { now: NOW, historyLimits: row.historyLimits })).to.deep.equal(row.want);
    });
  }
});
