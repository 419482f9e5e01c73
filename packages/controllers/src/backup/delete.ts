// Pure: what deleting a Backup does. Children block it; protected backups keep their data;
// otherwise a Job removes the data from the repo, then the finalizer goes.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import {
  AccessMethod, BackupPhase, BackupProtectionRetain, Finalizer, LabelBackupProtection, LabelBackupProtectionLegacy,
  type Backup,
} from "@dataprotection/api";
import type { RepoAccess } from "../backuprepo/access.ts";
import { buildRepoAgentJob } from "../backuprepo/agent-job.ts";
import { setCondition } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { deletions, owned, withStatus, type BackupDecision, type BackupPrereq } from "./decision.ts";
import { pvcAccess } from "./destination.ts";
import { backupDirOf, isSafeFilePath, recordedBackupIdEnv } from "./env.ts";
import { childLabels, TOOL_CONTAINER } from "./job.ts";
import { helperJobName } from "./decide.ts";
import { logStatefulSetName } from "./logfile.ts";
import { Condition, Reason, failureReason } from "./reasons.ts";
import { terminationMessageOf } from "./report.ts";

export function isProtected(b: Backup): boolean {
  const l = b.metadata?.labels ?? {};
  return l[LabelBackupProtection] === BackupProtectionRetain || l[LabelBackupProtectionLegacy] === BackupProtectionRetain;
}

export interface DeleteObservation {
  backup: Backup;
  /** Backups (not being deleted) that depend on this one. */
  children: readonly Backup[];
  /** How to reach status.backupRepoName's repo, when it names one that still exists. */
  repoAccess?: RepoAccess;
  /**
   * Another Backup of the namespace (even one being deleted) uses that repo, or may (not started yet):
   * the repo's Secret copies in the namespace stay. False: they go with this Backup.
   */
  repoInUse: boolean;
  deleteJob?: V1Job;
  deletePods: readonly V1Pod[];
  /** Tool Jobs of the backup that are still active: stopped before the data goes. */
  activeJobs: readonly string[];
  hasStatefulSet: boolean;
  snapshots: readonly string[];
  agentImage: string;
}

/**
 * The Job that removes a backup's data: rm -rf on a mounted repo, dp-agent rm --all on an object
 * store or a deduplicated repo (it forgets the backup's snapshots; their chunks go at the next prune).
 */
export function buildDeleteJob(b: Backup, access: RepoAccess, filePath: string, image: string): V1Job {
  const dir = backupDirOf(filePath);
  const command = access.accessMethod === AccessMethod.Mount && !access.dedup ? ["sh", "-c", 'rm -rf -- "$BACKUP_DIR" && echo "removed $BACKUP_DIR"'] : ["dp-agent", "rm", "--all"];
  return buildRepoAgentJob({
    name: helperJobName(b.metadata!.name!, "delete"), namespace: b.metadata?.namespace, labels: childLabels(b, "delete"), container: TOOL_CONTAINER, image, command, access, backoffLimit: 2,
    // Deduplicated: the recorded backup id also finds snapshots a push wrote and never listed (it died first).
    env: [{ name: "BACKUP_DIR", value: dir }, { name: "DP_BACKUP_PATH", value: filePath.replace(/^\/+/, "") }, ...(access.dedup ? recordedBackupIdEnv(b) : [])],
  });
}

const jobDone = (j: V1Job, type: string) => j.status?.conditions?.some((c) => c.type === type && c.status === "True");
/** The last step once the Backup's data is dealt with (removed, kept, or out of reach). */
const release = { remove: Finalizer };

export function decideDeletion(o: DeleteObservation, now: Date): BackupDecision {
  return releaseRepoSecrets(o, deletionSteps(o, now));
}

/** Nothing can be created in a namespace being deleted (403 "being terminated"): the Backup goes with its namespace. */
export function namespaceTerminating(b: Backup): BackupDecision {
  return {
    events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message: `namespace ${b.metadata?.namespace} is being deleted: the backup's data cannot be removed by a Job and stays in the repo` }],
    finalizer: release,
  };
}

/**
 * A deletion whose delete Job cannot be given the repo's access (its credential or key Secret is
 * gone): waiting would hold the Backup, and its namespace, forever. The data stays, said so.
 */
export function dataUnreachable(b: Backup, why: string): BackupDecision {
  const where = b.status?.manifests?.backupTool?.filePath ?? "its path";
  return { events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message: `${why}: the data at ${where} cannot be removed by the operator and stays in the repo; remove it by hand` }], finalizer: release };
}

/**
 * When the finalizer goes and no other Backup of the namespace uses the repo, the repo's Secret
 * copies (credential, encryption key) leave the namespace too: a key stays only where it is used.
 */
function releaseRepoSecrets(o: DeleteObservation, d: BackupDecision): BackupDecision {
  if (!d.finalizer || !("remove" in d.finalizer) || o.repoInUse || !o.repoAccess?.secretCopies.length) return d;
  return { ...d, deletes: [...(d.deletes ?? []), ...deletions(o.backup, Kinds.Secret, o.repoAccess.secretCopies.map((c) => c.to))] };
}

function deletionSteps(o: DeleteObservation, now: Date): BackupDecision {
  const b = o.backup;
  const ref = `${b.metadata?.namespace}/${b.metadata?.name}`;
  if (o.children.length) {
    const names = o.children.map((c) => `"${c.metadata?.name}"`).join(", ");
    const message = `Backup "${ref}" is the parent of incremental backup(s) ${names}: delete them first; this deletion waits until then`;
    return { events: [{ type: "Warning", reason: Reason.DeletionBlocked, message }], status: withStatus(b, { conditions: setCondition(b.status?.conditions, { type: Condition.DataDeleted, status: "False", reason: Reason.DeletionBlocked, message }, now) }) };
  }
  const stop = deletions(b, Kinds.Job, o.activeJobs);
  if (o.hasStatefulSet) stop.push(...deletions(b, Kinds.StatefulSet, [logStatefulSetName(b.metadata!.name!)]));

  if (isProtected(b)) {
    const snaps = o.snapshots.length ? ` and its VolumeSnapshot(s) ${o.snapshots.join(", ")} are kept` : "";
    return { deletes: stop, events: [{ type: "Normal", reason: Reason.DataRetained, message: `Backup is protected (${LabelBackupProtection}=${BackupProtectionRetain}): its data stays in the repo${snaps}` }], finalizer: release };
  }
  if (b.spec.importFrom) {
    // The data belongs to the backup that wrote it (in another namespace, or cluster): an import never removes it.
    return { deletes: stop, events: [{ type: "Normal", reason: Reason.DataRetained, message: `imported Backup: its data at ${b.status?.manifests?.backupTool?.filePath ?? b.spec.importFrom.path} in BackupRepo "${b.spec.importFrom.backupRepoName}" belongs to the backup that wrote it and stays` }], finalizer: release };
  }
  // Snapshots carry no owner reference (so protected ones survive): unprotected ones go here.
  stop.push(...deletions(b, Kinds.VolumeSnapshot, o.snapshots));
  const filePath = b.status?.manifests?.backupTool?.filePath;
  const started = !!b.status?.startTimestamp && b.status?.phase !== BackupPhase.New;
  if (!filePath || !started) return { deletes: stop, finalizer: release };
  if (!isSafeFilePath(filePath)) {
    // Never rm -rf a path that could leave the backup's own directory: keep the data, say so.
    return { deletes: stop, events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message: `status.manifests.backupTool.filePath ${JSON.stringify(filePath.slice(0, 100))} is not a plain path under the repo: its data was not removed; remove it by hand` }], finalizer: release };
  }

  let access: RepoAccess | undefined;
  if (b.status?.backupRepoName) {
    if (!o.repoAccess) {
      return { deletes: stop, events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message: `BackupRepo "${b.status.backupRepoName}" no longer exists: the data at ${filePath} cannot be removed by the operator` }], finalizer: release };
    }
    access = o.repoAccess;
  } else if (b.status?.persistentVolumeClaimName) {
    access = pvcAccess(b.status.persistentVolumeClaimName);
  }
  if (!access) return { deletes: stop, finalizer: release };

  const job = o.deleteJob;
  if (!job) {
    // The repo's Secret copies first: the delete Job mounts them (another deletion may have removed them).
    const copies: BackupPrereq[] = access.secretCopies.length ? [{ kind: "copySecrets", copies: access.secretCopies }] : [];
    return {
      prepare: copies,
      creates: [owned(b, Kinds.Job, buildDeleteJob(b, access, filePath, o.agentImage))],
      status: withStatus(b, { phase: BackupPhase.Deleting }),
      deletes: stop,
      events: [{ type: "Normal", reason: Reason.DeletingData, message: `removing ${filePath} from ${b.status?.backupRepoName ? `BackupRepo "${b.status.backupRepoName}"` : `PVC ${b.status?.persistentVolumeClaimName}`}` }],
    };
  }
  if (jobDone(job, "Complete")) {
    return { deletes: stop, events: [{ type: "Normal", reason: Reason.DataDeleted, message: `removed ${filePath}` }], finalizer: release };
  }
  if (jobDone(job, "Failed")) {
    const why = (terminationMessageOf(o.deletePods[o.deletePods.length - 1]) || "the delete Job failed").trim().slice(-300);
    const message = `could not remove ${filePath} (Job ${job.metadata?.name}: ${why}); retrying`;
    return {
      status: withStatus(b, { failureReason: failureReason(Reason.DataDeleteFailed, message), conditions: setCondition(b.status?.conditions, { type: Condition.DataDeleted, status: "False", reason: Reason.DataDeleteFailed, message }, now) }),
      deletes: [...stop, ...deletions(b, Kinds.Job, [job.metadata!.name!])],
      events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message }],
      requeueAfterMs: 10_000,
    };
  }
  return { deletes: stop };
}
