// The Backup controller's Decision: the runtime's (applied by applyDecision), with the
// prerequisites only the shell can meet (they read a ConfigMap, a source Secret or a
// VolumeSnapshot and may fail the Backup), and the pure helpers every decide function uses.
import type { V1Job, V1StatefulSet } from "@kubernetes/client-node";
import type { Backup, BackupStatus } from "@dataprotection/api";
import { clone, labelValue, setControllerReference, type Decision, type Kind, type KubeObject } from "@dataprotection/runtime";
import type { SecretCopy } from "../backuprepo/access.ts";
import { Kinds } from "../kinds.ts";
import type { ClaimToEnsure } from "./destination.ts";
import { LabelBackupName } from "./job.ts";

/** Met by the shell's prepare, in order, before any create; one that cannot be met fails the Backup. */
export type BackupPrereq =
  /** The policy's own persistentVolumeClaim, created when missing and allowed (from its template or persistentVolumeConfigMap). */
  | { kind: "ensureClaim"; claim: ClaimToEnsure }
  /** The repo's Secret copies in the Backup's namespace, brought up to date from their sources. */
  | { kind: "copySecrets"; copies: SecretCopy[] }
  /** No VolumeSnapshot of this name in the namespace, or this Backup's (a protected Backup deleted earlier keeps its snapshots). */
  | { kind: "snapshotNameFree"; name: string };

export type BackupDecision = Decision<BackupStatus, BackupPrereq>;

/** The whole status applyDecision writes: `partial`'s top-level keys over the observed status, keys set to undefined removed. */
export function withStatus(b: Backup, partial: Partial<BackupStatus>): BackupStatus {
  const next: Record<string, unknown> = { ...(b.status ?? {}), ...partial };
  for (const k of Object.keys(next)) if (next[k] === undefined) delete next[k];
  return next as BackupStatus;
}

/** A Job or StatefulSet to create, controlled by the Backup (garbage collection, the owns() watch) and labelled with its name (the pod watch). */
export function owned(b: Backup, kind: Kind, obj: V1Job | V1StatefulSet): { kind: Kind; object: object } {
  const child = setControllerReference(clone(obj) as KubeObject, b as KubeObject, Kinds.Backup);
  child.metadata.labels = { ...child.metadata.labels, [LabelBackupName]: labelValue(b.metadata!.name!) };
  return { kind, object: child };
}

/** Deletions of the Backup's children of one kind, in its namespace. */
export function deletions(b: Backup, kind: Kind, names: readonly string[]): NonNullable<BackupDecision["deletes"]> {
  return names.map((name) => ({ kind, name, namespace: b.metadata?.namespace }));
}
