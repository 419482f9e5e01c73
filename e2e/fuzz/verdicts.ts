// What an accepted fuzz object must end with, per kind, from how each controller reports: a status
// naming its problem, a healthy state, or a progressing state that says what it waits for.
// Anything else (no status, a Failed phase without a reason, a phase without its condition) is
// "unclassified" and fails the fuzz test. Pure; verdicts.test.ts checks these rules against the
// statuses the controllers' own decide functions produce.
import type { Kind } from "@dataprotection/api";

export type Verdict =
  /** The object's status names what is wrong with it (a Failed phase, a False condition). */
  | { state: "problem"; reason: string; message: string }
  /** Nothing wrong: Ready, Available, Valid, Completed. */
  | { state: "healthy"; reason: string; message: string }
  /** Working or waiting, and saying on what (a target pod, a pre-check Job, a tool Job). */
  | { state: "progressing"; reason: string; message: string }
  /** None of the above: the operator has not (or not properly) reported on it. */
  | { state: "unclassified"; reason: string; message: string };

export type VerdictState = Verdict["state"];

interface Condition {
  type?: string;
  status?: string;
  reason?: string;
  message?: string;
}

export interface Observed {
  metadata?: { name?: string; generation?: number };
  status?: Record<string, unknown> & { phase?: string; failureReason?: string; conditions?: Condition[] };
}

/** "<Reason>: <message>": what every controller writes into status.failureReason. */
const FAILURE_REASON = /^([A-Z][A-Za-z0-9]*): (\S[\s\S]*)$/;

/** Reasons too generic to name a problem. */
const GENERIC = new Set(["Error", "InternalError", "Unknown", "Failed", "Failure"]);

const cond = (o: Observed, type: string): Condition | undefined => o.status?.conditions?.find((c) => c.type === type);
const filled = (s: string | undefined): s is string => typeof s === "string" && s.trim().length > 0;

const problem = (reason: string, message: string): Verdict => ({ state: "problem", reason, message });
const healthy = (reason: string, message: string): Verdict => ({ state: "healthy", reason, message });
const progressing = (reason: string, message: string): Verdict => ({ state: "progressing", reason, message });
const unclassified = (reason: string, message: string): Verdict => ({ state: "unclassified", reason, message });

/** A failureReason that names its reason and says something. */
function failure(o: Observed): Verdict | undefined {
  const m = FAILURE_REASON.exec(o.status?.failureReason ?? "");
  if (!m) return undefined;
  if (GENERIC.has(m[1]!)) return unclassified("GenericReason", `failureReason uses the catch-all reason ${m[1]}: ${m[2]!.slice(0, 200)}`);
  return problem(m[1]!, m[2]!);
}

/** A condition with status True/False, a reason and a message. */
function described(c: Condition | undefined, status: "True" | "False"): c is Condition & { reason: string; message: string } {
  return !!c && c.status === status && filled(c.reason) && filled(c.message);
}

function noStatus(o: Observed): Verdict | undefined {
  if (!o.status || Object.keys(o.status).length === 0) return unclassified("NoStatus", "the operator wrote no status");
  return undefined;
}

/** Reasons of a New Backup waiting for something that may still come (validate.ts "wait", the repo being set up, claim-wait.ts). */
export const BACKUP_WAIT_REASONS: ReadonlySet<string> = new Set(["WaitingForTargetPod", "WaitingForParent", "RepoNotReady", "PVCPending"]);

const rules: Record<Kind, (o: Observed) => Verdict> = {
  // Failed with "Reason: message"; Completed; New waiting (Validated=False with a wait reason); InProgress/Running started (Validated=True).
  Backup: (o) => {
    const phase = o.status?.phase;
    if (phase === "Failed") return failure(o) ?? unclassified("FailedWithoutReason", `phase Failed, failureReason ${JSON.stringify(o.status?.failureReason)}`);
    if (phase === "Completed") return healthy("Completed", "backup completed");
    const v = cond(o, "Validated");
    if ((phase === "New" || phase === undefined) && described(v, "False") && BACKUP_WAIT_REASONS.has(v.reason)) return progressing(v.reason, v.message);
    if ((phase === "InProgress" || phase === "Running") && described(v, "True")) return progressing(phase, v.message);
    return noStatus(o) ?? unclassified("UnexpectedState", `phase ${phase ?? "(none)"}, Validated ${JSON.stringify(v ?? null)}`);
  },
  // Available, or Failed with every problem as "Reason: message" (joined with "; ").
  BackupPolicy: (o) => {
    const phase = o.status?.phase;
    if (phase === "Available") return healthy("Available", "policy available");
    if (phase === "Failed") return failure(o) ?? unclassified("FailedWithoutReason", `phase Failed, failureReason ${JSON.stringify(o.status?.failureReason)}`);
    return noStatus(o) ?? unclassified("UnexpectedState", `phase ${phase ?? "(none)"}`);
  },
  // Ready (Ready=True); Failed with failureReason and Ready=False; PreChecking with Ready=False saying which Job it waits for.
  BackupRepo: (o) => {
    const phase = o.status?.phase;
    const ready = cond(o, "Ready");
    if (phase === "Ready" && ready?.status === "True") return healthy("Ready", ready.message ?? "");
    if (phase === "Failed" && described(ready, "False")) return failure(o) ?? unclassified("FailedWithoutReason", `phase Failed, failureReason ${JSON.stringify(o.status?.failureReason)}`);
    if (phase === "PreChecking" && described(ready, "False")) return progressing(ready.reason, ready.message);
    return noStatus(o) ?? unclassified("UnexpectedState", `phase ${phase ?? "(none)"}, Ready ${JSON.stringify(ready ?? null)}`);
  },
  // The Valid condition: True, or False with the reason and what to fix.
  BackupTool: (o) => {
    const valid = cond(o, "Valid");
    if (valid?.status === "True" && filled(valid.reason)) return healthy(valid.reason, valid.message ?? "");
    if (described(valid, "False")) return GENERIC.has(valid.reason) ? unclassified("GenericReason", valid.message) : problem(valid.reason, valid.message);
    return noStatus(o) ?? unclassified("UnexpectedState", `Valid ${JSON.stringify(valid ?? null)}`);
  },
  // Failed with "Reason: message"; Completed; New/InProgress* with Progressing=True saying what it restores.
  RestoreJob: (o) => {
    const phase = o.status?.phase;
    if (phase === "Failed") return failure(o) ?? unclassified("FailedWithoutReason", `phase Failed, failureReason ${JSON.stringify(o.status?.failureReason)}`);
    if (phase === "Completed") return healthy("Completed", "restore completed");
    const p = cond(o, "Progressing");
    if ((phase === "New" || phase === "InProgressPhy" || phase === "InProgressLogic") && described(p, "True")) return progressing(phase, p.message);
    return noStatus(o) ?? unclassified("UnexpectedState", `phase ${phase ?? "(none)"}, Progressing ${JSON.stringify(p ?? null)}`);
  },
  // Ready (Ready=True) or NotReady with Ready=False naming the missing driver or the broken template.
  StorageProvider: (o) => {
    const phase = o.status?.phase;
    const ready = cond(o, "Ready");
    if (phase === "Ready" && ready?.status === "True") return healthy("Ready", ready.message ?? "");
    if (phase === "NotReady" && described(ready, "False")) return problem(ready.reason, ready.message);
    return noStatus(o) ?? unclassified("UnexpectedState", `phase ${phase ?? "(none)"}, Ready ${JSON.stringify(ready ?? null)}`);
  },
  APIManagerBackup: (o) => threescale(o),
  APIManagerRestore: (o) => threescale(o),
};

/** The 3scale CRs keep one condition (Running, Completed or Failed) and failureReason, as upstream. */
function threescale(o: Observed): Verdict {
  const s = o.status ?? {};
  if (filled(s.failureReason)) {
    const f = failure(o) ?? unclassified("FailedWithoutReason", `failureReason ${JSON.stringify(s.failureReason)}`);
    return f.state === "problem" && cond(o, "Failed")?.status !== "True" ? unclassified("NoFailedCondition", `failureReason set but no Failed=True condition: ${s.failureReason}`) : f;
  }
  if (s.completed === true) return healthy("Completed", cond(o, "Completed")?.message ?? "");
  const running = cond(o, "Running");
  if (described(running, "True")) return progressing(running.reason, running.message);
  return noStatus(o) ?? unclassified("UnexpectedState", `completed ${JSON.stringify(s.completed)}, conditions ${JSON.stringify(s.conditions ?? [])}`.slice(0, 300));
}

/** The verdict on an accepted object of `kind` as read back from the API server. */
export function judge(kind: Kind, o: Observed): Verdict {
  return rules[kind](o);
}

/**
 * Stricter rules for references that name an object existing only in another namespace: a
 * namespaced reference must not find it. Returns the failure reasons allowed, or undefined
 * when the rule does not apply (the object may fail earlier for another reason).
 */
export function crossNamespaceRule(kind: Kind, spec: unknown, names: { xnsPolicy: string; xnsBackup: string }): { field: string; reasons: readonly string[] } | undefined {
  const s = (spec ?? {}) as Record<string, unknown>;
  // The Backup controller resolves the policy first: nothing can fail before it. An import
  // (spec.importFrom) never reads its policy: the name only files it.
  if (kind === "Backup" && s.backupPolicyName === names.xnsPolicy && s.importFrom === undefined) return { field: "spec.backupPolicyName", reasons: ["PolicyNotFound"] };
  // The RestoreJob plan checks its volumes and mounts, then the Backup.
  if (kind === "RestoreJob" && s.backupJobName === names.xnsBackup) return { field: "spec.backupJobName", reasons: ["BackupNotFound", "InvalidRestoreJob"] };
  return undefined;
}
