// The snapshot.storage.k8s.io/v1 VolumeSnapshot fields the Backup controller reads and writes.
import type { V1ObjectMeta } from "@kubernetes/client-node";

export interface VolumeSnapshotObject {
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
    error?: { message?: string; time?: string };
  };
}
