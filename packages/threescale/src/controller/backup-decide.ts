// Pure state machine of an APIManagerBackup over the generic Backups it drives: preconditions
// (one APIManager, a destination the Backup will really use), with spec.includeDatabases the
// database components first (databases.ts), then the APIManager's Backup, its phase mirrored.
import { BackupPhase, Kinds, type APIManagerBackupSpec, type APIManagerBackupStatus, type Backup } from "@dataprotection/api";
import type { Kind } from "@dataprotection/runtime";
import { runByAPIManager, selectAPIManager, type APIManagerObject } from "../tool/apimanager.ts";
import { PLAIN_TOOL_NAME, TOOL_NAME } from "../tool/definition.ts";
import { Reason } from "../tool/reasons.ts";
import { buildBackup, buildPolicy, destinationClaim, type Destination } from "./build.ts";
import { componentEntry, componentsState, endpointSecretDeletes, pendingCreates, planComponents, type ComponentObservation, type ToolsFound } from "./databases.ts";
import { done, failedStatus, failureOf, jobDeadlineSeconds, onlyCondition, overdue, rbacCreates, toolPrereqs, type Prereq, type ThreescaleDecision, type ThreescaleOptions } from "./decide.ts";
import { locateComponents, type ComponentName, type ThreescaleSecrets } from "./endpoints.ts";

export interface BackupObservation {
  name: string;
  namespace: string;
  uid: string;
  spec: APIManagerBackupSpec;
  status: APIManagerBackupStatus;
  apimanagers: APIManagerObject[];
  destination: Destination;
  /** The generic Backup named after the CR, and whether this CR owns it. */
  backup?: Backup;
  ownsBackup: boolean;
  /** The tool pod's termination message, parsed. */
  toolReport?: Record<string, unknown>;
  /** includeDatabases, before the components start: the 3scale Secrets, decoded. */
  secrets?: ThreescaleSecrets;
  /** includeDatabases, before the components start: the built-in tools found, by name. */
  tools?: ToolsFound;
  /** includeDatabases, once started: the Backup of each component in status.databases. */
  components?: ComponentObservation[];
  /** includeDatabases: another APIManagerBackup of the namespace whose components are running (endpoint Secrets are per namespace). */
  busyWith?: string;
  now: Date;
  options: ThreescaleOptions;
}

type BackupDecision = ThreescaleDecision<APIManagerBackupStatus>;

const ALL_STEPS = { destinationCreated: true, secretsBackedUp: true, configMapsBackedUp: true, apiManagerBackedUp: true, systemFileStorageBackedUp: true };

const startedComponents = (s: APIManagerBackupStatus): ComponentName[] => (s.databases ?? []).map((d) => d.name as ComponentName);

/** A finished backup leaves no endpoint Secret behind (they hold the databases' credentials). */
function cleanup(o: BackupObservation): Array<{ kind: Kind; name: string; namespace: string }> {
  return endpointSecretDeletes(o.namespace, startedComponents(o.status));
}

function fail(o: BackupObservation, reason: string, message: string, status: APIManagerBackupStatus = o.status): BackupDecision {
  const start = status.startTime ? {} : { startTime: o.now.toISOString() };
  const deletes = cleanup({ ...o, status });
  return { status: failedStatus({ ...status, ...start, completed: false }, reason, message, o.now), events: [{ type: "Warning", reason, message }], ...(deletes.length ? { deletes } : {}) };
}

interface Started {
  amName: string;
  apimanager: APIManagerObject;
  prepare: Prereq[];
  creates: Array<{ kind: Kind; object: object }>;
  status: APIManagerBackupStatus;
  message: string;
}

/** The preconditions and prerequisites every start shares; a decision when they fail. */
function begin(o: BackupObservation): Started | BackupDecision {
  const ref = `APIManagerBackup "${o.namespace}/${o.name}"`;
  if (o.backup && !o.ownsBackup) {
    return fail(o, Reason.BackupNameTaken, `Backup "${o.namespace}/${o.name}" exists and does not belong to ${ref}: delete or rename that Backup, or create the APIManagerBackup under another name`);
  }
  const sel = selectAPIManager(o.apimanagers, o.namespace, o.spec.apiManagerName);
  if (!sel.ok) return fail(o, sel.reason, sel.message);
  const am = sel.apimanager.metadata;
  const amName = am.name!;
  const dst = o.destination;
  const where = dst.kind === "pvc" ? `PersistentVolumeClaim "${dst.claimName}"` : `BackupRepo "${dst.repoName}"`;
  const dest = dst.kind === "pvc" ? { backupPersistentVolumeClaimName: dst.claimName } : { backupRepoName: dst.repoName };
  const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
  const claim: Prereq[] = dst.kind === "pvc" ? [{ ensure: "destination", claim: destinationClaim({ ...cr, spec: o.spec }, { name: amName, uid: typeof am.uid === "string" ? am.uid : undefined }) }] : [];
  return {
    amName,
    apimanager: sel.apimanager,
    prepare: [...toolPrereqs(o.options), ...claim],
    creates: [...rbacCreates(o.namespace, o.options), { kind: Kinds.BackupPolicy, object: buildPolicy(cr, dst, dst.kind === "pvc" ? PLAIN_TOOL_NAME : TOOL_NAME) }],
    status: { ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false, apiManagerSourceName: amName, ...dest, mainStepsCompleted: { ...o.status.mainStepsCompleted, destinationCreated: true } },
    message: `backing up APIManager "${amName}" to ${where} with Backup "${o.name}"`,
  };
}

const isDecision = (x: Started | BackupDecision): x is BackupDecision => !("amName" in x);

/** Starts (or keeps starting, idempotently) the APIManager's own Backup. */
function start(o: BackupObservation): BackupDecision {
  const b = begin(o);
  if (isDecision(b)) return b;
  const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
  return {
    prepare: b.prepare,
    creates: [...b.creates, { kind: Kinds.Backup, object: buildBackup(cr, o.destination) }],
    status: { ...b.status, conditions: onlyCondition(o.status.conditions, { type: "Running", status: "True", reason: Reason.BackupStarted, message: b.message }, o.now) },
    events: o.status.apiManagerSourceName ? [] : [{ type: "Normal", reason: Reason.BackupStarted, message: b.message }],
    requeueAfterMs: 5_000,
  };
}

/** includeDatabases: locates every component and starts all their Backups together (the consistency point). */
function startDatabases(o: BackupObservation): BackupDecision {
  const b = begin(o);
  if (isDecision(b)) return b;
  if (o.busyWith) {
    const message = `waiting for APIManagerBackup "${o.namespace}/${o.busyWith}", which is backing up this namespace's databases (their endpoint Secrets are per namespace)`;
    return { status: { ...o.status, conditions: onlyCondition(o.status.conditions, { type: "Running", status: "False", reason: Reason.WaitingForBackup, message }, o.now) }, requeueAfterMs: 10_000 };
  }
  const located = locateComponents(o.namespace, o.secrets ?? {});
  if (!located.ok) return fail(o, Reason.DatabaseNotLocated, `includeDatabases: component ${located.component}: ${located.message}`);
  const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
  const plan = planComponents(cr, located.components, o.destination, o.tools ?? {});
  if (!plan.ok) return fail(o, Reason.DatabaseToolNotFound, `includeDatabases: component ${plan.component}: ${plan.message}`);
  const names = located.components.map((c) => c.name);
  const message = `backing up the databases of APIManager "${b.amName}" (${names.join(", ")}), then the APIManager itself`;
  const components: ComponentObservation[] = located.components.map((c) => ({
    name: c.name, engine: c.endpoint.engine, owned: false, ...(runByAPIManager(c.name, b.apimanager) ? { runByAPIManager: true } : {}),
  }));
  return {
    prepare: [...b.prepare, ...plan.prepare],
    creates: [...b.creates, ...plan.creates],
    status: {
      ...b.status,
      databases: components.map((c) => componentEntry(o.name, c)),
      conditions: onlyCondition(o.status.conditions, { type: "Running", status: "True", reason: Reason.BackupStarted, message }, o.now),
    },
    events: [{ type: "Normal", reason: Reason.BackupStarted, message }],
    requeueAfterMs: 5_000,
  };
}

const overdueFail = (o: BackupObservation, what: string, status: APIManagerBackupStatus = o.status): BackupDecision | undefined => {
  const deadlineMs = jobDeadlineSeconds(o.options) * 1000;
  if (!overdue(o.status.startTime, o.now, deadlineMs)) return undefined;
  return fail(o, Reason.ToolJobTimeout, `${what} after ${Math.round(deadlineMs / 1000)}s: check its Job and pod, then delete it and create a new APIManagerBackup`, status);
};

export function decideBackup(o: BackupObservation): BackupDecision {
  const s = o.status;
  if (done(s)) return {};
  let status = s;
  if (o.spec.includeDatabases) {
    if (!s.databases) return startDatabases(o);
    const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
    const cs = componentsState(cr, o.components ?? []);
    status = { ...s, databases: cs.entries };
    if (cs.state === "failed") {
      const message = `includeDatabases: component ${cs.component}: ${cs.message}; the APIManagerBackup is not a full backup`;
      return fail(o, Reason.DatabaseBackupFailed, message, status);
    }
    if (cs.state === "running") {
      const late = overdueFail(o, `the database Backups (${cs.entries.filter((e) => e.phase !== BackupPhase.Completed).map((e) => e.name).join(", ")}) are not completed`, status);
      if (late) return late;
      const creates = pendingCreates(cr, o.components ?? [], o.destination);
      return { ...(creates.length ? { creates } : {}), ...(JSON.stringify(status) !== JSON.stringify(s) ? { status } : {}), requeueAfterMs: 5_000 };
    }
    if (!s.mainStepsCompleted?.databasesBackedUp) {
      status = { ...status, mainStepsCompleted: { ...status.mainStepsCompleted, databasesBackedUp: true } };
    }
  }
  const b = o.backup;
  if (!b || !o.ownsBackup) {
    const d = start({ ...o, status });
    if (o.spec.includeDatabases && !s.mainStepsCompleted?.databasesBackedUp && d.status) {
      d.events = [...(d.events ?? []), { type: "Normal", reason: Reason.DatabasesBackedUp, message: `databases backed up (${startedComponents(s).join(", ")}): backing up the APIManager's Secrets, ConfigMaps, object and FileStorage` }];
    }
    return d;
  }
  if (!s.apiManagerSourceName) return start({ ...o, status });
  const phase = b.status?.phase;
  if (phase === BackupPhase.Completed) {
    const where = s.backupRepoName ? `BackupRepo "${s.backupRepoName}"` : `PersistentVolumeClaim "${s.backupPersistentVolumeClaimName}"`;
    const dbs = o.spec.includeDatabases ? ` with its databases (${startedComponents(s).join(", ")})` : "";
    const msg = `APIManager "${s.apiManagerSourceName}"${dbs} backed up to ${where} (Backup "${o.name}")`;
    const path = s.backupRepoName ? { backupPath: b.status?.manifests?.backupTool?.filePath } : {};
    return {
      status: {
        ...status, ...path, completed: true, completionTime: b.status?.completionTimestamp ?? o.now.toISOString(),
        mainStepsCompleted: { ...status.mainStepsCompleted, ...ALL_STEPS },
        conditions: onlyCondition(s.conditions, { type: "Completed", status: "True", reason: Reason.BackupCompleted, message: msg }, o.now),
      },
      events: [{ type: "Normal", reason: Reason.BackupCompleted, message: msg }],
      ...(o.spec.includeDatabases ? { deletes: cleanup(o) } : {}),
    };
  }
  if (phase === BackupPhase.Failed) {
    const f = failureOf(o.toolReport, b.status?.failureReason, Reason.ToolJobFailed);
    return { ...fail(o, f.reason, f.message, status), events: [{ type: "Warning", reason: Reason.BackupFailed, message: `${f.reason}: ${f.message}` }] };
  }
  return overdueFail(o, `Backup "${o.namespace}/${o.name}" is still ${phase ?? "New"}`, status) ?? { ...(status !== s ? { status } : {}), requeueAfterMs: 5_000 };
}
