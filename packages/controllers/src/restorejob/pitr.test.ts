import { expect } from "chai";
import { choosePitr, recoverableWindows } from "./pitr.ts";
import { backup } from "./fixtures.test-util.ts";

const t = (hhmm: string) => `2024-05-01T${hhmm}:00Z`;
// base1 10:00-10:05, base2 11:00-11:05, base3 12:00-12:05; log 09:00-11:30; log2 11:50-12:30
const all = [
  backup("base1", { start: t("10:00"), stop: t("10:05") }),
  backup("base2", { start: t("11:00"), stop: t("11:05") }),
  backup("base3", { start: t("12:00"), stop: t("12:05") }),
  backup("failed", { start: t("11:10"), stop: t("11:12"), phase: "Failed" }),
  backup("log", { type: "logfile", start: t("09:00"), stop: t("11:30"), phase: "Running" }),
  backup("log2", { type: "logfile", start: t("11:50"), stop: t("12:30") }),
];

describe("restorejob pitr", () => {
  it("computes each log's window from the first base backup inside it to the log's stopTime", () => {
    expect(recoverableWindows(all).map((w) => [w.log.metadata.name, w.start.toISOString(), w.end.toISOString()])).to.deep.equal([
      ["log", "2024-05-01T10:05:00.000Z", "2024-05-01T11:30:00.000Z"],
      ["log2", "2024-05-01T12:05:00.000Z", "2024-05-01T12:30:00.000Z"],
    ]);
  });

  const rows: Array<[string, string, string | undefined, string | undefined]> = [
    ["picks the newest base at or before the time", t("11:20"), "base2", "log"],
    ["a time between two bases picks the older", t("10:30"), "base1", "log"],
    ["a time exactly at a base's stop picks that base", t("11:05"), "base2", "log"],
    ["never picks a Failed backup", t("11:29"), "base2", "log"],
    ["uses the second log for later times", t("12:10"), "base3", "log2"],
  ];
  for (const [name, time, base, log] of rows) {
    it(name, () => {
      const c = choosePitr(new Date(time), all, "ns/pol");
      if (!c.ok) throw new Error(c.message);
      expect([c.base.metadata.name, c.log.metadata.name]).to.deep.equal([base, log]);
    });
  }

  for (const time of [t("10:01"), t("11:40"), t("13:00")]) {
    it(`refuses ${time}, outside every window, listing the windows`, () => {
      const c = choosePitr(new Date(time), all, "ns/pol");
      expect(c.ok).to.equal(false);
      if (c.ok) return;
      expect(c.reason).to.equal("RestoreTimeOutOfWindow");
      expect(c.message).to.equal(`restoreTime ${time} is outside the recoverable window of BackupPolicy "ns/pol": 2024-05-01T10:05:00Z to 2024-05-01T11:30:00Z (logfile backup "log"), 2024-05-01T12:05:00Z to 2024-05-01T12:30:00Z (logfile backup "log2"); choose a restoreTime inside it`);
    });
  }

  it("says there is no window when no log covers a base backup", () => {
    const c = choosePitr(new Date(t("10:30")), all.filter((b) => b.spec.backupType !== "logfile"), "ns/pol");
    expect(c.ok).to.equal(false);
    if (!c.ok) expect(c.reason).to.equal("NoLogfileBackup");
  });
});
