// Shared by the APIManagerBackup/Restore decisions: the plugin's options, the prerequisites and
// creates both start with, the direct tool Job's state, reports, conditions.
import type { V1ConfigMap, V1Job, V1PersistentVolumeClaim, V1Pod, V1Secret } from "@kubernetes/client-node";
import { Kinds, type BackupTool, type Condition } from "@dataprotection/api";
import { setCondition, type Decision, type Kind } from "@dataprotection/runtime";
import { threescaleToolFor, toolRbac } from "../tool/definition.ts";
import { Reason } from "../tool/reasons.ts";

export interface ThreescaleOptions {
  /** How long a restore waits for system-sidekiq to be ready (s). */
  readyTimeoutSeconds?: number;
  /** Hard bound on a tool Job, and on the generic Backup/RestoreJob a CR waits for (s). */
  jobDeadlineSeconds?: number;
  image?: string;
  /** Extra env for tool pods (e.g. THREESCALE_POLL_MS in tests): set on the BackupTools the plugin installs. */
  env?: Array<{ name: string; value: string }>;
  /** The chart's ClusterRole for the tool (`<release>-threescale-tool`); default TOOL_CLUSTER_ROLE. */
  toolClusterRole?: string;
}

export const jobDeadlineSeconds = (o: ThreescaleOptions): number => o.jobDeadlineSeconds ?? 7200;

/**
 * What the shell ensures before the creates, reading first: a BackupTool is created or its spec
 * brought back to this one; the destination PVC is created once (with an Event), never updated.
 */
export type Prereq =
  | { ensure: "tool"; tool: BackupTool }
  | { ensure: "destination"; claim: V1PersistentVolumeClaim }
  /** includeDatabases: an endpoint Secret is created or its data brought back to this one. */
  | { ensure: "secret"; secret: V1Secret }
  /** A restore holding databases the APIManager runs: its gate (tool/gate.ts) created, or its data set to this. */
  | { ensure: "gate"; configMap: V1ConfigMap };

export type ThreescaleDecision<S> = Decision<S, Prereq>;

/** The plugin's two BackupTools (agent and plain), with this operator's image and env. */
export function toolPrereqs(o: ThreescaleOptions): Prereq[] {
  const ready = o.readyTimeoutSeconds ? [{ name: "THREESCALE_READY_TIMEOUT_SECONDS", value: String(o.readyTimeoutSeconds) }] : [];
  return [false, true].map((plain) => ({ ensure: "tool", tool: threescaleToolFor({ plain, image: o.image, env: [...ready, ...(o.env ?? [])] }) }));
}

/** The tool's ServiceAccount and RoleBinding in the CR's namespace. */
export function rbacCreates(namespace: string, o: ThreescaleOptions): Array<{ kind: Kind; object: object }> {
  const r = toolRbac(namespace, o.toolClusterRole);
  return [{ kind: Kinds.ServiceAccount, object: r.serviceAccount }, { kind: Kinds.RoleBinding, object: r.roleBinding }];
}

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

/**
 * These CRs keep a single condition, as the upstream operator does: `c` replaces whatever was
 * there, keeping the transition time of a previous condition of its type and status.
 */
export function onlyCondition(list: Condition[] | undefined, c: Omit<Condition, "lastTransitionTime">, now: Date): Condition[] {
  return setCondition(list?.filter((x) => x.type === c.type), c, now);
}

export const done = (s: { completed?: boolean; failureReason?: string }): boolean => s.completed === true || !!s.failureReason;

export function failedStatus<S extends { conditions?: Condition[]; failureReason?: string }>(s: S, reason: string, message: string, now: Date): S {
  return { ...s, failureReason: `${reason}: ${message}`, conditions: onlyCondition(s.conditions, { type: "Failed", status: "True", reason, message }, now) };
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
