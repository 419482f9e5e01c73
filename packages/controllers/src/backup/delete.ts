// Pure: what deleting a Backup does. Children block it; protected backups keep their data;
// otherwise a Job removes the data from the repo, then the finalizer goes.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import {
  BackupPhase, BackupProtectionRetain, LabelBackupProtection, LabelBackupProtectionLegacy,
  type Backup,
} from "@dataprotection/api";
import { AccessMethod } from "@dataprotection/api";
import type { RepoAccess } from "../backuprepo/access.ts";
import { setCondition } from "@dataprotection/runtime";
import { nothing, type Decision } from "./decision.ts";
import { pvcAccess } from "./destination.ts";
import { backupDirOf, isSafeFilePath } from "./env.ts";
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

/** The Job that removes a backup's data: rm -rf on a mounted repo, dp-agent rm --all on an object store. */
export function buildDeleteJob(b: Backup, access: RepoAccess, filePath: string, image: string): V1Job {
  const dir = backupDirOf(filePath);
  const command = access.accessMethod === AccessMethod.Mount ? ["sh", "-c", 'rm -rf -- "$BACKUP_DIR" && echo "removed $BACKUP_DIR"'] : ["dp-agent", "rm", "--all"];
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: helperJobName(b.metadata!.name!, "delete"), namespace: b.metadata?.namespace, labels: childLabels(b, "delete") },
    spec: {
      backoffLimit: 2,
      template: {
        metadata: { labels: childLabels(b, "delete") },
        spec: {
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          volumes: access.volumes,
          containers: [{
            name: TOOL_CONTAINER,
            image,
            command,
            env: [...access.env, { name: "BACKUP_DIR", value: dir }, { name: "DP_BACKUP_PATH", value: filePath.replace(/^\/+/, "") }],
            volumeMounts: access.volumeMounts,
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
}

const jobDone = (j: V1Job, type: string) => j.status?.conditions?.some((c) => c.type === type && c.status === "True");

export function decideDeletion(o: DeleteObservation, now: Date): Decision {
  return releaseRepoSecrets(o, deletionSteps(o, now));
}

/**
 * When the finalizer goes and no other Backup of the namespace uses the repo, the repo's Secret
 * copies (credential, encryption key) leave the namespace too: a key stays only where it is used.
 */
function releaseRepoSecrets(o: DeleteObservation, d: Decision): Decision {
  if (d.finalizer !== "remove" || o.repoInUse || !o.repoAccess?.secretCopies.length) return d;
  return { ...d, actions: [...d.actions, ...o.repoAccess.secretCopies.map((c) => ({ kind: "delete" as const, child: "Secret" as const, name: c.to }))] };
}

function deletionSteps(o: DeleteObservation, now: Date): Decision {
  const b = o.backup;
  const ref = `${b.metadata?.namespace}/${b.metadata?.name}`;
  if (o.children.length) {
    const names = o.children.map((c) => `"${c.metadata?.name}"`).join(", ");
    const message = `Backup "${ref}" is the parent of incremental backup(s) ${names}: delete them first; this deletion waits until then`;
    return { actions: [], events: [{ type: "Warning", reason: Reason.DeletionBlocked, message }], status: { conditions: setCondition(b.status?.conditions, { type: Condition.DataDeleted, status: "False", reason: Reason.DeletionBlocked, message }, now) } };
  }
  const stop: Decision["actions"] = o.activeJobs.map((name) => ({ kind: "delete", child: "Job", name }));
  if (o.hasStatefulSet) stop.push({ kind: "delete", child: "StatefulSet", name: logStatefulSetName(b.metadata!.name!) });

  if (isProtected(b)) {
    const snaps = o.snapshots.length ? ` and its VolumeSnapshot(s) ${o.snapshots.join(", ")} are kept` : "";
    return { actions: stop, events: [{ type: "Normal", reason: Reason.DataRetained, message: `Backup is protected (${LabelBackupProtection}=${BackupProtectionRetain}): its data stays in the repo${snaps}` }], finalizer: "remove" };
  }
  // Snapshots carry no owner reference (so protected ones survive): unprotected ones go here.
  for (const s of o.snapshots) stop.push({ kind: "delete", child: "VolumeSnapshot", name: s });
  const filePath = b.status?.manifests?.backupTool?.filePath;
  const started = !!b.status?.startTimestamp && b.status?.phase !== BackupPhase.New;
  if (!filePath || !started) return { actions: stop, events: [], finalizer: "remove" };
  if (!isSafeFilePath(filePath)) {
    // Never rm -rf a path that could leave the backup's own directory: keep the data, say so.
    return { actions: stop, events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message: `status.manifests.backupTool.filePath ${JSON.stringify(filePath.slice(0, 100))} is not a plain path under the repo: its data was not removed; remove it by hand` }], finalizer: "remove" };
  }

  let access: RepoAccess | undefined;
  if (b.status?.backupRepoName) {
    if (!o.repoAccess) {
      return { actions: stop, events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message: `BackupRepo "${b.status.backupRepoName}" no longer exists: the data at ${filePath} cannot be removed by the operator` }], finalizer: "remove" };
    }
    access = o.repoAccess;
  } else if (b.status?.persistentVolumeClaimName) {
    access = pvcAccess(b.status.persistentVolumeClaimName);
  }
  if (!access) return { actions: stop, events: [], finalizer: "remove" };

  const job = o.deleteJob;
  if (!job) {
    // The repo's Secret copies first: the delete Job mounts them (another deletion may have removed them).
    const copies: Decision["actions"] = access.secretCopies.length ? [{ kind: "copySecrets", copies: access.secretCopies }] : [];
    return {
      actions: [...stop, ...copies, { kind: "createJob", job: buildDeleteJob(b, access, filePath, o.agentImage) }],
      status: { phase: BackupPhase.Deleting },
      events: [{ type: "Normal", reason: Reason.DeletingData, message: `removing ${filePath} from ${b.status?.backupRepoName ? `BackupRepo "${b.status.backupRepoName}"` : `PVC ${b.status?.persistentVolumeClaimName}`}` }],
    };
  }
  if (jobDone(job, "Complete")) {
    return { actions: stop, events: [{ type: "Normal", reason: Reason.DataDeleted, message: `removed ${filePath}` }], finalizer: "remove" };
  }
  if (jobDone(job, "Failed")) {
    const why = (terminationMessageOf(o.deletePods[o.deletePods.length - 1]) || "the delete Job failed").trim().slice(-300);
    const message = `could not remove ${filePath} (Job ${job.metadata?.name}: ${why}); retrying`;
    return {
      actions: [...stop, { kind: "delete", child: "Job", name: job.metadata!.name! }],
      status: { failureReason: failureReason(Reason.DataDeleteFailed, message), conditions: setCondition(b.status?.conditions, { type: Condition.DataDeleted, status: "False", reason: Reason.DataDeleteFailed, message }, now) },
      events: [{ type: "Warning", reason: Reason.DataDeleteFailed, message }],
      requeueAfterMs: 10_000,
    };
  }
  return { ...nothing(), actions: stop };
}
