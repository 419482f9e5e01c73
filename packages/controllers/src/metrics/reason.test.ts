import { expect } from "chai";
import { backupReasons, reasonLabel, restoreReasons } from "./reason.ts";

describe("metrics: reason label", () => {
  it("is the known reason a failureReason starts with", () => {
    expect(reasonLabel("JobFailed: tool Job failed after 3 attempts", backupReasons)).to.equal("JobFailed");
    expect(reasonLabel("RepoNotReady: BackupRepo \"r\" is Failed", backupReasons)).to.equal("RepoNotReady");
    expect(reasonLabel("VerificationFailed: Backup \"ns/b\" failed verification", restoreReasons)).to.equal("VerificationFailed");
  });

  it("is Other for free text, an unknown reason, another kind's reason or nothing", () => {
    for (const r of [undefined, "", "something broke", "NotAReason: x", "JobFailed without a colon", "job failed: lower case", "Failed: x"]) {
      expect(reasonLabel(r, backupReasons), String(r)).to.equal("Other");
    }
    expect(reasonLabel("NoLogfileBackup: none", backupReasons)).to.equal("Other");
    expect(reasonLabel("NoLogfileBackup: none", restoreReasons)).to.equal("NoLogfileBackup");
  });

  it("takes its values from the controllers' reason sets only", () => {
    expect(backupReasons.has("JobFailed")).to.equal(true);
    expect(restoreReasons.has("TargetNotFound")).to.equal(true);
    for (const r of [...backupReasons, ...restoreReasons]) expect(r).to.match(/^[A-Z][A-Za-z0-9]*$/);
  });
});
