import type { KubeConfig } from "@kubernetes/client-node";
import type { Clock, LeaderElectionOptions, Logger } from "@dataprotection/runtime";

/** Bounded waits: nothing in the operator waits forever. Tests shorten them. */
export interface Timeouts {
  /** How long a Backup waits for a target pod to appear before failing (ms). */
  targetPodWaitMs: number;
  /** How long a tool pod may stay unstartable (unschedulable, missing PVC/Secret, bad image) (ms). */
  podStartMs: number;
  /** How long a VolumeSnapshot may take to become readyToUse (ms). */
  snapshotReadyMs: number;
  /** How long a hook / status-update script may run (ms). */
  hookMs: number;
}

export const defaultTimeouts: Timeouts = {
  targetPodWaitMs: 60_000,
  podStartMs: 5 * 60_000,
  snapshotReadyMs: 10 * 60_000,
  hookMs: 5 * 60_000,
};

export type ControllerName =
  | "backup" | "backuppolicy" | "backuprepo" | "backuptool" | "restorejob" | "storageprovider" | "threescale";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  /** Injectable time (schedules, timeouts); real time by default. */
  clock?: Clock;
  /** Watch only this namespace (namespaced kinds); all namespaces by default. */
  namespace?: string;
  leaderElection?: LeaderElectionOptions;
  /** /metrics, /healthz, /readyz port; 0 = any free port; absent = no server. */
  healthPort?: number;
  logger?: Logger;
  /** Image of tool pods that need dp-agent but name no image of their own. */
  agentImage?: string;
  /** Run only these controllers (default: all). */
  controllers?: ControllerName[];
  timeouts?: Partial<Timeouts>;
  /**
   * Let RestoreJob.spec.targetVolumes name node-level volumes (hostPath, gitRepo, flexVolume:
   * restorejob/plan.ts NODE_LEVEL_SOURCES): a namespace user could otherwise have a restore pod
   * write anywhere on a node or run node software with its options. Off by default (env DP_ALLOW_HOSTPATH_RESTORE=true).
   */
  allowHostPathRestore?: boolean;
  /**
   * Clock skew allowed between the operator and a log archiver: archived log pushed before the
   * oldest kept base backup's start, less this margin, may be pruned (backuppolicy/log-retention.ts).
   * Default LOG_KEEP_FROM_MARGIN_MS (a minute); tests shorten it.
   */
  logKeepFromMarginMs?: number;
}

/** What every controller's register function receives besides the manager. */
export interface OperatorContext {
  clock: Clock;
  agentImage: string;
  timeouts: Timeouts;
  namespace?: string;
  allowHostPathRestore: boolean;
  logKeepFromMarginMs: number;
}
