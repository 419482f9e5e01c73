// Pure state machine of an APIManagerBackup over the generic Backup it drives: preconditions
// (one APIManager, a destination the Backup will really use), then the Backup's phase mirrored.
import { BackupPhase, Kinds, type APIManagerBackupSpec, type APIManagerBackupStatus, type Backup } from "@dataprotection/api";
import { selectAPIManager, type APIManagerObject } from "../tool/apimanager.ts";
import { PLAIN_TOOL_NAME, TOOL_NAME } from "../tool/definition.ts";
import { Reason } from "../tool/reasons.ts";
import { buildBackup, buildPolicy, destinationClaim, type Destination } from "./build.ts";
import { done, failedStatus, failureOf, jobDeadlineSeconds, onlyCondition, overdue, rbacCreates, toolPrereqs, type Prereq, type ThreescaleDecision, type ThreescaleOptions } from "./decide.ts";

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
  now: Date;
  options: ThreescaleOptions;
}

type BackupDecision = ThreescaleDecision<APIManagerBackupStatus>;

const ALL_STEPS = { destinationCreated: true, secretsBackedUp: true, configMapsBackedUp: true, apiManagerBackedUp: true, systemFileStorageBackedUp: true };

function fail(o: BackupObservation, reason: string, message: string): BackupDecision {
  const start = o.status.startTime ? {} : { startTime: o.now.toISOString() };
  return { status: failedStatus({ ...o.status, ...start, completed: false }, reason, message, o.now), events: [{ type: "Warning", reason, message }] };
}

function start(o: BackupObservation): BackupDecision {
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
  const msg = `backing up APIManager "${amName}" to ${where} with Backup "${o.name}"`;
  const dest = dst.kind === "pvc" ? { backupPersistentVolumeClaimName: dst.claimName } : { backupRepoName: dst.repoName };
  const cr = { name: o.name, namespace: o.namespace, uid: o.uid };
  const claim: Prereq[] = dst.kind === "pvc" ? [{ ensure: "destination", claim: destinationClaim({ ...cr, spec: o.spec }, { name: amName, uid: typeof am.uid === "string" ? am.uid : undefined }) }] : [];
  return {
    prepare: [...toolPrereqs(o.options), ...claim],
    creates: [
      ...rbacCreates(o.namespace, o.options),
      { kind: Kinds.BackupPolicy, object: buildPolicy(cr, dst, dst.kind === "pvc" ? PLAIN_TOOL_NAME : TOOL_NAME) },
      { kind: Kinds.Backup, object: buildBackup(cr, dst) },
    ],
    status: {
      ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false, apiManagerSourceName: amName, ...dest,
      mainStepsCompleted: { ...o.status.mainStepsCompleted, destinationCreated: true },
      conditions: onlyCondition(o.status.conditions, { type: "Running", status: "True", reason: Reason.BackupStarted, message: msg }, o.now),
    },
    events: o.status.apiManagerSourceName ? [] : [{ type: "Normal", reason: Reason.BackupStarted, message: msg }],
    requeueAfterMs: 5_000,
  };
}

export function decideBackup(o: BackupObservation): BackupDecision {
  const s = o.status;
  if (done(s)) return {};
  const b = o.backup;
  if (!b || !o.ownsBackup || !s.apiManagerSourceName) return start(o);
  const phase = b.status?.phase;
  if (phase === BackupPhase.Completed) {
    const where = s.backupRepoName ? `BackupRepo "${s.backupRepoName}"` : `PersistentVolumeClaim "${s.backupPersistentVolumeClaimName}"`;
    const msg = `APIManager "${s.apiManagerSourceName}" backed up to ${where} (Backup "${o.name}")`;
    const path = s.backupRepoName ? { backupPath: b.status?.manifests?.backupTool?.filePath } : {};
    return {
      status: {
        ...s, ...path, completed: true, completionTime: b.status?.completionTimestamp ?? o.now.toISOString(),
        mainStepsCompleted: { ...s.mainStepsCompleted, ...ALL_STEPS },
        conditions: onlyCondition(s.conditions, { type: "Completed", status: "True", reason: Reason.BackupCompleted, message: msg }, o.now),
      },
      events: [{ type: "Normal", reason: Reason.BackupCompleted, message: msg }],
    };
  }
  if (phase === BackupPhase.Failed) {
    const f = failureOf(o.toolReport, b.status?.failureReason, Reason.ToolJobFailed);
    return { ...fail(o, f.reason, f.message), events: [{ type: "Warning", reason: Reason.BackupFailed, message: `${f.reason}: ${f.message}` }] };
  }
  const deadlineMs = jobDeadlineSeconds(o.options) * 1000;
  if (overdue(s.startTime, o.now, deadlineMs)) {
    return fail(o, Reason.ToolJobTimeout, `Backup "${o.namespace}/${o.name}" is still ${phase ?? "New"} after ${Math.round(deadlineMs / 1000)}s: check its Job and pod, then delete it and create a new APIManagerBackup`);
  }
  return { requeueAfterMs: 5_000 };
}
