// Pure: where a Backup's data goes. Backup label, then the policy's backupRepoName, then the
// single default repo, then the policy's own persistentVolumeClaim (KubeBlocks 0.6 order).
// Extension: a Backup annotated backup-destination=persistentVolumeClaim goes to the policy's
// claim before any repo but the label's (APIManagerBackup's PVC destination uses it).
import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import {
  AnnotationBackupDestination, AnnotationIsDefaultRepo, BackupDestinationPVC, BackupRepoPhase, CreatePVCPolicy, LabelBackupRepoName,
  type Backup, type BackupRepo, type CommonBackupPolicy,
} from "@dataprotection/api";
import { mountAccess, type RepoAccess } from "../backuprepo/access.ts";
import { Reason } from "./reasons.ts";

/** A claim the shell must find, or create when `create` is set. */
export interface ClaimToEnsure {
  name: string;
  create: boolean;
  storageClassName?: string;
  capacity: string;
  accessModes: string[];
  labels: Record<string, string>;
  /** policy persistentVolumeConfigMap: a ConfigMap whose `persistentVolume` key is a PV template. */
  pvTemplate?: { name: string; namespace: string };
}

/**
 * A repo destination carries the repo; the shell makes its access real in the namespace
 * (backuprepo's ensureRepoAccess: PVC, Secret copies) and fills `access`. A policy PVC
 * destination has its access and the claim to ensure already.
 */
export type Destination =
  | { ok: true; repoName?: string; repo?: BackupRepo; access?: RepoAccess; claim?: ClaimToEnsure }
  | { ok: false; reason: Reason; message: string };

export function isDefaultRepo(r: BackupRepo): boolean {
  return r.metadata?.annotations?.[AnnotationIsDefaultRepo] === "true";
}

/** RepoAccess for a policy's own PVC: a filesystem repo mounted at /backupdata. */
export function pvcAccess(claimName: string): RepoAccess {
  return mountAccess(claimName);
}

export function claimManifest(c: ClaimToEnsure, namespace: string): V1PersistentVolumeClaim {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: c.name, namespace, labels: c.labels },
    spec: {
      accessModes: c.accessModes,
      resources: { requests: { storage: c.capacity } },
      ...(c.storageClassName ? { storageClassName: c.storageClassName } : {}),
    },
  };
}

export function repoDestination(repo: BackupRepo): Destination {
  const name = repo.metadata?.name ?? "";
  if (repo.metadata?.deletionTimestamp) {
    return { ok: false, reason: Reason.RepoNotReady, message: `BackupRepo "${name}" is being deleted: choose another repo` };
  }
  if (repo.status?.phase === BackupRepoPhase.Failed) {
    return { ok: false, reason: Reason.RepoNotReady, message: `BackupRepo "${name}" is Failed (${repo.status.failureReason ?? "see its status"}): fix the repo or choose another` };
  }
  return { ok: true, repoName: name, repo };
}

/**
 * Resolves the destination. `pinnedRepo` (an incremental backup's parent repo) wins over
 * everything, so a chain never spans repos.
 */
export function resolveDestination(backup: Backup, policyRef: string, section: CommonBackupPolicy, repos: readonly BackupRepo[], pinnedRepo?: string): Destination {
  const byName = (n: string, from: string): Destination => {
    const repo = repos.find((r) => r.metadata?.name === n);
    if (!repo) return { ok: false, reason: Reason.RepoNotFound, message: `BackupRepo "${n}" (${from}) not found: create it or change ${from}` };
    return repoDestination(repo);
  };
  if (pinnedRepo) return byName(pinnedRepo, "the parent backup's status.backupRepoName");
  const label = backup.metadata?.labels?.[LabelBackupRepoName];
  if (label) return byName(label, `Backup label ${LabelBackupRepoName}`);
  const pvc = section.persistentVolumeClaim;
  if (backup.metadata?.annotations?.[AnnotationBackupDestination] === BackupDestinationPVC) {
    if (pvc?.name) return pvcDestination(pvc);
    return { ok: false, reason: Reason.NoBackupDestination, message: `Backup annotation ${AnnotationBackupDestination}=${BackupDestinationPVC} asks for BackupPolicy "${policyRef}" .persistentVolumeClaim, which names no claim: set .persistentVolumeClaim.name or remove the annotation` };
  }
  if (section.backupRepoName) return byName(section.backupRepoName, `BackupPolicy "${policyRef}" .backupRepoName`);
  const defaults = repos.filter(isDefaultRepo);
  if (defaults.length > 1) {
    const names = defaults.map((r) => `"${r.metadata?.name}"`).join(", ");
    return { ok: false, reason: Reason.AmbiguousDefaultRepo, message: `${defaults.length} BackupRepos are annotated ${AnnotationIsDefaultRepo}=true (${names}): keep one default` };
  }
  if (defaults.length === 1) return repoDestination(defaults[0]);
  if (pvc?.name) return pvcDestination(pvc);
  return {
    ok: false,
    reason: Reason.NoBackupDestination,
    message: `no place to store the backup: label the Backup ${LabelBackupRepoName}, set BackupPolicy "${policyRef}" .backupRepoName or .persistentVolumeClaim.name, or annotate a BackupRepo ${AnnotationIsDefaultRepo}=true`,
  };
}

function pvcDestination(pvc: NonNullable<CommonBackupPolicy["persistentVolumeClaim"]>): Destination {
  const name = pvc.name ?? "";
  const claim: ClaimToEnsure = {
    name,
    create: (pvc.createPolicy ?? CreatePVCPolicy.IfNotPresent) === CreatePVCPolicy.IfNotPresent,
    storageClassName: pvc.storageClassName,
    capacity: String(pvc.initCapacity ?? "100Gi"),
    accessModes: ["ReadWriteMany"],
    labels: {},
    ...(pvc.persistentVolumeConfigMap ? { pvTemplate: { name: pvc.persistentVolumeConfigMap.name, namespace: pvc.persistentVolumeConfigMap.namespace } } : {}),
  };
  return { ok: true, access: pvcAccess(name), claim };
}
