// Pure: the database components of an APIManagerBackup with spec.includeDatabases: their tools,
// endpoint Secrets, generic BackupPolicies/Backups, and what their Backups' phases add up to.
//
// Order and consistency point (README "Backing up 3scale entirely"): every component's Backup
// is created in the same reconcile (system-database, zync-database, system-redis,
// backend-redis, backend-redis-queues) and they run together; the Secrets, ConfigMaps, the
// APIManager object and System FileStorage are taken after all of them completed. Nothing is
// paused: the components agree with each other within the time their dumps take to start.
import {
  AnnotationBackupDestination, BackupDestinationPVC, BackupPhase, BackupType, CreatePVCPolicy, DataProtectionAPIVersion, LabelManagedBy, LabelThreescaleOwner, ManagedBy,
  externalEndpointTool, type APIManagerBackupComponentStatus, type Backup, type BackupPolicy, type BackupTool,
} from "@dataprotection/api";
import { childName, labelValue, type Kind } from "@dataprotection/runtime";
import { Kinds } from "@dataprotection/api";
import type { Destination } from "./build.ts";
import { BASE_TOOL, componentToolName, endpointSecret, endpointSecretName, type Component, type ComponentName } from "./endpoints.ts";
import type { Prereq } from "./decide.ts";

export const componentBackupName = (cr: string, c: ComponentName): string => childName(cr, c);
export const componentPolicyName = (cr: string, c: ComponentName): string => childName(cr, c);

type CR = { name: string; namespace: string; uid: string };
const owner = (cr: CR) => [{ apiVersion: "apps.3scale.net/v1alpha1", kind: "APIManagerBackup", name: cr.name, uid: cr.uid, controller: true, blockOwnerDeletion: true }];
const labels = (cr: CR, c: ComponentName) => ({ [LabelThreescaleOwner]: labelValue(cr.name), [LabelManagedBy]: ManagedBy, "app.kubernetes.io/component": c });

/** The component's generic BackupPolicy: its endpoint tool, targetless, into the CR's destination. */
export function buildComponentPolicy(cr: CR, c: Pick<Component, "name"> & { endpoint: Pick<Component["endpoint"], "engine"> }, dest: Destination): BackupPolicy {
  const where = dest.kind === "pvc" ? { persistentVolumeClaim: { name: dest.claimName, createPolicy: CreatePVCPolicy.Never } } : { backupRepoName: dest.repoName };
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "BackupPolicy",
    metadata: { name: componentPolicyName(cr.name, c.name), namespace: cr.namespace, labels: labels(cr, c.name), ownerReferences: owner(cr) },
    spec: { datafile: { backupToolName: componentToolName(c.name, c.endpoint.engine), target: { labelsSelector: {} }, ...where } },
  } as BackupPolicy;
}

export function buildComponentBackup(cr: CR, c: Pick<Component, "name">, dest: Destination): Backup {
  const annotations = dest.kind === "pvc" ? { annotations: { [AnnotationBackupDestination]: BackupDestinationPVC } } : {};
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "Backup",
    metadata: { name: componentBackupName(cr.name, c.name), namespace: cr.namespace, labels: labels(cr, c.name), ...annotations, ownerReferences: owner(cr) },
    spec: { backupPolicyName: componentPolicyName(cr.name, c.name), backupType: BackupType.Datafile },
  } as Backup;
}

export type ToolsFound = Record<string, BackupTool | undefined>;

export type ComponentPlan =
  | { ok: true; prepare: Prereq[]; creates: Array<{ kind: Kind; object: object }> }
  | { ok: false; component: ComponentName; message: string };

/**
 * What starting the components needs: per component, its tool (a targetless copy of the
 * installed built-in tool reading the endpoint Secret), its endpoint Secret, its policy and
 * Backup. A missing built-in tool is a failure naming the component.
 */
export function planComponents(cr: CR, comps: Component[], dest: Destination, tools: ToolsFound): ComponentPlan {
  const prepare: Prereq[] = [];
  const creates: Array<{ kind: Kind; object: object }> = [];
  for (const c of comps) {
    const p = endpointPrereqs({ ...cr, kind: "APIManagerBackup" }, c, tools);
    if (!p.ok) return p;
    prepare.push(...p.prepare);
    creates.push({ kind: Kinds.BackupPolicy, object: buildComponentPolicy(cr, c, dest) }, { kind: Kinds.Backup, object: buildComponentBackup(cr, c, dest) });
  }
  return { ok: true, prepare, creates };
}

/**
 * What a component's tool Jobs need, for a backup or a restore: its endpoint tool (a targetless
 * copy of the installed built-in tool, cluster-scoped, named per component and engine) and its
 * endpoint Secret, owned by `owner`. A missing built-in tool is a failure naming the component.
 */
export function endpointPrereqs(owner: CR & { kind: "APIManagerBackup" | "APIManagerRestore" }, c: Component, tools: ToolsFound): { ok: true; prepare: Prereq[] } | { ok: false; component: ComponentName; message: string } {
  const baseName = BASE_TOOL[c.endpoint.engine];
  const base = tools[baseName];
  if (!base) return { ok: false, component: c.name, message: `BackupTool "${baseName}" (the built-in tool for ${c.endpoint.engine}) not found: install the chart's built-in tools, then create a new ${owner.kind}` };
  return {
    ok: true,
    prepare: [
      { ensure: "tool", tool: externalEndpointTool(base, componentToolName(c.name, c.endpoint.engine), endpointSecretName(c.name), { "app.kubernetes.io/component": c.name }) },
      { ensure: "secret", secret: endpointSecret(owner.namespace, owner, c) },
    ],
  };
}

/** A component Backup as observed: absent, or present and whether this CR owns it. */
export interface ComponentObservation {
  name: ComponentName;
  engine?: string;
  backup?: Backup;
  owned: boolean;
  /** Its Backup was observed before (status.databases has its phase): absent now means deleted, not "not in the cache yet". */
  seen?: boolean;
  /** The APIManager runs this database itself (runByAPIManager): recorded for the restore. */
  runByAPIManager?: boolean;
}

export type ComponentsState =
  | { state: "running"; entries: APIManagerBackupComponentStatus[] }
  | { state: "completed"; entries: APIManagerBackupComponentStatus[] }
  | { state: "failed"; entries: APIManagerBackupComponentStatus[]; component: ComponentName; message: string };

/** One status entry per component, from its Backup. */
export function componentEntry(cr: string, o: ComponentObservation): APIManagerBackupComponentStatus {
  const b = o.owned ? o.backup : undefined;
  const s = b?.status;
  const e: APIManagerBackupComponentStatus = { name: o.name, backupName: componentBackupName(cr, o.name) };
  if (o.engine) e.engine = o.engine;
  if (o.engine) e.backupToolName = componentToolName(o.name, o.engine as Component["endpoint"]["engine"]);
  if (b) e.phase = s?.phase ?? BackupPhase.New;
  if (s?.manifests?.backupTool?.filePath) e.backupPath = s.manifests.backupTool.filePath;
  if (o.runByAPIManager) e.runByAPIManager = true;
  if (s?.totalSize) e.totalSize = s.totalSize;
  if (s?.startTimestamp) e.startTime = s.startTimestamp;
  if (s?.completionTimestamp) e.completionTime = s.completionTimestamp;
  if (s?.failureReason) e.failureReason = s.failureReason;
  return e;
}

/**
 * What the components' Backups add up to once they were created: failed as soon as one failed
 * or vanished or was taken over by another owner (a partial backup is never completed),
 * completed when every one completed, else running.
 */
export function componentsState(cr: CR, comps: ComponentObservation[]): ComponentsState {
  const entries = comps.map((c) => componentEntry(cr.name, c));
  for (const c of comps) {
    const name = componentBackupName(cr.name, c.name);
    if (!c.backup && !c.seen) continue;
    if (!c.backup) return { state: "failed", entries, component: c.name, message: `its Backup "${cr.namespace}/${name}" is gone: the APIManagerBackup cannot be complete without it` };
    if (!c.owned) return { state: "failed", entries, component: c.name, message: `Backup "${cr.namespace}/${name}" exists and does not belong to APIManagerBackup "${cr.namespace}/${cr.name}": delete or rename it, or create the APIManagerBackup under another name` };
    if (c.backup.status?.phase === BackupPhase.Failed) return { state: "failed", entries, component: c.name, message: `Backup "${cr.namespace}/${name}" failed: ${c.backup.status.failureReason ?? "no reason recorded"}` };
  }
  if (comps.every((c) => c.backup?.status?.phase === BackupPhase.Completed)) return { state: "completed", entries };
  return { state: "running", entries };
}

/** The policy and Backup of components whose Backup was never observed (created, not in the cache yet, or the create was lost): created again, idempotently. */
export function pendingCreates(cr: CR, comps: ComponentObservation[], dest: Destination): Array<{ kind: Kind; object: object }> {
  return comps.filter((c) => !c.backup && !c.seen && c.engine).flatMap((c) => [
    { kind: Kinds.BackupPolicy, object: buildComponentPolicy(cr, { name: c.name, endpoint: { engine: c.engine as Component["endpoint"]["engine"] } }, dest) },
    { kind: Kinds.Backup, object: buildComponentBackup(cr, c, dest) },
  ]);
}

/** The endpoint Secrets a finished backup deletes (they hold credentials only the tools needed). */
export function endpointSecretDeletes(namespace: string, names: ComponentName[]): Array<{ kind: Kind; name: string; namespace: string }> {
  return names.map((c) => ({ kind: Kinds.Secret, name: endpointSecretName(c), namespace }));
}
