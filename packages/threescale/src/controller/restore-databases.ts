// Pure: the database components of an APIManagerRestore whose backup was taken with
// spec.includeDatabases. Each is located again from the namespace's Secrets at restore time
// (the 3scale restore procedure has the user restore system-database, system-redis and
// backend-redis first; with zync-database, zync too) and restored by a generic RestoreJob of
// its component Backup, through the same endpoint tool. External ones all together and before
// the APIManager's own RestoreJob: a failed component stops the restore before the APIManager.
// Those the APIManager runs itself (runByAPIManager: its operator makes their servers) once the
// restored APIManager reports their Deployments ready, while its RestoreJob's tool holds the
// routes resync at the restore gate (tool/gate.ts) until they are restored.
import { DataProtectionAPIVersion, Kinds, LabelManagedBy, LabelThreescaleOwner, ManagedBy, RestoreJobPhase, type APIManagerRestoreComponentStatus, type APIManagerRestoreStatus, type RestoreJob } from "@dataprotection/api";
import type { V1ConfigMap } from "@kubernetes/client-node";
import { childName, labelValue, type Kind } from "@dataprotection/runtime";
import { componentDeployment, isDeploymentReady, type APIManagerObject } from "../tool/apimanager.ts";
import { GATE_COMPONENTS_KEY, GATE_MESSAGE_KEY, GATE_STATE_KEY, GateState, restoreGateName } from "../tool/gate.ts";
import { endpointPrereqs, type ToolsFound } from "./databases.ts";
import type { Prereq } from "./decide.ts";
import { componentToolName, type Component, type Located } from "./endpoints.ts";

/** A component as the APIManagerBackup's status.databases recorded it. */
export interface BackedUpComponent {
  name: string;
  engine?: string;
  backupName: string;
  backupToolName?: string;
  /** The APIManager runs it itself: restored once the restored APIManager reports its Deployment ready. */
  runByAPIManager?: boolean;
}

type CR = { name: string; namespace: string; uid: string };

/** What an APIManagerRestore makes (RestoreJobs, import Backups, the gate) is owned by it, as controller. */
export const restoreOwner = (cr: Pick<CR, "name" | "uid">) => [{ apiVersion: "apps.3scale.net/v1alpha1", kind: "APIManagerRestore", name: cr.name, uid: cr.uid, controller: true, blockOwnerDeletion: true }];

/** The databases the APIManager runs itself, as a restore's status.databases records them. */
export const laterDatabases = (s: APIManagerRestoreStatus): APIManagerRestoreComponentStatus[] => (s.databases ?? []).filter((d) => d.runByAPIManager);
/** Some of them are not restored yet (the gate still holds the tool's resync). */
export const laterPending = (s: APIManagerRestoreStatus): boolean => laterDatabases(s).length > 0 && !s.mainStepsCompleted?.apiManagerDatabasesRestored;

export const componentRestoreName = (cr: string, c: string): string => childName(cr, c);

/** The component's RestoreJob: its Backup, targetless (the endpoint tool reaches the server over DB_HOST). */
export function buildComponentRestoreJob(cr: CR, c: { name: string; backupName: string }): RestoreJob {
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "RestoreJob",
    metadata: {
      name: componentRestoreName(cr.name, c.name), namespace: cr.namespace,
      labels: { [LabelThreescaleOwner]: labelValue(cr.name), [LabelManagedBy]: ManagedBy, "app.kubernetes.io/component": c.name },
      ownerReferences: restoreOwner(cr),
    },
    spec: { backupJobName: c.backupName, target: { labelsSelector: {} }, targetVolumes: [], targetVolumeMounts: [] },
  } as RestoreJob;
}

export type ComponentRestorePlan =
  | { ok: true; prepare: Prereq[]; creates: Array<{ kind: Kind; object: object }>; entries: APIManagerRestoreComponentStatus[] }
  | { ok: false; reason: "DatabaseNotLocated" | "DatabaseToolNotFound"; component: string; message: string };

/** Why a component the backup holds is not among those the Secrets name now. */
function notLocatedHint(namespace: string, name: string): string {
  if (name === "zync-database") return `Secret "${namespace}/zync" has no DATABASE_URL: create the zync Secret (as backed up, naming the database to restore into) before the APIManagerRestore`;
  if (name === "backend-redis-queues") return `Secret "${namespace}/backend-redis" key REDIS_QUEUES_URL no longer names a server of its own: point it at the server to restore the queues into`;
  return `no Secret names it`;
}

/**
 * Starting the components' restores: per backed-up component, the endpoint the Secrets name
 * now (same engine as backed up), its tool and endpoint Secret, its RestoreJob.
 */
export function planComponentRestores(cr: CR, backedUp: BackedUpComponent[], located: Located, tools: ToolsFound): ComponentRestorePlan {
  if (!located.ok) return { ok: false, reason: "DatabaseNotLocated", component: located.component, message: located.message };
  const prepare: Prereq[] = [];
  const creates: Array<{ kind: Kind; object: object }> = [];
  const entries: APIManagerRestoreComponentStatus[] = [];
  for (const b of backedUp) {
    const c: Component | undefined = located.components.find((x) => x.name === b.name);
    if (!c) return { ok: false, reason: "DatabaseNotLocated", component: b.name, message: `it is in the backup, but ${notLocatedHint(cr.namespace, b.name)}` };
    if (b.engine && c.endpoint.engine !== b.engine) {
      return { ok: false, reason: "DatabaseNotLocated", component: b.name, message: `${c.source} names a ${c.endpoint.engine} server, and the backup holds a ${b.engine} database: point it at a ${b.engine} server` };
    }
    const tool = componentToolName(c.name, c.endpoint.engine);
    if (b.backupToolName && b.backupToolName !== tool) {
      return { ok: false, reason: "DatabaseToolNotFound", component: b.name, message: `its Backup "${cr.namespace}/${b.backupName}" was taken with BackupTool "${b.backupToolName}", not "${tool}" (an older version's tool): restore it with a RestoreJob by hand` };
    }
    const p = endpointPrereqs({ ...cr, kind: "APIManagerRestore" }, c, tools);
    if (!p.ok) return { ok: false, reason: "DatabaseToolNotFound", component: p.component, message: p.message };
    prepare.push(...p.prepare);
    creates.push({ kind: Kinds.RestoreJob, object: buildComponentRestoreJob(cr, b) });
    entries.push({ name: b.name, engine: c.endpoint.engine, backupName: b.backupName, restoreJobName: componentRestoreName(cr.name, b.name), ...(b.runByAPIManager ? { runByAPIManager: true } : {}) });
  }
  return { ok: true, prepare, creates, entries };
}

/** The status entry of a component the APIManager runs, before its server exists: restored later. */
export function laterEntry(cr: CR, b: BackedUpComponent): APIManagerRestoreComponentStatus {
  return { name: b.name, ...(b.engine ? { engine: b.engine } : {}), backupName: b.backupName, restoreJobName: componentRestoreName(cr.name, b.name), runByAPIManager: true };
}

/**
 * The components the APIManager runs whose RestoreJob was never observed and whose server the
 * restored APIManager reports ready (status.deployments.ready has its Deployment): to plan now.
 */
export function readyForRestore(comps: readonly ComponentRestoreObservation[], apimanager: APIManagerObject | undefined): BackedUpComponent[] {
  return comps
    .filter((c) => c.entry.runByAPIManager && !c.restoreJob && !c.entry.phase && isDeploymentReady(apimanager, componentDeployment(c.entry.name, c.entry.engine)))
    .map((c) => ({ name: c.entry.name, ...(c.entry.engine ? { engine: c.entry.engine } : {}), backupName: c.entry.backupName, runByAPIManager: true }));
}

/** The restore gate (tool/gate.ts) in `state`, owned by the APIManagerRestore: ensured (created, or its data set) as a prerequisite. */
export function restoreGate(cr: CR, restoreJobName: string, components: readonly string[], state: GateState, message = ""): V1ConfigMap {
  return {
    apiVersion: "v1", kind: "ConfigMap",
    metadata: {
      name: restoreGateName(restoreJobName), namespace: cr.namespace,
      labels: { [LabelThreescaleOwner]: labelValue(cr.name), [LabelManagedBy]: ManagedBy },
      ownerReferences: restoreOwner(cr),
    },
    data: { [GATE_STATE_KEY]: state, [GATE_COMPONENTS_KEY]: components.join(", "), [GATE_MESSAGE_KEY]: message },
  };
}

/** A component RestoreJob as observed: absent, or present and whether this CR owns it. */
export interface ComponentRestoreObservation {
  entry: APIManagerRestoreComponentStatus;
  restoreJob?: RestoreJob;
  owned: boolean;
}

export function restoreEntry(o: ComponentRestoreObservation): APIManagerRestoreComponentStatus {
  const rj = o.owned ? o.restoreJob : undefined;
  const s = rj?.status;
  const e: APIManagerRestoreComponentStatus = { ...o.entry };
  if (rj) e.phase = s?.phase ?? RestoreJobPhase.New;
  if (s?.startTimestamp) e.startTime = s.startTimestamp;
  if (s?.completionTimestamp) e.completionTime = s.completionTimestamp;
  if (s?.failureReason) e.failureReason = s.failureReason;
  return e;
}

export type ComponentRestoresState =
  | { state: "running"; entries: APIManagerRestoreComponentStatus[] }
  | { state: "completed"; entries: APIManagerRestoreComponentStatus[] }
  | { state: "failed"; entries: APIManagerRestoreComponentStatus[]; component: string; message: string };

/**
 * What the components' RestoreJobs add up to: failed as soon as one failed, vanished after it
 * was seen, or belongs to another owner; completed when every one completed; else running.
 */
export function componentRestoresState(cr: CR, comps: ComponentRestoreObservation[]): ComponentRestoresState {
  const entries = comps.map(restoreEntry);
  for (const c of comps) {
    const name = c.entry.restoreJobName;
    if (!c.restoreJob && !c.entry.phase) continue;
    if (!c.restoreJob) return { state: "failed", entries, component: c.entry.name, message: `its RestoreJob "${cr.namespace}/${name}" is gone before it completed` };
    if (!c.owned) return { state: "failed", entries, component: c.entry.name, message: `RestoreJob "${cr.namespace}/${name}" exists and does not belong to APIManagerRestore "${cr.namespace}/${cr.name}": delete or rename it, or create the APIManagerRestore under another name` };
    if (c.restoreJob.status?.phase === RestoreJobPhase.Failed) return { state: "failed", entries, component: c.entry.name, message: `RestoreJob "${cr.namespace}/${name}" failed: ${c.restoreJob.status.failureReason ?? "no reason recorded"}` };
  }
  if (comps.every((c) => c.owned && c.restoreJob?.status?.phase === RestoreJobPhase.Completed)) return { state: "completed", entries };
  return { state: "running", entries };
}

/** The RestoreJobs of components never observed (created, not in the cache yet, or the create was lost): created again, idempotently. */
export function pendingRestoreCreates(cr: CR, comps: ComponentRestoreObservation[]): Array<{ kind: Kind; object: object }> {
  return comps.filter((c) => !c.restoreJob && !c.entry.phase).map((c) => ({ kind: Kinds.RestoreJob, object: buildComponentRestoreJob(cr, c.entry) }));
}

