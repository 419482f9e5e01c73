// Pure: restoring a snapshot backup means provisioning the target's PVCs with the
// VolumeSnapshot as their dataSource (the CSI driver fills them).
import type { V1PersistentVolumeClaim, V1StatefulSet } from "@kubernetes/client-node";
import type { RestoreJob } from "@dataprotection/api";
import { LabelRestoreJob } from "./job.ts";

/** Label on a PVC provisioned by a RestoreJob: the RestoreJob's uid. */
export const LabelRestoreJobUid = "dataprotection.kubeblocks.io/restorejob-uid";

/** What the decision needs to know about one target claim. */
export interface PvcView {
  /** Provisioned by this RestoreJob. */
  ours: boolean;
  terminating: boolean;
  bound: boolean;
}

export function pvcView(pvc: V1PersistentVolumeClaim, rj: RestoreJob): PvcView {
  return {
    ours: pvc.metadata?.labels?.[LabelRestoreJobUid] === rj.metadata.uid,
    terminating: !!pvc.metadata?.deletionTimestamp,
    bound: pvc.status?.phase === "Bound",
  };
}

/**
 * The claim `name` with the snapshot as dataSource. Its shape comes from the StatefulSet's
 * volumeClaimTemplate that names it (`<template>-<sts>-<ordinal>`), so the StatefulSet adopts
 * it as its own; otherwise ReadWriteOnce of the snapshot's size in the default class.
 * No owner reference: restored data outlives the RestoreJob.
 */
export function buildSnapshotPVC(rj: RestoreJob, name: string, snapshot: string, sts: V1StatefulSet | undefined, restoreSize: string | undefined): V1PersistentVolumeClaim {
  const stsName = sts?.metadata?.name ?? "";
  const tmpl = (sts?.spec?.volumeClaimTemplates ?? []).find((t) => new RegExp(`^${escape(t.metadata?.name ?? "")}-${escape(stsName)}-\\d+$`).test(name));
  const size = tmpl?.spec?.resources?.requests?.storage ?? restoreSize ?? "1Gi";
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: rj.metadata.namespace,
      labels: { ...(tmpl?.metadata?.labels ?? {}), ...(sts?.spec?.selector?.matchLabels ?? {}), [LabelRestoreJob]: rj.metadata.name ?? "", [LabelRestoreJobUid]: rj.metadata.uid ?? "" },
    },
    spec: {
      accessModes: tmpl?.spec?.accessModes ?? ["ReadWriteOnce"],
      storageClassName: tmpl?.spec?.storageClassName,
      volumeMode: tmpl?.spec?.volumeMode,
      resources: { requests: { storage: size } },
      dataSource: { apiGroup: "snapshot.storage.k8s.io", kind: "VolumeSnapshot", name: snapshot },
    },
  };
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
