// Pure state machine of an APIManagerRestore. From an APIManagerBackup with a generic Backup: a
// RestoreJob (the tool's logical restore), mirrored. From a bare PVC (the upstream operator's, or
// one moved to another namespace): no Backup object exists for a RestoreJob to name, so the
// tool runs in a Job of its own (see README.md).
import { RestoreJobPhase, type APIManagerRestoreStatus, type RestoreJob } from "@dataprotection/api";
import type { APIManagerObject } from "../tool/apimanager.ts";
import { Reason } from "../tool/reasons.ts";
import { condition, done, failedStatus, failureOf, jobState, overdue, type Decision, type JobObservation } from "./decide.ts";

export type RestoreSource =
  | { ok: true; kind: "pvc"; claimName: string }
  | { ok: true; kind: "backup"; backupName: string; apiManager?: string }
  | { ok: false; reason: string; message: string };

export interface RestoreObservation {
  name: string;
  namespace: string;
  status: APIManagerRestoreStatus;
  source: RestoreSource;
  apimanagers: APIManagerObject[];
  /** The direct tool Job (PVC sources). */
  job: JobObservation;
  /** The generic RestoreJob (Backup sources), if this CR owns one. */
  restoreJob?: RestoreJob;
  /** The restore tool pod's termination message, parsed (RestoreJob path). */
  toolReport?: Record<string, unknown>;
  now: Date;
  podStartMs: number;
  deadlineMs: number;
}

const RESTORED = { secretsRestored: true, configMapsRestored: true, systemFileStorageRestored: true, apiManagerRestored: true, apiManagerReady: true };

function fail(o: RestoreObservation, reason: string, message: string, event = reason): Decision<APIManagerRestoreStatus> {
  const start = o.status.startTime ? {} : { startTime: o.now.toISOString() };
  return { steps: [], status: failedStatus({ ...o.status, ...start, completed: false }, reason, message, o.now), event: { type: "Warning", reason: event, message: `${reason}: ${message}` } };
}

function completed(o: RestoreObservation, report: Record<string, unknown>, fallbackName?: string): Decision<APIManagerRestoreStatus> {
  const am = typeof report.apiManager === "string" ? report.apiManager : fallbackName;
  const resynced = report.resynced === true;
  const msg = `APIManager "${am}" restored${resynced ? " and routes resynced" : ""}`;
  return {
    steps: [],
    status: {
      ...o.status, completed: true, completionTime: o.now.toISOString(), apiManagerToRestoreRef: { name: am },
      mainStepsCompleted: { ...o.status.mainStepsCompleted, ...RESTORED, routesResynced: resynced },
      conditions: [condition("Completed", "True", Reason.RestoreCompleted, msg, o.now)],
    },
    event: { type: "Normal", reason: Reason.RestoreCompleted, message: msg },
  };
}

function start(o: RestoreObservation): Decision<APIManagerRestoreStatus> {
  const src = o.source;
  if (!src.ok) return fail(o, src.reason, src.message, src.reason);
  if (o.apimanagers.length > 0) {
    const msg = `APIManager ${o.apimanagers.map((a) => `"${a.metadata.name}"`).join(", ")} already exists in namespace ${o.namespace}: restore into a namespace without an APIManager (or delete it first)`;
    return fail(o, Reason.APIManagerExists, msg, Reason.APIManagerExists);
  }
  const msg = src.kind === "pvc" ? `restoring from PersistentVolumeClaim "${src.claimName}"` : `restoring Backup "${src.backupName}" with a RestoreJob`;
  return {
    steps: src.kind === "pvc" ? ["ensureRbac", "createJob"] : ["ensureRbac", "ensureTools", "createRestoreJob"],
    status: { ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false, conditions: [condition("Running", "True", Reason.RestoreStarted, msg, o.now)] },
    event: o.status.startTime ? undefined : { type: "Normal", reason: Reason.RestoreStarted, message: msg },
    requeueAfterMs: 5_000,
  };
}

export function decideRestore(o: RestoreObservation): Decision<APIManagerRestoreStatus> {
  if (done(o.status)) return { steps: [] };
  const rj = o.restoreJob;
  if (rj) {
    const phase = rj.status?.phase;
    if (phase === RestoreJobPhase.Completed) return completed(o, o.toolReport ?? {}, o.source.ok && o.source.kind === "backup" ? o.source.apiManager : undefined);
    if (phase === RestoreJobPhase.Failed) {
      const f = failureOf(o.toolReport, rj.status?.failureReason, Reason.ToolJobFailed);
      return fail(o, f.reason, f.message, Reason.RestoreFailed);
    }
    if (overdue(o.status.startTime, o.now, o.deadlineMs)) {
      return fail(o, Reason.ToolJobTimeout, `RestoreJob "${o.namespace}/${rj.metadata.name}" is still ${phase ?? "New"} after ${Math.round(o.deadlineMs / 1000)}s: check its Jobs and pods`, Reason.RestoreFailed);
    }
    return { steps: [], requeueAfterMs: 5_000 };
  }
  const js = jobState(o.job, o.now, o.podStartMs);
  if (js.state === "absent") return start(o);
  if (js.state === "running") return { steps: [], requeueAfterMs: 5_000 };
  if (js.state === "failed") return fail(o, js.reason, js.message, Reason.RestoreFailed);
  return completed(o, js.report);
}
