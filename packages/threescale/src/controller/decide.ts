// Shared by the APIManagerBackup/Restore decisions: the direct tool Job's state, reports, conditions.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { Condition } from "@dataprotection/api";
import { setCondition } from "@dataprotection/runtime";
import { Reason } from "../tool/reasons.ts";

export interface JobObservation {
  job?: V1Job;
  pods: V1Pod[];
}

export type JobState =
  | { state: "absent" }
  | { state: "running" }
  | { state: "complete"; report: Record<string, unknown> }
  | { state: "failed"; reason: string; message: string };

function terminated(pods: V1Pod[]) {
  return pods.map((p) => p.status?.containerStatuses?.[0]?.state?.terminated).find((t) => t);
}

export function parseReport(msg: string | undefined): Record<string, unknown> {
  try {
    const v: unknown = JSON.parse(msg ?? "");
    return v && typeof v === "object" ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Where the tool Job is: a failed Job is detected (the upstream operator waits forever). */
export function jobState(o: JobObservation, now: Date, podStartMs: number): JobState {
  const j = o.job;
  if (!j) return { state: "absent" };
  const cond = (t: string) => j.status?.conditions?.find((c) => c.type === t && c.status === "True");
  const term = terminated(o.pods);
  if (cond("Complete")) return { state: "complete", report: parseReport(term?.message) };
  const failed = cond("Failed");
  if (failed) {
    const r = parseReport(term?.message);
    const reason = typeof r.reason === "string" ? r.reason : failed.reason === "DeadlineExceeded" ? Reason.ToolJobTimeout : Reason.ToolJobFailed;
    const message = typeof r.message === "string" ? r.message : `Job ${j.metadata?.name} failed (${failed.reason ?? "unknown"}: ${failed.message ?? term?.message?.slice(-300) ?? "no message"}): see its pod's log`;
    return { state: "failed", reason, message };
  }
  // A pod that never starts (missing PVC, image, Secret) fails the Job after podStartMs.
  const created = Date.parse(String(j.metadata?.creationTimestamp ?? ""));
  const started = o.pods.some((p) => p.status?.containerStatuses?.some((c) => c.state?.running || c.state?.terminated));
  if (!started && Number.isFinite(created) && now.getTime() - created > podStartMs) {
    const waiting = o.pods.flatMap((p) => p.status?.containerStatuses?.map((c) => c.state?.waiting?.message ?? c.state?.waiting?.reason) ?? []).find((m) => m);
    const unsched = o.pods.flatMap((p) => p.status?.conditions ?? []).find((c) => c.type === "PodScheduled" && c.status === "False")?.message;
    return { state: "failed", reason: Reason.ToolJobTimeout, message: `the pod of Job ${j.metadata?.name} did not start within ${podStartMs / 1000}s${waiting || unsched ? `: ${waiting ?? unsched}` : ""}: check its PVCs, image and node` };
  }
  return { state: "running" };
}

/** The CR's one current condition (these CRs keep a single one, as the upstream operator does). */
export function condition(type: string, status: "True" | "False", reason: string, message: string, now: Date): Condition {
  return setCondition<Condition>([], { type, status, reason, message }, now)[0]!;
}

export type Step = "ensureRbac" | "ensureTools" | "ensureDestination" | "ensurePolicy" | "createBackup" | "createJob" | "createRestoreJob";

export interface Decision<S> {
  steps: Step[];
  status?: S;
  event?: { type: "Normal" | "Warning"; reason: string; message: string };
  requeueAfterMs?: number;
}

export const done = (s: { completed?: boolean; failureReason?: string }): boolean => s.completed === true || !!s.failureReason;

export function failedStatus<S extends { conditions?: Condition[]; failureReason?: string }>(s: S, reason: string, message: string, now: Date): S {
  return { ...s, failureReason: `${reason}: ${message}`, conditions: [condition("Failed", "True", reason, message, now)] };
}

/**
 * Why a generic Backup/RestoreJob failed: the tool's own {reason, message} (its termination
 * message) when it reported one, else the generic failureReason "<Reason>: <message>".
 */
export function failureOf(report: Record<string, unknown> | undefined, failureReason: string | undefined, fallback: string): { reason: string; message: string } {
  if (typeof report?.reason === "string" && typeof report.message === "string") return { reason: report.reason, message: report.message };
  const m = /^([A-Za-z]+): ([\s\S]*)$/.exec(failureReason ?? "");
  if (m) return { reason: m[1]!, message: m[2]! };
  return { reason: fallback, message: failureReason || "no reason recorded" };
}

/** Bounded waits: how long a generic child may run before the CR gives up on it. */
export function overdue(startTime: string | undefined, now: Date, deadlineMs: number): boolean {
  const t = Date.parse(startTime ?? "");
  return Number.isFinite(t) && now.getTime() - t > deadlineMs;
}
