// The domain metrics on a prom-client registry, fed by a MetricsSource (the manager's cache in
// the operator, plain arrays in tests). Gauges are computed at scrape time from what the
// source lists; counters and histograms are observed on the leader when an update event shows
// a Backup or RestoreJob entering a terminal phase (a standby sees the same events: counting
// there too would double every sum across replicas).
import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import type { Backup, BackupPolicy, BackupRepo, RestoreJob } from "@dataprotection/api";
import { BYTES_BUCKETS, DURATION_BUCKETS, Metrics, type MetricSpec } from "@dataprotection/api";
import { backupGauges, type BackupGauges } from "./backup-state.ts";
import { policyGauges, type PolicyGauges } from "./policy-state.ts";
import { repoReady } from "./repo-state.ts";
import type { Sample } from "./sample.ts";
import { backupFinished, restoreFinished } from "./transitions.ts";

export interface MetricsSource {
  /** The cached objects of a kind; undefined while its cache has not synced (no series then). */
  backups(): readonly Backup[] | undefined;
  policies(): readonly BackupPolicy[] | undefined;
  repos(): readonly BackupRepo[] | undefined;
  onBackupUpdate(fn: (old: Backup, cur: Backup) => void): void;
  onRestoreJobUpdate(fn: (old: RestoreJob, cur: RestoreJob) => void): void;
  /** Whether this replica's controllers run; only the leader counts transitions. */
  isLeader(): boolean;
  /** A derivation threw: its gauges are empty for this scrape, the rest of /metrics is served. */
  onError?(metric: string, error: unknown): void;
}

export interface DomainMetrics {
  backupDuration: Histogram<"namespace" | "policy" | "type" | "outcome">;
  backupStoredBytes: Histogram<"namespace" | "policy" | "type">;
  backupFailures: Counter<"namespace" | "policy" | "type" | "reason">;
  restores: Counter<"namespace" | "outcome">;
  restoreFailures: Counter<"namespace" | "reason">;
  restoreDuration: Histogram<"namespace" | "outcome">;
}

/** One computation per scrape: every collect() of a scrape runs in the same synchronous pass. */
function perScrape<T>(fn: () => T): () => T {
  let held: { value: T } | undefined;
  return () => {
    if (!held) {
      held = { value: fn() };
      queueMicrotask(() => (held = undefined));
    }
    return held.value;
  };
}

export function registerMetrics(registry: Registry, source: MetricsSource): DomainMetrics {
  const registers = [registry];
  const safely = <T>(metric: string, fn: () => T): T | undefined => {
    try {
      return fn();
    } catch (e) {
      source.onError?.(metric, e);
      return undefined;
    }
  };
  const backups = perScrape((): BackupGauges | undefined => safely("backups", () => {
    const list = source.backups();
    return list && backupGauges(list);
  }));
  const policies = perScrape((): PolicyGauges | undefined => safely("backuppolicies", () => {
    const list = source.policies();
    return list && policyGauges(list);
  }));
  const repos = perScrape(() => safely("backuprepos", () => {
    const list = source.repos();
    return list && repoReady(list);
  }));

  const gauge = (spec: MetricSpec, samples: () => readonly Sample[] | undefined): void => {
    new Gauge({
      name: spec.name,
      help: spec.help,
      labelNames: [...spec.labels],
      registers,
      collect() {
        this.reset();
        for (const s of samples() ?? []) this.set(s.labels, s.value);
      },
    });
  };
  gauge(Metrics.backupLastSuccess, () => backups()?.lastSuccess);
  gauge(Metrics.backupLastFailure, () => backups()?.lastFailure);
  gauge(Metrics.backupLastSize, () => backups()?.lastSize);
  gauge(Metrics.backupLastDuration, () => backups()?.lastDuration);
  gauge(Metrics.backups, () => backups()?.byPhase);
  gauge(Metrics.logfileWindowEnd, () => backups()?.logfileWindowEnd);
  gauge(Metrics.schedulePeriod, () => policies()?.schedulePeriod);
  gauge(Metrics.policyCreated, () => policies()?.created);
  gauge(Metrics.repoReady, repos);
  gauge(Metrics.leader, () => [{ labels: {}, value: source.isLeader() ? 1 : 0 }]);

  const m: DomainMetrics = {
    backupDuration: new Histogram({ name: Metrics.backupDuration.name, help: Metrics.backupDuration.help, labelNames: Metrics.backupDuration.labels, buckets: DURATION_BUCKETS, registers }),
    backupStoredBytes: new Histogram({ name: Metrics.backupStoredBytes.name, help: Metrics.backupStoredBytes.help, labelNames: Metrics.backupStoredBytes.labels, buckets: BYTES_BUCKETS, registers }),
    backupFailures: new Counter({ name: Metrics.backupFailures.name, help: Metrics.backupFailures.help, labelNames: Metrics.backupFailures.labels, registers }),
    restores: new Counter({ name: Metrics.restores.name, help: Metrics.restores.help, labelNames: Metrics.restores.labels, registers }),
    restoreFailures: new Counter({ name: Metrics.restoreFailures.name, help: Metrics.restoreFailures.help, labelNames: Metrics.restoreFailures.labels, registers }),
    restoreDuration: new Histogram({ name: Metrics.restoreDuration.name, help: Metrics.restoreDuration.help, labelNames: Metrics.restoreDuration.labels, buckets: DURATION_BUCKETS, registers }),
  };

  source.onBackupUpdate((old, cur) => {
    if (!source.isLeader()) return;
    const f = backupFinished(old, cur);
    if (!f) return;
    if (f.durationSeconds !== undefined) m.backupDuration.observe({ ...f.labels, outcome: f.outcome }, f.durationSeconds);
    if (f.bytes !== undefined) m.backupStoredBytes.observe(f.labels, f.bytes);
    if (f.reason !== undefined) m.backupFailures.inc({ ...f.labels, reason: f.reason });
  });
  source.onRestoreJobUpdate((old, cur) => {
    if (!source.isLeader()) return;
    const f = restoreFinished(old, cur);
    if (!f) return;
    m.restores.inc({ namespace: f.namespace, outcome: f.outcome });
    if (f.durationSeconds !== undefined) m.restoreDuration.observe({ namespace: f.namespace, outcome: f.outcome }, f.durationSeconds);
    if (f.reason !== undefined) m.restoreFailures.inc({ namespace: f.namespace, reason: f.reason });
  });
  return m;
}
