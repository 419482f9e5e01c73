import { expect } from "chai";
import type { BackupPolicy } from "@dataprotection/api";
import { policyGauges } from "./policy-state.ts";

function policy(name: string, schedule: NonNullable<BackupPolicy["spec"]["schedule"]>, o: { deleting?: boolean } = {}): BackupPolicy {
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
    kind: "BackupPolicy",
    metadata: { name, namespace: "ns", creationTimestamp: "2026-01-01T00:00:00Z", ...(o.deleting ? { deletionTimestamp: "2026-01-02T00:00:00Z" } : {}) },
    spec: { schedule },
  } as BackupPolicy;
}

describe("metrics: gauges from the BackupPolicies in the cache", () => {
  it("has the period of each enabled, valid schedule and each policy's creation time", () => {
    const g = policyGauges([
      policy("pg", { datafile: { cronExpression: "0 2 * * *", enable: true }, logfile: { cronExpression: "*/5 * * * *", enable: true }, snapshot: { cronExpression: "0 * * * *", enable: false } }),
      policy("bad", { datafile: { cronExpression: "61 * * * *", enable: true } }),
      policy("none", {}),
      policy("leaving", { datafile: { cronExpression: "0 2 * * *", enable: true } }, { deleting: true }),
    ]);
    expect(g.schedulePeriod).to.deep.equal([
      { labels: { namespace: "ns", policy: "pg", type: "datafile" }, value: 86_400 },
      { labels: { namespace: "ns", policy: "pg", type: "logfile" }, value: 300 },
    ]);
    const created = Date.parse("2026-01-01T00:00:00Z") / 1000;
    expect(g.created).to.deep.equal(["pg", "bad", "none"].map((p) => ({ labels: { namespace: "ns", policy: p }, value: created })));
  });
});
