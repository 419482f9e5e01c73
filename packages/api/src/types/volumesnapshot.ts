// TypeScript shapes of the snapshot.storage.k8s.io/v1 objects (the upstream external-snapshotter API's
// field names): the Backup and RestoreJob controllers use them, and testenv's snapshot emulation.
import type { V1ObjectMeta, V1ObjectReference } from "@kubernetes/client-node";

export interface SnapshotError {
  message?: string;
  time?: string;
}

export interface VolumeSnapshot {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec: {
    source: { persistentVolumeClaimName?: string; volumeSnapshotContentName?: string };
    volumeSnapshotClassName?: string;
  };
  status?: {
    boundVolumeSnapshotContentName?: string;
    creationTime?: string;
    readyToUse?: boolean;
    restoreSize?: string | number;
    error?: SnapshotError;
  };
}

export interface VolumeSnapshotContent {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  spec: {
    deletionPolicy: "Delete" | "Retain";
    driver: string;
    source: { volumeHandle?: string; snapshotHandle?: string };
    sourceVolumeMode?: string;
    volumeSnapshotClassName?: string;
    volumeSnapshotRef: V1ObjectReference;
  };
  status?: {
    creationTime?: number;
    readyToUse?: boolean;
    restoreSize?: number;
    snapshotHandle?: string;
    error?: SnapshotError;
  };
}

export interface VolumeSnapshotClass {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
  driver: string;
  deletionPolicy: "Delete" | "Retain";
  parameters?: Record<string, string>;
}
