// The value every decide function returns: what to create or delete, what to merge into
// status, which Events to record, and when to look again. The shell applies it in that order.
import type { V1Job, V1StatefulSet } from "@kubernetes/client-node";
import type { BackupStatus } from "@dataprotection/api";
import type { SecretCopy } from "../backuprepo/access.ts";
import type { ClaimToEnsure } from "./destination.ts";
import type { VolumeSnapshotObject } from "./snapshot-types.ts";

/** What a decision may delete; "Secret" only the repo's Secret copies, by their fixed names. */
export type ChildKind = "Job" | "StatefulSet" | "VolumeSnapshot" | "Secret";

export type Action =
  | { kind: "ensureClaim"; claim: ClaimToEnsure }
  | { kind: "copySecrets"; copies: SecretCopy[] }
  | { kind: "createJob"; job: V1Job }
  | { kind: "createStatefulSet"; sts: V1StatefulSet }
  | { kind: "createSnapshot"; snapshot: VolumeSnapshotObject }
  | { kind: "delete"; child: ChildKind; name: string }
  /** Unsuspends a Job created suspended (the tool Job waits for pre-stage status updates); applied after status. */
  | { kind: "resumeJob"; name: string };

export interface BackupEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface Decision {
  actions: Action[];
  /** Merged into status (top-level keys replace). */
  status?: Partial<BackupStatus>;
  events: BackupEvent[];
  requeueAfterMs?: number;
  /** "remove" once a deleted Backup's data is dealt with; the shell adds the finalizer before deciding. */
  finalizer?: "remove";
}

export const nothing = (): Decision => ({ actions: [], events: [] });

