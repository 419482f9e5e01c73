// Pure: is a BackupPolicy usable? Every problem names the field and the fix; the policy
// turns Available by itself once the world (tool, repo) or the spec is fixed.
import type { BackupPolicy } from "@dataprotection/api";
import { parseCron, type ParsedCron } from "./cron.ts";
import { PolicyFailureReason } from "./reasons.ts";
import { parseTTL } from "./ttl.ts";
import { BACKUP_TYPES, type BackupType } from "./types.ts";

export interface PolicyProblem {
  reason: PolicyFailureReason;
  message: string;
}

export interface PolicyValidation {
  problems: PolicyProblem[];
  /** The parsed cron of every enabled schedule whose expression parsed. */
  crons: Partial<Record<BackupType, ParsedCron>>;
  /** retention.ttl in ms, when set and valid. */
  ttlMs?: number;
}

export interface PolicyWorld {
  /** Names of the BackupTools that exist. */
  tools: ReadonlySet<string>;
  /** Names of the BackupRepos that exist. */
  repos: ReadonlySet<string>;
}

/** The schedules that are enabled, in a fixed order. */
export function enabledScheduleTypes(policy: BackupPolicy): BackupType[] {
  return BACKUP_TYPES.filter((t) => policy.spec.schedule?.[t]?.enable === true);
}

export function validatePolicy(policy: BackupPolicy, world: PolicyWorld): PolicyValidation {
  const ref = `BackupPolicy "${policy.metadata?.namespace}/${policy.metadata?.name}"`;
  const problems: PolicyProblem[] = [];
  const crons: PolicyValidation["crons"] = {};

  for (const type of enabledScheduleTypes(policy)) {
    const expression = policy.spec.schedule?.[type]?.cronExpression ?? "";
    const parsed = parseCron(expression);
    if (parsed.ok) crons[type] = parsed.cron;
    else problems.push({ reason: PolicyFailureReason.InvalidCron, message: `${parsed.error}: fix ${ref} .spec.schedule.${type}.cronExpression (UTC, 5 fields)` });
    if (!policy.spec[type]) {
      problems.push({ reason: PolicyFailureReason.SectionMissing, message: `${ref} enables the ${type} schedule but has no .spec.${type}: add it or disable .spec.schedule.${type}` });
    }
  }

  for (const type of ["datafile", "logfile"] as const) {
    const section = policy.spec[type];
    if (!section) continue;
    if (!world.tools.has(section.backupToolName)) {
      problems.push({ reason: PolicyFailureReason.ToolNotFound, message: `BackupTool "${section.backupToolName}" not found: create it or change ${ref} .spec.${type}.backupToolName` });
    }
    if (section.backupRepoName !== undefined && !world.repos.has(section.backupRepoName)) {
      problems.push({ reason: PolicyFailureReason.RepoNotFound, message: `BackupRepo "${section.backupRepoName}" not found: create it or change ${ref} .spec.${type}.backupRepoName` });
    }
  }

  let ttlMs: number | undefined;
  const ttl = policy.spec.retention?.ttl;
  if (ttl !== undefined) {
    const parsed = parseTTL(ttl);
    if (parsed.ok) ttlMs = parsed.milliseconds;
    else problems.push({ reason: PolicyFailureReason.InvalidTTL, message: `${parsed.error}: fix ${ref} .spec.retention.ttl` });
  }
  return { problems, crons, ttlMs };
}

/** status.failureReason: every problem as "Reason: message", joined. */
export function failureReasonOf(problems: readonly PolicyProblem[]): string {
  return problems.map((p) => `${p.reason}: ${p.message}`).join("; ");
}
