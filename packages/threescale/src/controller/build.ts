// Pure builders: the destination PVC of an APIManagerBackup, the generic BackupPolicy/Backup/RestoreJob
// the CRs drive, and the direct restore Job (a PVC restore source with no Backup object).
import type { V1EnvVar, V1Job, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import {
  AnnotationAPIManagerBackupName, AnnotationAPIManagerBackupUID, AnnotationAPIManagerName, AnnotationAPIManagerUID, AnnotationBackupDestination, BackupDestinationPVC, BackupType,
  CreatePVCPolicy, DataProtectionAPIVersion, LabelManagedBy, LabelThreescaleOwner, ManagedBy, type APIManagerBackupSpec, type Backup, type BackupPolicy, type RestoreJob,
} from "@dataprotection/api";
import { childName, labelValue } from "@dataprotection/runtime";
import { RESTORE_COMMAND, TOOL_ACCOUNT, TOOL_ENV, TOOL_IMAGE } from "../tool/definition.ts";

const MOUNT = "/backupdata";

/** Named after the CR; no owner reference, so the backup outlives the APIManagerBackup (as upstream). */
export function destinationClaim(backup: { name: string; uid?: string; namespace: string; spec: APIManagerBackupSpec }, am: { name: string; uid?: string }): V1PersistentVolumeClaim {
  const p = backup.spec.backupDestination.persistentVolumeClaim ?? {};
  const spec: NonNullable<V1PersistentVolumeClaim["spec"]> = {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: String(p.resources?.requests ?? "1Gi") } },
  };
  if (p.storageClass) spec.storageClassName = p.storageClass;
  if (p.volumeName) spec.volumeName = p.volumeName;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name: backup.name,
      namespace: backup.namespace,
      annotations: { [AnnotationAPIManagerName]: am.name, [AnnotationAPIManagerUID]: am.uid ?? "", [AnnotationAPIManagerBackupName]: backup.name, [AnnotationAPIManagerBackupUID]: backup.uid ?? "" },
    },
    spec,
  };
}

const owner = (kind: "APIManagerBackup" | "APIManagerRestore", cr: { name: string; uid: string }) => [{ apiVersion: "apps.3scale.net/v1alpha1", kind, name: cr.name, uid: cr.uid, controller: true, blockOwnerDeletion: true }];

export const restoreJobName = (cr: string): string => childName(cr, "restore");

export interface ToolJobInput {
  cr: { name: string; namespace: string; uid: string };
  claimName: string;
  readOnly?: boolean;
  extraEnv?: V1EnvVar[];
  /** Hard bound on the whole Job (Job activeDeadlineSeconds). */
  deadlineSeconds: number;
  image?: string;
}

/** The direct restore Job of an APIManagerRestore: the tool's restore command, its service account, the upstream plain layout on the PVC root. */
export function buildToolJob(i: ToolJobInput): V1Job {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: {
      name: restoreJobName(i.cr.name),
      namespace: i.cr.namespace,
      labels: { [LabelThreescaleOwner]: labelValue(i.cr.name), [LabelManagedBy]: ManagedBy },
      ownerReferences: owner("APIManagerRestore", i.cr),
    },
    spec: {
      backoffLimit: 0,
      activeDeadlineSeconds: i.deadlineSeconds,
      template: {
        metadata: { labels: { [LabelThreescaleOwner]: labelValue(i.cr.name) } },
        spec: {
          restartPolicy: "Never",
          serviceAccountName: TOOL_ACCOUNT,
          volumes: [{ name: "backup", persistentVolumeClaim: { claimName: i.claimName, readOnly: i.readOnly || undefined } }],
          containers: [{
            name: "threescale",
            image: i.image ?? TOOL_IMAGE,
            command: RESTORE_COMMAND,
            env: [
              ...TOOL_ENV.filter((e) => !e.name.startsWith("THREESCALE_KUBE_")),
              { name: "BACKUP_NAME", value: i.cr.name },
              { name: "BACKUP_DIR", value: MOUNT },
              { name: "THREESCALE_STORE", value: "plain" },
              { name: "THREESCALE_DIR", value: MOUNT },
              { name: "THREESCALE_CONTAINER", value: "threescale" },
              ...(i.extraEnv ?? []),
            ],
            volumeMounts: [{ name: "backup", mountPath: MOUNT, readOnly: i.readOnly || undefined }],
            terminationMessagePolicy: "FallbackToLogsOnError",
          }],
        },
      },
    },
  };
}

/** Names of the generic objects an APIManagerBackup/Restore drives (the Backup keeps the CR's name: the CLI reads spec.apiManagerName through it). */
export const genericBackupName = (cr: string): string => cr;
export const genericPolicyName = (cr: string): string => childName(cr, "threescale");
export const genericRestoreName = (cr: string): string => childName(cr, "threescale");

export type Destination = { kind: "pvc"; claimName: string } | { kind: "repo"; repoName: string };

/**
 * The BackupPolicy of an APIManagerBackup: the targetless tool (empty selector), writing the plain
 * upstream layout into the destination PVC the controller created (createPolicy Never), or
 * through dp-agent into the named BackupRepo.
 */
export function buildPolicy(cr: { name: string; namespace: string; uid: string }, dest: Destination, toolName: string): BackupPolicy {
  const where = dest.kind === "pvc" ? { persistentVolumeClaim: { name: dest.claimName, createPolicy: CreatePVCPolicy.Never } } : { backupRepoName: dest.repoName };
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "BackupPolicy",
    metadata: { name: genericPolicyName(cr.name), namespace: cr.namespace, labels: { [LabelThreescaleOwner]: labelValue(cr.name), [LabelManagedBy]: ManagedBy }, ownerReferences: owner("APIManagerBackup", cr) },
    spec: { datafile: { backupToolName: toolName, target: { labelsSelector: {} }, ...where } },
  } as BackupPolicy;
}

/** A PVC destination is annotated so a cluster's default BackupRepo does not take the Backup instead. */
export function buildBackup(cr: { name: string; namespace: string; uid: string }, dest: Destination): Backup {
  const annotations = dest.kind === "pvc" ? { annotations: { [AnnotationBackupDestination]: BackupDestinationPVC } } : {};
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "Backup",
    metadata: { name: genericBackupName(cr.name), namespace: cr.namespace, labels: { [LabelThreescaleOwner]: labelValue(cr.name), [LabelManagedBy]: ManagedBy }, ...annotations, ownerReferences: owner("APIManagerBackup", cr) },
    spec: { backupPolicyName: genericPolicyName(cr.name), backupType: BackupType.Datafile },
  } as Backup;
}

/** The RestoreJob of an APIManagerRestore: the tool's logical restore, targetless (empty selector). */
export function buildRestoreJob(cr: { name: string; namespace: string; uid: string }, backupName: string): RestoreJob {
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "RestoreJob",
    metadata: { name: genericRestoreName(cr.name), namespace: cr.namespace, labels: { [LabelThreescaleOwner]: labelValue(cr.name), [LabelManagedBy]: ManagedBy }, ownerReferences: owner("APIManagerRestore", cr) },
    spec: { backupJobName: backupName, target: { labelsSelector: {} }, targetVolumes: [], targetVolumeMounts: [] },
  } as RestoreJob;
}
