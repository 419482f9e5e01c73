import { expect } from "chai";
import type { Backup, RestoreJob } from "@dataprotection/api";
import { backupFinished, restoreFinished } from "./transitions.ts";

const backup = (phase: string | undefined, status: NonNullable<Backup["status"]> = {}, uid = "u1"): Backup =>
  ({ metadata: { name: "b", namespace: "ns", uid }, spec: { backupPolicyName: "pg", backupType: "snapshot" }, status: { ...status, ...(phase ? { phase } : {}) } }) as Backup;
const restore = (phase: string | undefined, status: NonNullable<RestoreJob["status"]> = {}, uid = "r1"): RestoreJob =>
  ({ metadata: { name: "r", namespace: "ns", uid }, spec: { backupJobName: "b" }, status: { ...status, ...(phase ? { phase } : {}) } }) as RestoreJob;

const labels = { namespace: "ns", policy: "pg", type: "snapshot" };

describe("metrics: terminal transitions", () => {
  it("observes a Backup entering Completed from each running phase, with its duration and size", () => {
    const done = { completionTimestamp: "2026-01-01T00:10:00Z", duration: "10m0s", totalSize: "3Mi" };
    for (const from of [undefined, "New", "InProgress", "Running"]) {
      expect(backupFinished(backup(from), backup("Completed", done)), String(from)).to.deep.equal({ labels, outcome: "succeeded", durationSeconds: 600, bytes: 3 * 2 ** 20 });
    }
  });

  it("observes a Backup entering Failed with its reason (Other when unknown), without a size", () => {
    expect(backupFinished(backup("InProgress"), backup("Failed", { failureReason: "SnapshotFailed: the driver said no", startTimestamp: "2026-01-01T00:00:00Z", completionTimestamp: "2026-01-01T00:00:30Z", totalSize: "1Mi" }))).to.deep.equal({
      labels, outcome: "failed", durationSeconds: 30, reason: "SnapshotFailed",
    });
    expect(backupFinished(backup("New"), backup("Failed", { failureReason: "kaboom" }))).to.deep.equal({ labels, outcome: "failed", reason: "Other" });
  });

  it("observes nothing unless a running Backup became terminal", () => {
    const none: Array<[Backup, Backup, string]> = [
      [backup("Completed"), backup("Completed"), "terminal to terminal (a later status write)"],
      [backup("Failed"), backup("Completed"), "Failed to Completed"],
      [backup("Completed"), backup("Deleting"), "deletion"],
      [backup("Deleting"), backup("Failed"), "out of Deleting"],
      [backup("New"), backup("InProgress"), "still running"],
      [backup("InProgress"), backup("Completed", {}, "u2"), "another object of the same name"],
    ];
    for (const [old, cur, why] of none) expect(backupFinished(old, cur), why).to.equal(undefined);
  });

  it("observes a RestoreJob entering Completed or Failed", () => {
    const times = { startTimestamp: "2026-01-01T00:00:00Z", completionTimestamp: "2026-01-01T00:01:00Z" };
    for (const from of [undefined, "New", "InProgressPhy", "InProgressLogic"]) {
      expect(restoreFinished(restore(from), restore("Completed", times)), String(from)).to.deep.equal({ namespace: "ns", outcome: "succeeded", durationSeconds: 60 });
    }
    expect(restoreFinished(restore("InProgressPhy"), restore("Failed", { failureReason: "TargetNotFound: no StatefulSet" }))).to.deep.equal({ namespace: "ns", outcome: "failed", reason: "TargetNotFound" });
    expect(restoreFinished(restore("New"), restore("Failed", { failureReason: "JobFailed without colon" }))).to.deep.equal({ namespace: "ns", outcome: "failed", reason: "Other" });
    expect(restoreFinished(restore("Completed"), restore("Completed"))).to.equal(undefined);
    expect(restoreFinished(restore("Failed"), restore("Completed"))).to.equal(undefined);
    expect(restoreFinished(restore("New"), restore("InProgressLogic"))).to.equal(undefined);
    expect(restoreFinished(restore("New"), restore("Completed", {}, "r2"))).to.equal(undefined);
  });
});
