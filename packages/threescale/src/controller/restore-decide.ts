// Pure state machine of an APIManagerRestore. From an APIManagerBackup with a generic Backup: a
// RestoreJob (the tool's logical restore), mirrored. From a bare PVC (the upstream operator's, or
// one moved to another namespace): no Backup object exists for a RestoreJob to name, so the
// tool runs in a Job of its own (see README.md).
import { Kinds, RestoreJobPhase, type APIManagerRestoreStatus, type RestoreJob } from "@dataprotection/api";
import type { APIManagerObject } from "../tool/apimanager.ts";
import { Reason } from "../tool/reasons.ts";
import { buildRestoreJob, buildToolJob } from "./build.ts";
import {
  done, failedStatus, failureOf, jobDeadlineSeconds, jobState, onlyCondition, overdue, rbacCreates, toolPrereqs,
  type JobObservation, type ThreescaleDecision, type ThreescaleOptions,
} from "./decide.ts";

export type RestoreSource =
  | { ok: true; kind: "pvc"; claimName: string; readOnly?: boolean }
  | { ok: true; kind: "backup"; backupName: string; apiManager?: string; databases?: Array<{ name: string; backupName: string }> }
  | { ok: false; reason: string; message: string };

export interface RestoreObservation {
  name: string;
  namespace: string;
  uid: string;
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
  options: ThreescaleOptions;
}

type RestoreDecision = ThreescaleDecision<APIManagerRestoreStatus>;

const RESTORED = { secretsRestored: true, configMapsRestored: true, systemFileStorageRestored: true, apiManagerRestored: true, apiManagerReady: true };

function fail(o: RestoreObservation, reason: string, message: string, event = reason): RestoreDecision {
  const start = o.status.startTime ? {} : { startTime: o.now.toISOString() };
  return { status: failedStatus({ ...o.status, ...start, completed: false }, reason, message, o.now), events: [{ type: "Warning", reason: event, message: `${reason}: ${message}` }] };
}

function completed(o: RestoreObservation, report: Record<string, unknown>, fallbackName?: string): RestoreDecision {
  const am = typeof report.apiManager === "string" ? report.apiManager : fallbackName;
  const resynced = report.resynced === true;
  const msg = `APIManager "${am}" restored${resynced ? " and routes resynced" : ""}`;
  return {
    status: {
      ...o.status, completed: true, completionTime: o.now.toISOString(), apiManagerToRestoreRef: { name: am },
      mainStepsCompleted: { ...o.status.mainStepsCompleted, ...RESTORED, routesResynced: resynced },
      conditions: onlyCondition(o.status.conditions, { type: "Completed", status: "True", reason: Reason.RestoreCompleted, message: msg }, o.now),
    },
    events: [{ type: "Normal", reason: Reason.RestoreCompleted, message: msg }],
  };
}

/**
 * The restore side of includeDatabases is not built yet: a backup that holds databases says so
 * once, naming the Backups to restore them from, rather than restoring the APIManager silently
 * without them.
 */
function databasesNotRestored(src: RestoreSource): Array<{ type: "Warning"; reason: string; message: string }> {
  if (!src.ok || src.kind !== "backup" || !src.databases?.length) return [];
  const list = src.databases.map((d) => `${d.name} (Backup "${d.backupName}")`).join(", ");
  return [{ type: "Warning", reason: Reason.DatabasesNotRestored, message: `APIManagerRestore does not restore the backup's databases yet: restore ${list} with RestoreJobs first (README "Backing up 3scale entirely")` }];
}

function start(o: RestoreObservation): RestoreDecision {
  const src = o.source;
  if (!src.ok) return fail(o, src.reason, src.message, src.reason);
  if (o.apimanagers.length > 0) {
    const msg = `APIManager ${o.apimanagers.map((a) => `"${a.metadata.name}"`).join(", ")} already exists in namespace ${o.namespace}: restore into a namespace without an APIManager (or delete it first)`;
    return fail(o, Reason.APIManagerExists, msg, Reason.APIManagerExists);
  }
  const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
  const msg = src.kind === "pvc" ? `restoring from PersistentVolumeClaim "${src.claimName}"` : `restoring Backup "${src.backupName}" with a RestoreJob`;
  const run = src.kind === "pvc"
    ? {
      kind: Kinds.Job,
      object: buildToolJob({
        cr, claimName: src.claimName, readOnly: src.readOnly, deadlineSeconds: jobDeadlineSeconds(o.options), image: o.options.image,
        extraEnv: [{ name: "THREESCALE_READY_TIMEOUT_SECONDS", value: String(o.options.readyTimeoutSeconds ?? 1200) }, ...(o.options.env ?? [])],
      }),
    }
    : { kind: Kinds.RestoreJob, object: buildRestoreJob(cr, src.backupName) };
  return {
    // The direct Job runs the tool image itself: only a RestoreJob goes through the BackupTools.
    prepare: src.kind === "pvc" ? [] : toolPrereqs(o.options),
    creates: [...rbacCreates(o.namespace, o.options), run],
    status: {
      ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false,
      conditions: onlyCondition(o.status.conditions, { type: "Running", status: "True", reason: Reason.RestoreStarted, message: msg }, o.now),
    },
    events: o.status.startTime ? [] : [{ type: "Normal", reason: Reason.RestoreStarted, message: msg }, ...databasesNotRestored(src)],
    requeueAfterMs: 5_000,
  };
}

export function decideRestore(o: RestoreObservation): RestoreDecision {
  if (done(o.status)) return {};
  const rj = o.restoreJob;
  if (rj) {
    const phase = rj.status?.phase;
    if (phase === RestoreJobPhase.Completed) return completed(o, o.toolReport ?? {}, o.source.ok && o.source.kind === "backup" ? o.source.apiManager : undefined);
    if (phase === RestoreJobPhase.Failed) {
      const f = failureOf(o.toolReport, rj.status?.failureReason, Reason.ToolJobFailed);
      return fail(o, f.reason, f.message, Reason.RestoreFailed);
    }
    const deadlineMs = jobDeadlineSeconds(o.options) * 1000;
    if (overdue(o.status.startTime, o.now, deadlineMs)) {
      return fail(o, Reason.ToolJobTimeout, `RestoreJob "${o.namespace}/${rj.metadata.name}" is still ${phase ?? "New"} after ${Math.round(deadlineMs / 1000)}s: check its Jobs and pods`, Reason.RestoreFailed);
    }
    return { requeueAfterMs: 5_000 };
  }
  const js = jobState(o.job, o.now, o.podStartMs);
  if (js.state === "absent") return start(o);
  if (js.state === "running") return { requeueAfterMs: 5_000 };
  if (js.state === "failed") {
    const d = fail(o, js.reason, js.message, Reason.RestoreFailed);
    // A Job whose pod never started would keep a Pending pod (and its events) forever.
    const stuck = js.reason === Reason.ToolJobTimeout && o.job.job?.metadata?.name;
    return stuck ? { ...d, deletes: [...(d.deletes ?? []), { kind: Kinds.Job, name: stuck, namespace: o.namespace }] } : d;
  }
  return completed(o, js.report);
}
