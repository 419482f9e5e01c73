import { expect } from "chai";
import { Registry } from "prom-client";
import type { Backup, BackupPolicy, BackupRepo, RestoreJob } from "@dataprotection/api";
import { metricNames } from "@dataprotection/api";
import { registerMetrics, type MetricsSource } from "./register.ts";

type Update<T> = (old: T, cur: T) => void;

/** A source over plain arrays; `emit*` plays an informer update event. */
function fakeSource() {
  const s = {
    backups: [] as Backup[] | undefined,
    policies: [] as BackupPolicy[] | undefined,
    repos: [] as BackupRepo[] | undefined,
    leader: true,
    errors: [] as string[],
    backupHandlers: [] as Array<Update<Backup>>,
    restoreHandlers: [] as Array<Update<RestoreJob>>,
  };
  const source: MetricsSource = {
    backups: () => s.backups,
    policies: () => s.policies,
    repos: () => s.repos,
    onBackupUpdate: (fn) => void s.backupHandlers.push(fn),
    onRestoreJobUpdate: (fn) => void s.restoreHandlers.push(fn),
    isLeader: () => s.leader,
    onError: (metric) => void s.errors.push(metric),
  };
  return { s, source, emitBackup: (o: Backup, c: Backup) => s.backupHandlers.forEach((h) => h(o, c)), emitRestore: (o: RestoreJob, c: RestoreJob) => s.restoreHandlers.forEach((h) => h(o, c)) };
}

async function series(registry: Registry, name: string): Promise<Array<{ labels: Record<string, string | number>; value: number; metricName?: string }>> {
  const m = registry.getSingleMetric(name);
  if (!m) throw new Error(`${name} not registered`);
  return (await m.get()).values.map((v) => ({ labels: v.labels as Record<string, string | number>, value: v.value, ...((v as { metricName?: string }).metricName ? { metricName: (v as { metricName?: string }).metricName } : {}) }));
}

const backup = (name: string, phase: string, status: Backup["status"] = {}): Backup =>
  ({ metadata: { name, namespace: "ns", uid: name }, spec: { backupPolicyName: "pg", backupType: "datafile" }, status: { phase, ...status } }) as Backup;
const restore = (phase: string, status: RestoreJob["status"] = {}): RestoreJob => ({ metadata: { name: "r", namespace: "ns", uid: "r" }, spec: { backupJobName: "b" }, status: { phase, ...status } }) as RestoreJob;

describe("metrics: registered collectors", () => {
  it("registers every catalog metric, and only those", () => {
    const registry = new Registry();
    registerMetrics(registry, fakeSource().source);
    expect(registry.getMetricsAsArray().map((m) => m.name).sort()).to.deep.equal([...metricNames].sort());
  });

  it("computes gauges at scrape time from what the source lists now", async () => {
    const registry = new Registry();
    const { s, source } = fakeSource();
    registerMetrics(registry, source);
    s.backups = [backup("a", "Completed", { completionTimestamp: "2026-01-01T00:00:00Z", totalSize: "1Ki" })];
    s.repos = [{ metadata: { name: "s3" }, spec: { storageProviderRef: "p" }, status: { phase: "Ready" } } as BackupRepo];
    s.policies = [{ metadata: { name: "pg", namespace: "ns", creationTimestamp: "2025-12-01T00:00:00Z" }, spec: { schedule: { datafile: { cronExpression: "0 * * * *", enable: true } } } } as BackupPolicy];
    expect(await series(registry, "dataprotection_backup_last_success_timestamp_seconds")).to.deep.equal([{ labels: { namespace: "ns", policy: "pg", type: "datafile" }, value: Date.UTC(2026, 0, 1) / 1000 }]);
    expect(await series(registry, "dataprotection_backup_last_size_bytes")).to.deep.equal([{ labels: { namespace: "ns", policy: "pg", type: "datafile" }, value: 1024 }]);
    expect(await series(registry, "dataprotection_backuprepo_ready")).to.deep.equal([{ labels: { repo: "s3" }, value: 1 }]);
    expect(await series(registry, "dataprotection_backuppolicy_schedule_period_seconds")).to.deep.equal([{ labels: { namespace: "ns", policy: "pg", type: "datafile" }, value: 3600 }]);
    expect(await series(registry, "dataprotection_leader")).to.deep.equal([{ labels: {}, value: 1 }]);

    // Gone from the cache: gone from the next scrape. Not synced: no series.
    s.backups = [];
    s.repos = undefined;
    s.leader = false;
    expect(await series(registry, "dataprotection_backup_last_success_timestamp_seconds")).to.deep.equal([]);
    expect(await series(registry, "dataprotection_backuprepo_ready")).to.deep.equal([]);
    expect(await series(registry, "dataprotection_leader")).to.deep.equal([{ labels: {}, value: 0 }]);
    const text = await registry.metrics();
    expect(text).to.contain("dataprotection_backuppolicy_created_timestamp_seconds{namespace=\"ns\",policy=\"pg\"} 1764547200");
  });

  it("derives each group once per scrape", async () => {
    const registry = new Registry();
    const { s, source } = fakeSource();
    let lists = 0;
    registerMetrics(registry, { ...source, backups: () => (lists++, s.backups) });
    await registry.metrics();
    expect(lists).to.equal(1);
    await registry.metrics();
    expect(lists).to.equal(2);
  });

  it("serves the rest of /metrics when a derivation throws", async () => {
    const registry = new Registry();
    const { s, source } = fakeSource();
    registerMetrics(registry, { ...source, policies: () => { throw new Error("boom"); } });
    s.repos = [{ metadata: { name: "s3" }, spec: { storageProviderRef: "p" }, status: { phase: "Failed" } } as BackupRepo];
    const text = await registry.metrics();
    expect(text).to.contain('dataprotection_backuprepo_ready{repo="s3"} 0');
    expect(s.errors).to.deep.equal(["backuppolicies"]);
  });

  it("counts terminal transitions on the leader only", async () => {
    const registry = new Registry();
    const { s, source, emitBackup, emitRestore } = fakeSource();
    registerMetrics(registry, source);
    emitBackup(backup("a", "InProgress"), backup("a", "Completed", { duration: "2m0s", totalSize: "5Mi" }));
    emitBackup(backup("b", "InProgress"), backup("b", "Failed", { failureReason: "JobFailed: exit 1", duration: "30s" }));
    emitBackup(backup("b", "Failed"), backup("b", "Failed", { failureReason: "JobFailed: exit 1" })); // a later write: not again
    emitRestore(restore("InProgressPhy"), restore("Completed", { startTimestamp: "2026-01-01T00:00:00Z", completionTimestamp: "2026-01-01T00:05:00Z" }));
    emitRestore(restore("New"), restore("Failed", { failureReason: "BackupNotFound: gone" }));
    s.leader = false;
    emitBackup(backup("c", "InProgress"), backup("c", "Failed", { failureReason: "HookFailed: x" }));
    emitRestore(restore("New"), restore("Failed", { failureReason: "Timeout: slow" }));

    const policy = { namespace: "ns", policy: "pg", type: "datafile" };
    expect(await series(registry, "dataprotection_backup_failures_total")).to.deep.equal([{ labels: { ...policy, reason: "JobFailed" }, value: 1 }]);
    expect(await series(registry, "dataprotection_restores_total")).to.deep.equal([
      { labels: { namespace: "ns", outcome: "succeeded" }, value: 1 },
      { labels: { namespace: "ns", outcome: "failed" }, value: 1 },
    ]);
    expect(await series(registry, "dataprotection_restore_failures_total")).to.deep.equal([{ labels: { namespace: "ns", reason: "BackupNotFound" }, value: 1 }]);
    const counts = (await series(registry, "dataprotection_backup_duration_seconds")).filter((v) => v.metricName?.endsWith("_count"));
    expect(counts).to.deep.equal([
      { labels: { ...policy, outcome: "succeeded" }, value: 1, metricName: "dataprotection_backup_duration_seconds_count" },
      { labels: { ...policy, outcome: "failed" }, value: 1, metricName: "dataprotection_backup_duration_seconds_count" },
    ]);
    const sums = (await series(registry, "dataprotection_backup_stored_bytes")).filter((v) => v.metricName?.endsWith("_sum"));
    expect(sums).to.deep.equal([{ labels: policy, value: 5 * 2 ** 20, metricName: "dataprotection_backup_stored_bytes_sum" }]);
    const restoreSums = (await series(registry, "dataprotection_restore_duration_seconds")).filter((v) => v.metricName?.endsWith("_sum"));
    expect(restoreSums).to.deep.equal([{ labels: { namespace: "ns", outcome: "succeeded" }, value: 300, metricName: "dataprotection_restore_duration_seconds_sum" }]);
  });
});
