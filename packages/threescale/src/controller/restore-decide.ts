// Pure state machine of an APIManagerRestore. From an APIManagerBackup with a generic Backup: a
// RestoreJob (the tool's logical restore), mirrored; when that backup holds databases
// (includeDatabases), their RestoreJobs first (restore-databases.ts), and the APIManager's only
// once every one completed. From a bare PVC (the upstream operator's, or one moved to another
// namespace): no Backup object exists for a RestoreJob to name, so the tool runs in a Job of its
// own (see README.md).
import { Kinds, RestoreJobPhase, type APIManagerRestoreStatus, type RestoreJob } from "@dataprotection/api";
import type { Kind } from "@dataprotection/runtime";
import type { APIManagerObject } from "../tool/apimanager.ts";
import { Reason } from "../tool/reasons.ts";
import { buildRestoreJob, buildToolJob } from "./build.ts";
import { endpointSecretDeletes, type ToolsFound } from "./databases.ts";
import {
  done, failedStatus, failureOf, jobDeadlineSeconds, jobState, onlyCondition, overdue, rbacCreates, toolPrereqs,
  type JobObservation, type ThreescaleDecision, type ThreescaleOptions,
} from "./decide.ts";
import { locateComponents, type ComponentName, type ThreescaleSecrets } from "./endpoints.ts";
import { importedStatus, importsState, type ImportObservation } from "./restore-import.ts";
import { componentRestoresState, pendingRestoreCreates, planComponentRestores, type BackedUpComponent, type ComponentRestoreObservation } from "./restore-databases.ts";

export type RestoreSource =
  | { ok: true; kind: "pvc"; claimName: string; readOnly?: boolean }
  /** `imported`: the Backups were imported from a repo (restore-import.ts). */
  | { ok: true; kind: "backup"; backupName: string; apiManager?: string; databases?: BackedUpComponent[]; imported?: boolean }
  /** restoreSource.backupRepo before every import completed: the imports observed so far. */
  | { ok: true; kind: "importing"; repo: string; imports: ImportObservation[] }
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
  /** A backup with databases, before their restores start: the 3scale Secrets, decoded. */
  secrets?: ThreescaleSecrets;
  /** A backup with databases, before their restores start: the built-in tools found, by name. */
  tools?: ToolsFound;
  /** A backup with databases, once started: the RestoreJob of each component in status.databases. */
  components?: ComponentRestoreObservation[];
  /** Another APIManagerBackup/Restore of the namespace using the endpoint Secrets (they are per namespace). */
  busyWith?: string;
  now: Date;
  podStartMs: number;
  options: ThreescaleOptions;
}

type RestoreDecision = ThreescaleDecision<APIManagerRestoreStatus>;

const RESTORED = { secretsRestored: true, configMapsRestored: true, systemFileStorageRestored: true, apiManagerRestored: true, apiManagerReady: true };

/** The endpoint Secrets of the components this restore started (they hold credentials): deleted when it ends. */
function cleanup(o: RestoreObservation): Array<{ kind: Kind; name: string; namespace: string }> {
  return endpointSecretDeletes(o.namespace, (o.status.databases ?? []).map((d) => d.name as ComponentName));
}

function fail(o: RestoreObservation, reason: string, message: string, event = reason): RestoreDecision {
  const start = o.status.startTime ? {} : { startTime: o.now.toISOString() };
  const deletes = cleanup(o);
  return { status: failedStatus({ ...o.status, ...start, completed: false }, reason, message, o.now), events: [{ type: "Warning", reason: event, message: `${reason}: ${message}` }], ...(deletes.length ? { deletes } : {}) };
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

const databasesOf = (src: RestoreSource): BackedUpComponent[] => (src.ok && src.kind === "backup" ? src.databases ?? [] : []);

/** Preconditions every start shares: a usable source, no APIManager in the namespace. */
function precondition(o: RestoreObservation): RestoreDecision | undefined {
  const src = o.source;
  if (!src.ok) return fail(o, src.reason, src.message, src.reason);
  if (o.apimanagers.length > 0) {
    const msg = `APIManager ${o.apimanagers.map((a) => `"${a.metadata.name}"`).join(", ")} already exists in namespace ${o.namespace}: restore into a namespace without an APIManager (or delete it first)`;
    return fail(o, Reason.APIManagerExists, msg, Reason.APIManagerExists);
  }
  return undefined;
}

/** A backup with databases: locates each component again and starts all their RestoreJobs together. */
function startDatabases(o: RestoreObservation, dbs: BackedUpComponent[]): RestoreDecision {
  const pre = precondition(o);
  if (pre) return pre;
  if (o.busyWith) {
    const message = `waiting for ${o.busyWith}, which is using this namespace's database endpoint Secrets`;
    return { status: { ...o.status, conditions: onlyCondition(o.status.conditions, { type: "Running", status: "False", reason: Reason.WaitingForBackup, message }, o.now) }, requeueAfterMs: 10_000 };
  }
  const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
  const plan = planComponentRestores(cr, dbs, locateComponents(o.namespace, o.secrets ?? {}), o.tools ?? {});
  if (!plan.ok) return fail(o, plan.reason, `includeDatabases: component ${plan.component}: ${plan.message}; nothing was restored`);
  const message = `restoring the databases (${plan.entries.map((e) => e.name).join(", ")}), then the APIManager's Secrets, ConfigMaps, FileStorage and object`;
  return {
    prepare: plan.prepare,
    creates: plan.creates,
    status: {
      ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false, databases: plan.entries,
      conditions: onlyCondition(o.status.conditions, { type: "Running", status: "True", reason: Reason.RestoreStarted, message }, o.now),
    },
    events: [{ type: "Normal", reason: Reason.RestoreStarted, message }],
    requeueAfterMs: 5_000,
  };
}

/**
 * The databases' RestoreJobs once started: a failed or late one fails the restore before the
 * APIManager is touched, running ones are waited for (a decision either way); all completed:
 * the status with the step recorded and its Event, for the APIManager's restore to start from.
 */
function followDatabases(o: RestoreObservation): { decision: RestoreDecision } | { status: APIManagerRestoreStatus; events: RestoreDecision["events"] } {
  const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
  const cs = componentRestoresState(cr, o.components ?? []);
  const status = { ...o.status, databases: cs.entries };
  const here = { ...o, status };
  if (cs.state === "failed") {
    return { decision: fail(here, Reason.DatabaseRestoreFailed, `includeDatabases: component ${cs.component}: ${cs.message}; the APIManager was not restored (fix the database, delete this APIManagerRestore and create a new one)`) };
  }
  if (cs.state === "running") {
    const deadlineMs = jobDeadlineSeconds(o.options) * 1000;
    if (overdue(o.status.startTime, o.now, deadlineMs)) {
      const pending = cs.entries.filter((e) => e.phase !== RestoreJobPhase.Completed).map((e) => e.name).join(", ");
      return { decision: fail(here, Reason.ToolJobTimeout, `the database RestoreJobs (${pending}) are not completed after ${Math.round(deadlineMs / 1000)}s: check their Jobs and pods; the APIManager was not restored`, Reason.RestoreFailed) };
    }
    const creates = pendingRestoreCreates(cr, o.components ?? []);
    return { decision: { ...(creates.length ? { creates } : {}), ...(JSON.stringify(status) !== JSON.stringify(o.status) ? { status } : {}), requeueAfterMs: 5_000 } };
  }
  const names = cs.entries.map((e) => e.name).join(", ");
  return {
    status: { ...status, mainStepsCompleted: { ...o.status.mainStepsCompleted, databasesRestored: true } },
    events: [{ type: "Normal", reason: Reason.DatabasesRestored, message: `databases restored (${names}): restoring the APIManager's Secrets, ConfigMaps, FileStorage and object` }],
  };
}

function start(o: RestoreObservation): RestoreDecision {
  const pre = precondition(o);
  if (pre) return pre;
  const src = o.source as Extract<RestoreSource, { kind: "pvc" | "backup" }>;
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
    events: o.status.startTime ? [] : [{ type: "Normal", reason: Reason.RestoreStarted, message: msg }],
    requeueAfterMs: 5_000,
  };
}

/** restoreSource.backupRepo: the imports first (restore-import.ts), all before anything is restored. */
function followImports(o: RestoreObservation, src: Extract<RestoreSource, { kind: "importing" }>): RestoreDecision {
  const pre = precondition(o);
  if (pre) return pre;
  const st = importsState({ name: o.name, namespace: o.namespace, uid: o.uid }, src.repo, src.imports);
  if (st.state === "failed") return fail(o, st.reason, st.message, Reason.RestoreFailed);
  if (st.state === "completed") return { requeueAfterMs: 1_000 };
  const deadlineMs = jobDeadlineSeconds(o.options) * 1000;
  if (overdue(o.status.startTime, o.now, deadlineMs)) return fail(o, Reason.ToolJobTimeout, `the imports from BackupRepo "${src.repo}" are not completed after ${Math.round(deadlineMs / 1000)}s: check their Backups' Jobs`, Reason.RestoreFailed);
  const status: APIManagerRestoreStatus = {
    ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false,
    conditions: onlyCondition(o.status.conditions, { type: "Running", status: "True", reason: Reason.ImportStarted, message: st.message }, o.now),
  };
  return {
    ...(st.creates.length ? { creates: st.creates } : {}),
    ...(JSON.stringify(status) !== JSON.stringify(o.status) ? { status } : {}),
    events: o.status.startTime ? [] : [{ type: "Normal", reason: Reason.ImportStarted, message: st.message }],
    requeueAfterMs: 5_000,
  };
}

export function decideRestore(o: RestoreObservation): RestoreDecision {
  if (done(o.status)) return {};
  if (o.source.ok && o.source.kind === "importing") return followImports(o, o.source);
  if (o.source.ok && o.source.kind === "backup" && o.source.imported && !o.status.mainStepsCompleted?.backupsImported) {
    const message = `imported the APIManager's backup${o.source.databases?.length ? ` and its databases (${o.source.databases.map((d) => d.name).join(", ")})` : ""}: restoring as from an APIManagerBackup`;
    return { status: importedStatus(o.status), events: [{ type: "Normal", reason: Reason.BackupsImported, message }], requeueAfterMs: 1_000 };
  }
  const dbs = databasesOf(o.source);
  if (dbs.length && !o.status.mainStepsCompleted?.databasesRestored) {
    if (!o.status.databases) return startDatabases(o, dbs);
    const f = followDatabases(o);
    if ("decision" in f) return f.decision;
    // Databases done: their endpoint Secrets go, and the APIManager's restore starts.
    const d = start({ ...o, status: f.status });
    return { ...d, events: [...(f.events ?? []), ...(d.events ?? [])], deletes: d.deletes ?? cleanup(o) };
  }
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
