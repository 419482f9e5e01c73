// Pure state machine of an APIManagerBackup over the generic Backup it drives: preconditions
// (one APIManager, a destination the Backup will really use), then the Backup's phase mirrored.
import { BackupPhase, type APIManagerBackupStatus, type Backup } from "@dataprotection/api";
import { selectAPIManager, type APIManagerObject } from "../tool/apimanager.ts";
import { Reason } from "../tool/reasons.ts";
import type { Destination } from "./build.ts";
import { condition, done, failedStatus, failureOf, overdue, type Decision } from "./decide.ts";

export interface BackupObservation {
  name: string;
  namespace: string;
  status: APIManagerBackupStatus;
  apiManagerName?: string;
  apimanagers: APIManagerObject[];
  destination: Destination;
  /** BackupRepos annotated default: the generic Backup prefers them to a policy PVC. */
  /** The generic Backup named after the CR, and whether this CR owns it. */
  backup?: Backup;
  ownsBackup: boolean;
  /** The tool pod's termination message, parsed. */
  toolReport?: Record<string, unknown>;
  now: Date;
  deadlineMs: number;
}

const ALL_STEPS = { destinationCreated: true, secretsBackedUp: true, configMapsBackedUp: true, apiManagerBackedUp: true, systemFileStorageBackedUp: true };

function fail(o: BackupObservation, reason: string, message: string): Decision<APIManagerBackupStatus> {
  const start = o.status.startTime ? {} : { startTime: o.now.toISOString() };
  return { steps: [], status: failedStatus({ ...o.status, ...start, completed: false }, reason, message, o.now), event: { type: "Warning", reason, message } };
}

function start(o: BackupObservation): Decision<APIManagerBackupStatus> {
  const ref = `APIManagerBackup "${o.namespace}/${o.name}"`;
  if (o.backup && !o.ownsBackup) {
    return fail(o, Reason.BackupNameTaken, `Backup "${o.namespace}/${o.name}" exists and does not belong to ${ref}: delete or rename that Backup, or create the APIManagerBackup under another name`);
  }
  const sel = selectAPIManager(o.apimanagers, o.namespace, o.apiManagerName);
  if (!sel.ok) return fail(o, sel.reason, sel.message);
  const amName = sel.apimanager.metadata.name!;
  const where = o.destination.kind === "pvc" ? `PersistentVolumeClaim "${o.destination.claimName}"` : `BackupRepo "${o.destination.repoName}"`;
  const msg = `backing up APIManager "${amName}" to ${where} with Backup "${o.name}"`;
  const dest = o.destination.kind === "pvc" ? { backupPersistentVolumeClaimName: o.destination.claimName } : { backupRepoName: o.destination.repoName };
  return {
    steps: ["ensureRbac", "ensureTools", "ensureDestination", "ensurePolicy", "createBackup"],
    status: {
      ...o.status, startTime: o.status.startTime ?? o.now.toISOString(), completed: false, apiManagerSourceName: amName, ...dest,
      mainStepsCompleted: { ...o.status.mainStepsCompleted, destinationCreated: true },
      conditions: [condition("Running", "True", Reason.BackupStarted, msg, o.now)],
    },
    event: o.status.apiManagerSourceName ? undefined : { type: "Normal", reason: Reason.BackupStarted, message: msg },
    requeueAfterMs: 5_000,
  };
}

export function decideBackup(o: BackupObservation): Decision<APIManagerBackupStatus> {
  const s = o.status;
  if (done(s)) return { steps: [] };
  const b = o.backup;
  if (!b || !o.ownsBackup || !s.apiManagerSourceName) return start(o);
  const phase = b.status?.phase;
  if (phase === BackupPhase.Completed) {
    const where = s.backupRepoName ? `BackupRepo "${s.backupRepoName}"` : `PersistentVolumeClaim "${s.backupPersistentVolumeClaimName}"`;
    const msg = `APIManager "${s.apiManagerSourceName}" backed up to ${where} (Backup "${o.name}")`;
    const path = s.backupRepoName ? { backupPath: b.status?.manifests?.backupTool?.filePath } : {};
    return {
      steps: [],
      status: {
        ...s, ...path, completed: true, completionTime: b.status?.completionTimestamp ?? o.now.toISOString(),
        mainStepsCompleted: { ...s.mainStepsCompleted, ...ALL_STEPS },
        conditions: [condition("Completed", "True", Reason.BackupCompleted, msg, o.now)],
      },
      event: { type: "Normal", reason: Reason.BackupCompleted, message: msg },
    };
  }
  if (phase === BackupPhase.Failed) {
    const f = failureOf(o.toolReport, b.status?.failureReason, Reason.ToolJobFailed);
    const d = fail(o, f.reason, f.message);
    d.event = { type: "Warning", reason: Reason.BackupFailed, message: `${f.reason}: ${f.message}` };
    return d;
  }
  if (overdue(s.startTime, o.now, o.deadlineMs)) {
    return fail(o, Reason.ToolJobTimeout, `Backup "${o.namespace}/${o.name}" is still ${phase ?? "New"} after ${Math.round(o.deadlineMs / 1000)}s: check its Job and pod, then delete it and create a new APIManagerBackup`);
  }
  return { steps: [], requeueAfterMs: 5_000 };
}
