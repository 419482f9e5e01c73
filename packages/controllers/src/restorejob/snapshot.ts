// Pure: restoring a snapshot backup means provisioning each target PVC with its volume's
// VolumeSnapshot as dataSource (the CSI driver fills them).
import type { V1PersistentVolumeClaim, V1StatefulSet } from "@kubernetes/client-node";
import { LabelRestoreJob, LabelRestoreJobUid, LabelVolumeType, type RestoreJob } from "@dataprotection/api";
import { labelValue } from "@dataprotection/runtime";

/** What the decision needs to know about one target claim. */
export interface PvcView {
  /** Provisioned by this RestoreJob. */
  ours: boolean;
  terminating: boolean;
  bound: boolean;
  /** Its kubeblocks.io/volume-type label ("data", "log"), if any. */
  volumeType?: string;
}

/** One VolumeSnapshot of the backup being restored. */
export interface SnapshotView {
  name: string;
  /** kubeblocks.io/volume-type of the snapshot ("data" when unlabelled). */
  volumeType: string;
  /** The claim it was taken from (spec.source.persistentVolumeClaimName). */
  sourceClaim?: string;
  readyToUse: boolean;
  restoreSize?: string;
}

export function pvcView(pvc: V1PersistentVolumeClaim, rj: RestoreJob): PvcView {
  return {
    ours: pvc.metadata?.labels?.[LabelRestoreJobUid] === rj.metadata.uid,
    terminating: !!pvc.metadata?.deletionTimestamp,
    bound: pvc.status?.phase === "Bound",
    ...(pvc.metadata?.labels?.[LabelVolumeType] ? { volumeType: pvc.metadata.labels[LabelVolumeType] } : {}),
  };
}

/** The volumeClaimTemplate of `sts` a claim was made from (`<template>-<sts>-<ordinal>`). */
function templateOf(claim: string, sts: V1StatefulSet | undefined) {
  const stsName = sts?.metadata?.name ?? "";
  return (sts?.spec?.volumeClaimTemplates ?? []).find((t) => new RegExp(`^${escape(t.metadata?.name ?? "")}-${escape(stsName)}-\\d+$`).test(claim));
}

/**
 * Which of the backup's VolumeSnapshots each target claim is provisioned from, so a pod with
 * a data and a log volume gets each back from its own snapshot:
 *  1. the snapshot taken from this very claim (restoring in place);
 *  2. else the snapshot of the claim's volume type: the label kubeblocks.io/volume-type of its
 *     volumeClaimTemplate or of the claim itself, else "log" for a template or claim named
 *     log..., else "data"; among several of that type, the one taken from a claim of the same
 *     template name, else the first by name.
 * A claim with no snapshot of its type is an error naming both: nothing is touched.
 */
export function mapClaimsToSnapshots(
  claims: readonly string[],
  snapshots: readonly SnapshotView[],
  sts: V1StatefulSet | undefined,
  pvcs: ReadonlyMap<string, PvcView>,
): { ok: true; map: Map<string, SnapshotView> } | { ok: false; message: string } {
  const map = new Map<string, SnapshotView>();
  const sorted = [...snapshots].sort((a, b) => a.name.localeCompare(b.name));
  for (const claim of claims) {
    const exact = sorted.find((s) => s.sourceClaim === claim);
    if (exact) {
      map.set(claim, exact);
      continue;
    }
    const tmpl = templateOf(claim, sts);
    const tmplName = tmpl?.metadata?.name;
    const type = tmpl?.metadata?.labels?.[LabelVolumeType] ?? pvcs.get(claim)?.volumeType ?? (/^logs?(-|$)/.test(tmplName ?? claim) ? "log" : "data");
    const ofType = sorted.filter((s) => s.volumeType === type);
    const pick = (tmplName ? ofType.find((s) => s.sourceClaim?.startsWith(`${tmplName}-`)) : undefined) ?? ofType[0];
    if (!pick) {
      const have = sorted.map((s) => `"${s.name}" (${s.volumeType})`).join(", ") || "none";
      return { ok: false, message: `target claim "${claim}" is a ${type} volume but the backup has no ${type} VolumeSnapshot (it has ${have}): remove the claim from .spec.targetVolumes or label it ${LabelVolumeType}` };
    }
    map.set(claim, pick);
  }
  return { ok: true, map };
}

/**
 * The claim `name` with the snapshot as dataSource. Its shape comes from the StatefulSet's
 * volumeClaimTemplate that names it (`<template>-<sts>-<ordinal>`), so the StatefulSet adopts
 * it as its own; otherwise ReadWriteOnce of the snapshot's size in the default class.
 * No owner reference: restored data outlives the RestoreJob.
 */
export function buildSnapshotPVC(rj: RestoreJob, name: string, snapshot: string, sts: V1StatefulSet | undefined, restoreSize: string | undefined): V1PersistentVolumeClaim {
  const tmpl = templateOf(name, sts);
  const size = tmpl?.spec?.resources?.requests?.storage ?? restoreSize ?? "1Gi";
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: {
      name,
      namespace: rj.metadata.namespace,
      labels: { ...(tmpl?.metadata?.labels ?? {}), ...(sts?.spec?.selector?.matchLabels ?? {}), [LabelRestoreJob]: labelValue(rj.metadata.name ?? ""), [LabelRestoreJobUid]: rj.metadata.uid ?? "" },
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
