// Scrape-time gauges derived from the BackupPolicies in the cache: each enabled schedule's
// period, and each policy's creation time (when a policy that never succeeded became late).
import type { BackupPolicy } from "@dataprotection/api";
import { timestampSeconds } from "./parse.ts";
import type { BackupTypeLabel, Sample } from "./sample.ts";
import { schedulePeriodSeconds } from "./schedule-period.ts";

const TYPES: readonly BackupTypeLabel[] = ["datafile", "logfile", "snapshot"];

export interface PolicyGauges {
  schedulePeriod: Sample<"namespace" | "policy" | "type">[];
  created: Sample<"namespace" | "policy">[];
}

export function policyGauges(policies: readonly BackupPolicy[]): PolicyGauges {
  const out: PolicyGauges = { schedulePeriod: [], created: [] };
  for (const p of policies) {
    if (p.metadata?.deletionTimestamp) continue;
    const namespace = p.metadata?.namespace ?? "";
    const policy = p.metadata?.name ?? "";
    const created = timestampSeconds(p.metadata?.creationTimestamp);
    if (created !== undefined) out.created.push({ labels: { namespace, policy }, value: created });
    for (const type of TYPES) {
      const schedule = p.spec?.schedule?.[type];
      if (!schedule?.enable) continue;
      const period = schedulePeriodSeconds(schedule.cronExpression);
      if (period !== undefined) out.schedulePeriod.push({ labels: { namespace, policy, type }, value: period });
    }
  }
  return out;
}
