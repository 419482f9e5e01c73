// Every domain metric the operator exports: name, type, labels and help, spelled once (a public
// contract, like the kinds: alerts and dashboards depend on it). The operator's collectors
// (packages/controllers/src/metrics) are built from this table, and the chart's alerts and dashboard are checked
// against exportedSeriesNames() (packages/tools/src/chart-alerts.test.ts, chart-dashboard.test.ts).

export type MetricType = "gauge" | "counter" | "histogram";

export interface MetricSpec {
  readonly name: string;
  readonly type: MetricType;
  readonly labels: readonly string[];
  readonly help: string;
}

const policyLabels = ["namespace", "policy", "type"] as const;

export const Metrics = {
  backupLastSuccess: {
    name: "dataprotection_backup_last_success_timestamp_seconds",
    type: "gauge",
    labels: policyLabels,
    help: "completionTimestamp of the newest Completed Backup of a policy and backup type (Unix seconds), from the Backups in the cache.",
  },
  backupLastFailure: {
    name: "dataprotection_backup_last_failure_timestamp_seconds",
    type: "gauge",
    labels: policyLabels,
    help: "completionTimestamp of the newest Failed Backup of a policy and backup type (Unix seconds), from the Backups in the cache.",
  },
  backupLastSize: {
    name: "dataprotection_backup_last_size_bytes",
    type: "gauge",
    labels: policyLabels,
    help: "status.totalSize of the newest Completed Backup of a policy and backup type, in bytes.",
  },
  backupLastDuration: {
    name: "dataprotection_backup_last_duration_seconds",
    type: "gauge",
    labels: policyLabels,
    help: "status.duration of the newest Completed Backup of a policy and backup type, in seconds.",
  },
  backups: {
    name: "dataprotection_backups",
    type: "gauge",
    labels: [...policyLabels, "phase"],
    help: "Backups in the cache by policy, backup type and status.phase (phase \"\" before the controller has seen one).",
  },
  logfileWindowEnd: {
    name: "dataprotection_backup_logfile_window_end_timestamp_seconds",
    type: "gauge",
    labels: ["namespace", "policy"],
    help: "The end of a policy's point-in-time recovery window: the newest status.manifests.backupLog.stopTime of its logfile Backups (Unix seconds).",
  },
  backupDuration: {
    name: "dataprotection_backup_duration_seconds",
    type: "histogram",
    labels: [...policyLabels, "outcome"],
    help: "Duration of Backups that reached Completed (outcome succeeded) or Failed (outcome failed), observed by the leader as the transition happens.",
  },
  backupStoredBytes: {
    name: "dataprotection_backup_stored_bytes",
    type: "histogram",
    labels: policyLabels,
    help: "status.totalSize of Backups that reached Completed, observed by the leader as the transition happens.",
  },
  backupFailures: {
    name: "dataprotection_backup_failures_total",
    type: "counter",
    labels: [...policyLabels, "reason"],
    help: "Backups that reached Failed, by the reason their status.failureReason starts with (Other when it is not a known reason).",
  },
  restores: {
    name: "dataprotection_restores_total",
    type: "counter",
    labels: ["namespace", "outcome"],
    help: "RestoreJobs that reached Completed (outcome succeeded) or Failed (outcome failed).",
  },
  restoreFailures: {
    name: "dataprotection_restore_failures_total",
    type: "counter",
    labels: ["namespace", "reason"],
    help: "RestoreJobs that reached Failed, by the reason their status.failureReason starts with (Other when it is not a known reason).",
  },
  restoreDuration: {
    name: "dataprotection_restore_duration_seconds",
    type: "histogram",
    labels: ["namespace", "outcome"],
    help: "Duration of RestoreJobs from startTimestamp to completionTimestamp, by outcome.",
  },
  repoReady: {
    name: "dataprotection_backuprepo_ready",
    type: "gauge",
    labels: ["repo"],
    help: "1 when a BackupRepo's status.phase is Ready, else 0.",
  },
  schedulePeriod: {
    name: "dataprotection_backuppolicy_schedule_period_seconds",
    type: "gauge",
    labels: policyLabels,
    help: "The longest gap between two ticks of a policy's enabled schedule of a backup type (its cron, UTC); absent for a disabled or invalid schedule.",
  },
  policyCreated: {
    name: "dataprotection_backuppolicy_created_timestamp_seconds",
    type: "gauge",
    labels: ["namespace", "policy"],
    help: "metadata.creationTimestamp of a BackupPolicy (Unix seconds): when a policy that never succeeded started to be late.",
  },
  leader: {
    name: "dataprotection_leader",
    type: "gauge",
    labels: [],
    help: "1 on the replica whose controllers run (the lease holder, or the only replica without leader election), 0 on standbys.",
  },
} as const satisfies Record<string, MetricSpec>;

export type MetricKey = keyof typeof Metrics;

/** Every metric spec, in catalog order. */
export const metricSpecs: readonly MetricSpec[] = Object.values(Metrics);

/** Metric family names (as registered). */
export const metricNames: readonly string[] = metricSpecs.map((m) => m.name);

/** Every series name a scrape can hold: a histogram's family is _bucket, _sum and _count. */
export function exportedSeriesNames(specs: readonly MetricSpec[] = metricSpecs): string[] {
  return specs.flatMap((m) => (m.type === "histogram" ? [`${m.name}_bucket`, `${m.name}_sum`, `${m.name}_count`] : [m.name]));
}

/** Histogram buckets: backups take seconds to hours, and hold kilobytes to terabytes. */
export const DURATION_BUCKETS = [5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14_400, 28_800, 86_400];
export const BYTES_BUCKETS = [1, 4, 16, 64, 256, 1024, 4096, 16_384, 65_536, 262_144, 1_048_576, 4_194_304].map((mi) => mi * 2 ** 20);

/** Label values of `outcome`. */
export const Outcome = { Succeeded: "succeeded", Failed: "failed" } as const;
export type Outcome = (typeof Outcome)[keyof typeof Outcome];

/** Label value of `reason` when a failureReason does not start with a known reason. */
export const OTHER_REASON = "Other";
