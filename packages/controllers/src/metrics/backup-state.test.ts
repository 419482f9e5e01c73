import { expect } from "chai";
import type { Backup } from "@dataprotection/api";
import { backupGauges } from "./backup-state.ts";

const t = (iso: string): number => Date.parse(iso) / 1000;

function backup(name: string, o: { ns?: string; policy?: string; type?: "datafile" | "logfile" | "snapshot"; status?: Backup["status"]; created?: string; deleting?: boolean }): Backup {
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
    kind: "Backup",
    metadata: { name, namespace: o.ns ?? "ns", uid: `uid-${name}`, creationTimestamp: o.created ?? "2026-01-01T00:00:00Z", ...(o.deleting ? { deletionTimestamp: "2026-01-09T00:00:00Z" } : {}) },
    spec: { backupPolicyName: o.policy ?? "pg", ...(o.type ? { backupType: o.type } : {}) },
    ...(o.status ? { status: o.status } : {}),
  } as Backup;
}

const labels = (policy = "pg", type = "datafile", namespace = "ns") => ({ namespace, policy, type });

describe("metrics: gauges from the Backups in the cache", () => {
  it("is empty for no Backups", () => {
    expect(backupGauges([])).to.deep.equal({ lastSuccess: [], lastFailure: [], lastSize: [], lastDuration: [], byPhase: [], logfileWindowEnd: [] });
  });

  it("takes the newest Completed and the newest Failed Backup per policy and type", () => {
    const g = backupGauges([
      backup("a", { status: { phase: "Completed", completionTimestamp: "2026-01-01T02:00:00Z", totalSize: "1Gi", duration: "5m0s" } }),
      backup("b", { status: { phase: "Completed", completionTimestamp: "2026-01-02T02:00:00Z", totalSize: "2Gi", duration: "6m0s" } }),
      backup("c", { status: { phase: "Failed", completionTimestamp: "2026-01-03T02:00:00Z", failureReason: "JobFailed: x" } }),
      backup("d", { status: { phase: "Failed", completionTimestamp: "2026-01-01T02:00:00Z" } }),
      backup("e", { type: "snapshot", status: { phase: "Completed", completionTimestamp: "2026-01-01T05:00:00Z" } }),
      backup("f", { policy: "other", ns: "ns2", status: { phase: "Completed", completionTimestamp: "2026-01-04T00:00:00Z", totalSize: "nonsense" } }),
    ]);
    expect(g.lastSuccess).to.have.deep.members([
      { labels: labels(), value: t("2026-01-02T02:00:00Z") },
      { labels: labels("pg", "snapshot"), value: t("2026-01-01T05:00:00Z") },
      { labels: labels("other", "datafile", "ns2"), value: t("2026-01-04T00:00:00Z") },
    ]);
    expect(g.lastFailure).to.deep.equal([{ labels: labels(), value: t("2026-01-03T02:00:00Z") }]);
    // Size and duration of the newest success; a size or duration that does not parse has no sample.
    expect(g.lastSize).to.deep.equal([{ labels: labels(), value: 2 * 2 ** 30 }]);
    expect(g.lastDuration).to.deep.equal([{ labels: labels(), value: 360 }]);
  });

  it("counts Backups by phase, including the ones without a phase yet and the ones being deleted", () => {
    const g = backupGauges([
      backup("a", {}),
      backup("b", { status: { phase: "InProgress" } }),
      backup("c", { status: { phase: "InProgress" } }),
      backup("d", { status: { phase: "Deleting" }, deleting: true }),
      backup("e", { type: "logfile", status: { phase: "Running" } }),
    ]);
    expect(g.byPhase).to.have.deep.members([
      { labels: { ...labels(), phase: "" }, value: 1 },
      { labels: { ...labels(), phase: "InProgress" }, value: 2 },
      { labels: { ...labels(), phase: "Deleting" }, value: 1 },
      { labels: { ...labels("pg", "logfile"), phase: "Running" }, value: 1 },
    ]);
  });

  it("ignores a Backup on its way out as a success or failure", () => {
    const g = backupGauges([
      backup("a", { deleting: true, status: { phase: "Completed", completionTimestamp: "2026-01-05T00:00:00Z" } }),
      backup("b", { status: { phase: "Deleting", completionTimestamp: "2026-01-05T00:00:00Z" } }),
      backup("c", { deleting: true, status: { phase: "Failed", completionTimestamp: "2026-01-05T00:00:00Z" } }),
      backup("d", { status: { phase: "Completed", completionTimestamp: "2026-01-01T00:00:00Z" } }),
    ]);
    expect(g.lastSuccess).to.deep.equal([{ labels: labels(), value: t("2026-01-01T00:00:00Z") }]);
    expect(g.lastFailure).to.deep.equal([]);
  });

  it("falls back to creationTimestamp for a finished Backup without completionTimestamp", () => {
    const g = backupGauges([backup("a", { created: "2026-01-07T00:00:00Z", status: { phase: "Failed" } })]);
    expect(g.lastFailure).to.deep.equal([{ labels: labels(), value: t("2026-01-07T00:00:00Z") }]);
  });

  it("ends a policy's recovery window at the newest logfile stopTime, running or finished", () => {
    const g = backupGauges([
      backup("log-old", { type: "logfile", status: { phase: "Completed", manifests: { backupLog: { startTime: "2026-01-01T00:00:00Z", stopTime: "2026-01-02T00:00:00Z" } } } }),
      backup("log-now", { type: "logfile", status: { phase: "Running", manifests: { backupLog: { startTime: "2026-01-02T00:00:00Z", stopTime: "2026-01-03T12:00:00Z" } } } }),
      backup("log-new", { type: "logfile", status: { phase: "Running", manifests: { backupLog: { startTime: "2026-01-03T13:00:00Z" } } } }),
      backup("log-gone", { type: "logfile", deleting: true, status: { phase: "Running", manifests: { backupLog: { stopTime: "2026-01-09T00:00:00Z" } } } }),
      backup("full", { status: { phase: "Completed", completionTimestamp: "2026-01-08T00:00:00Z", manifests: { backupLog: { stopTime: "2026-01-08T00:00:00Z" } } } }),
      backup("log-b", { type: "logfile", policy: "mysql", status: { phase: "Running", manifests: { backupLog: { stopTime: "2026-01-04T00:00:00Z" } } } }),
    ]);
    expect(g.logfileWindowEnd).to.have.deep.members([
      { labels: { namespace: "ns", policy: "pg" }, value: t("2026-01-03T12:00:00Z") },
      { labels: { namespace: "ns", policy: "mysql" }, value: t("2026-01-04T00:00:00Z") },
    ]);
  });
});
