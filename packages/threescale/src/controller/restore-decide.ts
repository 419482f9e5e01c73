// Pure state machine of an APIManagerRestore. From an APIManagerBackup with a generic Backup: a
// RestoreJob (the tool's logical restore), mirrored; when that backup holds databases
// (includeDatabases), their RestoreJobs first (restore-databases.ts), and the APIManager's only
// once every one completed. Databases the APIManager runs itself (runByAPIManager) are restored
// once the restored APIManager runs their servers, while its tool holds the routes resync at
// the restore gate (tool/gate.ts). From a bare PVC (the upstream operator's, or one moved to another
// namespace): no Backup object exists for a RestoreJob to name, so the tool runs in a Job of its
// own (see README.md).
import { Kinds, RestoreJobPhase, type APIManagerRestoreStatus, type RestoreJob } from "@dataprotection/api";
import type { Kind } from "@dataprotection/runtime";
import type { APIManagerObject } from "../tool/apimanager.ts";
import { Reason } from "../tool/reasons.ts";
import { GateState, restoreGateName } from "../tool/gate.ts";
import { buildRestoreJob, buildToolJob, genericRestoreName } from "./build.ts";
import { endpointSecretDeletes, type ToolsFound } from "./databases.ts";
import {
  done, failedStatus, failureOf, jobDeadlineSeconds, jobState, onlyCondition, overdue, rbacCreates, toolPrereqs,
  type JobObservation, type Prereq, type ThreescaleDecision, type ThreescaleOptions,
} from "./decide.ts";
import { locateComponents, type ComponentName, type ThreescaleSecrets } from "./endpoints.ts";
import { importedStatus, importsState, type ImportObservation } from "./restore-import.ts";
import {
  componentRestoresState, laterDatabases, laterEntry, laterPending, pendingRestoreCreates, planComponentRestores, readyForRestore, restoreEntry, restoreGate,
  type BackedUpComponent, type ComponentRestoreObservation,
} from "./restore-databases.ts";

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
  /**
   * Once the APIManager's RestoreJob runs, while a database it runs has no RestoreJob: the 3scale
   * Secrets (restored by then) and the built-in tools, to start its restore when its server is ready.
   */
  laterSecrets?: ThreescaleSecrets;
  laterTools?: ToolsFound;
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

const crOf = (o: RestoreObservation) => ({ name: o.name, namespace: o.namespace, uid: o.uid });

/** The restore gate in `state` (tool/gate.ts), as a prerequisite: set before the status that follows from it. */
function gate(o: RestoreObservation, state: GateState, message = ""): Prereq {
  return { ensure: "gate", configMap: restoreGate(crOf(o), genericRestoreName(o.name), laterDatabases(o.status).map((d) => d.name), state, message) };
}

function fail(o: RestoreObservation, reason: string, message: string, event = reason): RestoreDecision {
  const start = o.status.startTime ? {} : { startTime: o.now.toISOString() };
  const deletes = cleanup(o);
  // A tool waiting at the gate stops at once, naming why (not at its own deadline).
  const closed = laterPending(o.status) ? { prepare: [gate(o, GateState.Failed, `APIManagerRestore "${o.namespace}/${o.name}" failed: ${reason}: ${message}`)] } : {};
  return {
    ...closed,
    status: failedStatus({ ...o.status, ...start, completed: false }, reason, message, o.now), events: [{ type: "Warning", reason: event, message: `${reason}: ${message}` }], ...(deletes.length ? { deletes } : {}),
  };
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
  const cr = crOf(o);
  const first = dbs.filter((d) => !d.runByAPIManager);
  const later = dbs.filter((d) => d.runByAPIManager);
  const then = later.length ? `, then the databases it runs (${later.map((d) => d.name).join(", ")}) once it runs them, then the routes resync` : "";
  if (!first.length) {
    // Nothing before the APIManager: its restore starts now.
    const entries = later.map((d) => laterEntry(cr, d));
    return start({ ...o, status: { ...o.status, databases: entries, mainStepsCompleted: { ...o.status.mainStepsCompleted, databasesRestored: true } } });
  }
  const located = locateComponents(o.namespace, o.secrets ?? {}, new Set(later.map((d) => d.name as ComponentName)));
  const plan = planComponentRestores(cr, first, located, o.tools ?? {});
  if (!plan.ok) return fail(o, plan.reason, `includeDatabases: component ${plan.component}: ${plan.message}; nothing was restored`);
  const entries = dbs.map((d) => (d.runByAPIManager ? laterEntry(cr, d) : plan.entries.find((e) => e.name === d.name)!));
  const message = `restoring the databases (${plan.entries.map((e) => e.name).join(", ")}), then the APIManager's Secrets, ConfigMaps, FileStorage and object${then}`;
  return {
    prepare: plan.prepare,
    creates: plan.creates,
    status: {
      ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false, databases: entries,
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
  const cr = crOf(o);
  const comps = o.components ?? [];
  const cs = componentRestoresState(cr, comps.filter((c) => !c.entry.runByAPIManager));
  const status = { ...o.status, databases: comps.map(restoreEntry) };
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
    const creates = pendingRestoreCreates(cr, comps.filter((c) => !c.entry.runByAPIManager));
    return { decision: { ...(creates.length ? { creates } : {}), ...(JSON.stringify(status) !== JSON.stringify(o.status) ? { status } : {}), requeueAfterMs: 5_000 } };
  }
  const names = cs.entries.map((e) => e.name).join(", ");
  const later = laterDatabases(o.status).map((d) => d.name);
  return {
    status: { ...status, mainStepsCompleted: { ...o.status.mainStepsCompleted, databasesRestored: true } },
    events: [{ type: "Normal", reason: Reason.DatabasesRestored, message: `databases restored (${names}): restoring the APIManager's Secrets, ConfigMaps, FileStorage and object${later.length ? `; then the databases it runs (${later.join(", ")})` : ""}` }],
  };
}

/**
 * While the APIManager's RestoreJob runs (its tool holding the resync at the gate): each database
 * the APIManager runs is restored once the APIManager reports its Deployment ready; any failure
 * fails the restore and closes the gate; all completed: the gate opens (the resync runs).
 */
function followLater(o: RestoreObservation): RestoreDecision {
  const cr = crOf(o);
  const comps = o.components ?? [];
  const later = comps.filter((c) => c.entry.runByAPIManager);
  const cs = componentRestoresState(cr, later);
  const status: APIManagerRestoreStatus = { ...o.status, databases: comps.map(restoreEntry) };
  const here = { ...o, status };
  const restored = "the APIManager was restored; its routes were not resynced";
  if (cs.state === "failed") return fail(here, Reason.DatabaseRestoreFailed, `includeDatabases: component ${cs.component}: ${cs.message}; ${restored}`);
  if (cs.state === "completed") {
    const names = later.map((c) => c.entry.name).join(", ");
    return {
      prepare: [gate(here, GateState.Restored)],
      status: { ...status, mainStepsCompleted: { ...status.mainStepsCompleted, apiManagerDatabasesRestored: true } },
      events: [{ type: "Normal", reason: Reason.DatabasesRestored, message: `the databases the APIManager runs restored (${names}): resyncing the routes` }],
      requeueAfterMs: 5_000,
    };
  }
  const deadlineMs = jobDeadlineSeconds(o.options) * 1000;
  if (overdue(o.status.startTime, o.now, deadlineMs)) {
    const pending = later.filter((c) => c.restoreJob?.status?.phase !== RestoreJobPhase.Completed).map((c) => c.entry.name).join(", ");
    return fail(here, Reason.ToolJobTimeout, `the databases the APIManager runs (${pending}) are not restored after ${Math.round(deadlineMs / 1000)}s: check that the APIManager runs them (status.deployments) and their RestoreJobs; ${restored}`, Reason.RestoreFailed);
  }
  const src = o.source.ok && o.source.kind === "backup" ? o.source : undefined;
  const am = o.apimanagers.find((a) => a.metadata.name === src?.apiManager) ?? (o.apimanagers.length === 1 ? o.apimanagers[0] : undefined);
  const ready = readyForRestore(later, am);
  if (!ready.length) return { ...(JSON.stringify(status) !== JSON.stringify(o.status) ? { status } : {}), requeueAfterMs: 5_000 };
  const first = new Set((o.status.databases ?? []).filter((d) => !d.runByAPIManager).map((d) => d.name as ComponentName));
  const plan = planComponentRestores(cr, ready, locateComponents(o.namespace, o.laterSecrets ?? {}, first), o.laterTools ?? {});
  if (!plan.ok) return fail(here, plan.reason, `includeDatabases: component ${plan.component}: ${plan.message}; ${restored}`);
  const message = `the APIManager runs ${plan.entries.map((e) => e.name).join(", ")}: restoring ${plan.entries.length === 1 ? "it" : "them"} before the routes resync`;
  return {
    prepare: plan.prepare,
    creates: plan.creates,
    status: { ...status, databases: (status.databases ?? []).map((d) => ({ ...d, ...(plan.entries.find((e) => e.name === d.name) ?? {}) })) },
    events: [{ type: "Normal", reason: Reason.RestoreStarted, message }],
    requeueAfterMs: 5_000,
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
  // The gate exists before the RestoreJob whose tool reads it.
  const held = src.kind === "backup" && laterPending(o.status) ? [gate(o, GateState.Waiting)] : [];
  return {
    // The direct Job runs the tool image itself: only a RestoreJob goes through the BackupTools.
    prepare: src.kind === "pvc" ? [] : [...toolPrereqs(o.options), ...held],
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
    const waiting = laterPending(o.status);
    if (phase === RestoreJobPhase.Completed && waiting) {
      return fail(o, Reason.DatabaseRestoreFailed, `RestoreJob "${o.namespace}/${rj.metadata.name}" completed before the databases the APIManager runs (${laterDatabases(o.status).map((d) => d.name).join(", ")}) were restored (its restore gate was gone): restore them by hand and resync the routes`);
    }
    if (phase === RestoreJobPhase.Completed) {
      const d = completed(o, o.toolReport ?? {}, o.source.ok && o.source.kind === "backup" ? o.source.apiManager : undefined);
      if (!laterDatabases(o.status).length) return d;
      return { ...d, deletes: [...cleanup(o), { kind: Kinds.ConfigMap, name: restoreGateName(genericRestoreName(o.name)), namespace: o.namespace }] };
    }
    if (phase === RestoreJobPhase.Failed) {
      const f = failureOf(o.toolReport, rj.status?.failureReason, Reason.ToolJobFailed);
      return fail(o, f.reason, f.message, Reason.RestoreFailed);
    }
    if (waiting) return followLater(o);
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
