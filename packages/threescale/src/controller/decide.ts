// Pure state machines of APIManagerBackup and APIManagerRestore over their tool Job.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import type { APIManagerBackupStatus, APIManagerRestoreStatus, Condition } from "@dataprotection/api";
import { selectAPIManager, type APIManagerObject } from "../tool/apimanager.ts";
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

function parseReport(msg: string | undefined): Record<string, unknown> {
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

export function condition(type: string, status: "True" | "False", reason: string, message: string, now: Date): Condition {
  return { type, status, reason, message, lastTransitionTime: now.toISOString() } as Condition;
}

export type Step = "ensureRbac" | "ensureDestination" | "createJob";

export interface Decision<S> {
  steps: Step[];
  status?: S;
  event?: { type: "Normal" | "Warning"; reason: string; message: string };
  requeueAfterMs?: number;
}

export interface BackupObservation {
  name: string;
  namespace: string;
  status: APIManagerBackupStatus;
  apiManagerName?: string;
  apimanagers: APIManagerObject[];
  job: JobObservation;
  pvcName: string;
  now: Date;
  podStartMs: number;
}

const done = (s: { completed?: boolean; failureReason?: string }) => s.completed === true || !!s.failureReason;

function failedStatus<S extends { conditions?: Condition[]; failureReason?: string; completionTime?: string }>(s: S, reason: string, message: string, now: Date): S {
  return { ...s, failureReason: `${reason}: ${message}`, conditions: [condition("Failed", "True", reason, message, now)] };
}

export function decideBackup(o: BackupObservation): Decision<APIManagerBackupStatus> {
  const s = o.status;
  if (done(s)) return { steps: [] };
  const now = o.now;
  const start = s.startTime ? {} : { startTime: now.toISOString() };
  const js = jobState(o.job, now, o.podStartMs);
  if (js.state === "absent") {
    const sel = selectAPIManager(o.apimanagers, o.namespace, o.apiManagerName);
    if (!sel.ok) {
      return { steps: [], status: failedStatus({ ...s, ...start, completed: false }, sel.reason, sel.message, now), event: { type: "Warning", reason: sel.reason, message: sel.message } };
    }
    const amName = sel.apimanager.metadata.name!;
    const msg = `backing up APIManager "${amName}" to PersistentVolumeClaim "${o.pvcName}"`;
    return {
      steps: ["ensureRbac", "ensureDestination", "createJob"],
      status: { ...s, ...start, completed: false, apiManagerSourceName: amName, backupPersistentVolumeClaimName: o.pvcName, mainStepsCompleted: { ...s.mainStepsCompleted, destinationCreated: true }, conditions: [condition("Running", "True", Reason.BackupStarted, msg, now)] },
      event: { type: "Normal", reason: Reason.BackupStarted, message: msg },
    };
  }
  if (js.state === "running") return { steps: [], requeueAfterMs: 5_000 };
  if (js.state === "failed") {
    return { steps: [], status: failedStatus({ ...s, completed: false }, js.reason, js.message, now), event: { type: "Warning", reason: Reason.BackupFailed, message: `${js.reason}: ${js.message}` } };
  }
  const msg = `APIManager "${s.apiManagerSourceName}" backed up to PersistentVolumeClaim "${o.pvcName}"`;
  return {
    steps: [],
    status: {
      ...s, completed: true, completionTime: now.toISOString(),
      mainStepsCompleted: { ...s.mainStepsCompleted, secretsBackedUp: true, configMapsBackedUp: true, apiManagerBackedUp: true, systemFileStorageBackedUp: true },
      conditions: [condition("Completed", "True", Reason.BackupCompleted, msg, now)],
    },
    event: { type: "Normal", reason: Reason.BackupCompleted, message: msg },
  };
}

export interface RestoreObservation {
  name: string;
  namespace: string;
  status: APIManagerRestoreStatus;
  /** The PVC holding the backup, or why there is none. */
  source: { ok: true; claimName: string } | { ok: false; reason: string; message: string; wait?: boolean };
  apimanagers: APIManagerObject[];
  job: JobObservation;
  now: Date;
  podStartMs: number;
}

export function decideRestore(o: RestoreObservation): Decision<APIManagerRestoreStatus> {
  const s = o.status;
  if (done(s)) return { steps: [] };
  const now = o.now;
  const start = s.startTime ? {} : { startTime: now.toISOString() };
  const js = jobState(o.job, now, o.podStartMs);
  if (js.state === "absent") {
    if (!o.source.ok) {
      const src = o.source;
      return { steps: [], status: failedStatus({ ...s, ...start, completed: false }, src.reason, src.message, now), event: { type: "Warning", reason: src.reason, message: src.message } };
    }
    if (o.apimanagers.length > 0) {
      const msg = `APIManager ${o.apimanagers.map((a) => `"${a.metadata.name}"`).join(", ")} already exists in namespace ${o.namespace}: restore into a namespace without an APIManager (or delete it first)`;
      return { steps: [], status: failedStatus({ ...s, ...start, completed: false }, Reason.APIManagerExists, msg, now), event: { type: "Warning", reason: Reason.APIManagerExists, message: msg } };
    }
    const msg = `restoring from PersistentVolumeClaim "${o.source.claimName}"`;
    return {
      steps: ["ensureRbac", "createJob"],
      status: { ...s, ...start, completed: false, conditions: [condition("Running", "True", Reason.RestoreStarted, msg, now)] },
      event: { type: "Normal", reason: Reason.RestoreStarted, message: msg },
    };
  }
  if (js.state === "running") return { steps: [], requeueAfterMs: 5_000 };
  if (js.state === "failed") {
    return { steps: [], status: failedStatus({ ...s, completed: false }, js.reason, js.message, now), event: { type: "Warning", reason: Reason.RestoreFailed, message: `${js.reason}: ${js.message}` } };
  }
  const am = typeof js.report.apiManager === "string" ? js.report.apiManager : undefined;
  const msg = `APIManager "${am}" restored${js.report.resynced ? " and routes resynced" : ""}`;
  return {
    steps: [],
    status: {
      ...s, completed: true, completionTime: now.toISOString(), apiManagerToRestoreRef: { name: am },
      mainStepsCompleted: { ...s.mainStepsCompleted, secretsRestored: true, configMapsRestored: true, systemFileStorageRestored: true, apiManagerRestored: true, apiManagerReady: true, routesResynced: js.report.resynced === true },
      conditions: [condition("Completed", "True", Reason.RestoreCompleted, msg, now)],
    },
    event: { type: "Normal", reason: Reason.RestoreCompleted, message: msg },
  };
}
