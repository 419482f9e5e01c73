// Scrape-time gauges derived from the Backups in the cache: per policy and backup type, the
// newest success and failure (and that success's size and duration), Backups by phase, and
// the end of each policy's point-in-time recovery window.
import { BackupPhase, type Backup } from "@dataprotection/api";
import { durationSeconds, parseSize, timestampSeconds } from "./parse.ts";
import { policyLabelsOf, type Sample } from "./sample.ts";

type PolicyLabel = "namespace" | "policy" | "type";

export interface BackupGauges {
  lastSuccess: Sample<PolicyLabel>[];
  lastFailure: Sample<PolicyLabel>[];
  lastSize: Sample<PolicyLabel>[];
  lastDuration: Sample<PolicyLabel>[];
  byPhase: Sample<PolicyLabel | "phase">[];
  logfileWindowEnd: Sample<"namespace" | "policy">[];
}

/** A Backup on its way out (deletionTimestamp set or phase Deleting) is no recovery point, nor a failure to report. */
const leaving = (b: Backup): boolean => !!b.metadata?.deletionTimestamp || b.status?.phase === BackupPhase.Deleting;

/** When a finished Backup finished: completionTimestamp, else (older objects) creationTimestamp. */
const finishedAt = (b: Backup): number | undefined => timestampSeconds(b.status?.completionTimestamp) ?? timestampSeconds(b.metadata?.creationTimestamp);

const newer = (at: number, than: number | undefined): boolean => than === undefined || at > than;

export function backupGauges(backups: readonly Backup[]): BackupGauges {
  const newestSuccess = new Map<string, { at: number; b: Backup }>();
  const newestFailure = new Map<string, { at: number; labels: Record<PolicyLabel, string> }>();
  const phases = new Map<string, Sample<PolicyLabel | "phase">>();
  const windowEnd = new Map<string, Sample<"namespace" | "policy">>();

  for (const b of backups) {
    const labels = policyLabelsOf(b);
    const key = JSON.stringify([labels.namespace, labels.policy, labels.type]);
    const phase = b.status?.phase ?? "";
    const pkey = JSON.stringify([key, phase]);
    const counted = phases.get(pkey);
    if (counted) counted.value++;
    else phases.set(pkey, { labels: { ...labels, phase }, value: 1 });
    if (leaving(b)) continue;

    if (phase === BackupPhase.Completed || phase === BackupPhase.Failed) {
      const at = finishedAt(b);
      if (at !== undefined) {
        if (phase === BackupPhase.Completed) {
          if (newer(at, newestSuccess.get(key)?.at)) newestSuccess.set(key, { at, b });
        } else if (newer(at, newestFailure.get(key)?.at)) newestFailure.set(key, { at, labels });
      }
    }
    if (labels.type === "logfile") {
      const stop = timestampSeconds(b.status?.manifests?.backupLog?.stopTime);
      const wkey = JSON.stringify([labels.namespace, labels.policy]);
      if (stop !== undefined && newer(stop, windowEnd.get(wkey)?.value)) windowEnd.set(wkey, { labels: { namespace: labels.namespace, policy: labels.policy }, value: stop });
    }
  }

  const out: BackupGauges = { lastSuccess: [], lastFailure: [], lastSize: [], lastDuration: [], byPhase: [...phases.values()], logfileWindowEnd: [...windowEnd.values()] };
  for (const { at, b } of newestSuccess.values()) {
    const labels = policyLabelsOf(b);
    out.lastSuccess.push({ labels, value: at });
    const size = parseSize(b.status?.totalSize);
    if (size !== undefined) out.lastSize.push({ labels, value: size });
    const duration = durationSeconds(b.status);
    if (duration !== undefined) out.lastDuration.push({ labels, value: duration });
  }
  for (const { at, labels } of newestFailure.values()) out.lastFailure.push({ labels, value: at });
  return out;
}
