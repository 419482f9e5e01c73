// Pure: which claims this node provisions, the PV it creates, and which PVs it reclaims.
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";

export const PROVISIONER = "dataprotection.local/local-path";
export const DEFAULT_CLASS = "local-path";
export const ANN_PROVISIONER = "volume.kubernetes.io/storage-provisioner";
export const ANN_BETA_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner";
export const ANN_PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";
export const ANN_SELECTED_NODE = "volume.kubernetes.io/selected-node";

export function defaultStorageClass(): V1StorageClass {
  return {
    apiVersion: "storage.k8s.io/v1",
    kind: "StorageClass",
    metadata: { name: DEFAULT_CLASS, annotations: { "storageclass.kubernetes.io/is-default-class": "true" } },
    provisioner: PROVISIONER,
    reclaimPolicy: "Delete",
    volumeBindingMode: "Immediate",
    allowVolumeExpansion: true,
  };
}

/** Bound once a pod is scheduled: the node that runs it provisions the volume there (several nodes). */
export const WFFC_CLASS = "local-path-wffc";

export function wffcStorageClass(): V1StorageClass {
  return { ...defaultStorageClass(), metadata: { name: WFFC_CLASS }, volumeBindingMode: "WaitForFirstConsumer" };
}

export function pvNameFor(pvc: V1PersistentVolumeClaim): string {
  return `pvc-${pvc.metadata!.uid}`;
}

/**
 * Claims waiting for this node's provisioner, with their class: WaitForFirstConsumer claims the
 * scheduler placed on this node, and Immediate ones when `immediate` (the one node that serves them).
 */
export function claimsToProvision(
  pvcs: V1PersistentVolumeClaim[], classes: V1StorageClass[], existingPvNames: Set<string>, nodeName: string, immediate = true,
): Array<{ pvc: V1PersistentVolumeClaim; sc: V1StorageClass }> {
  const byName = new Map(classes.map((c) => [c.metadata!.name!, c]));
  const out: Array<{ pvc: V1PersistentVolumeClaim; sc: V1StorageClass }> = [];
  for (const pvc of pvcs) {
    if (pvc.metadata?.deletionTimestamp || pvc.spec?.volumeName || pvc.status?.phase === "Bound") continue;
    const sc = byName.get(pvc.spec?.storageClassName ?? "");
    if (!sc) continue;
    const ann = pvc.metadata?.annotations ?? {};
    const wanted = ann[ANN_PROVISIONER] ?? ann[ANN_BETA_PROVISIONER] ?? sc.provisioner;
    if (wanted !== PROVISIONER || sc.provisioner !== PROVISIONER) continue;
    // WaitForFirstConsumer: only once the scheduler picked this node.
    if (sc.volumeBindingMode === "WaitForFirstConsumer" && ann[ANN_SELECTED_NODE] !== nodeName) continue;
    if (sc.volumeBindingMode !== "WaitForFirstConsumer" && !immediate) continue;
    if (existingPvNames.has(pvNameFor(pvc))) continue;
    out.push({ pvc, sc });
  }
  return out;
}

/**
 * The hostPath PV for a claim, pre-bound through claimRef (the PV controller completes the bind),
 * local to `nodeName` when given: only pods on that node can use it, as with a real local volume.
 */
export function buildPv(pvc: V1PersistentVolumeClaim, sc: V1StorageClass, path: string, nodeName?: string): V1PersistentVolume {
  const md = pvc.metadata!;
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: pvNameFor(pvc), annotations: { [ANN_PROVISIONED_BY]: PROVISIONER } },
    spec: {
      capacity: { storage: pvc.spec?.resources?.requests?.storage ?? "1Gi" },
      accessModes: pvc.spec?.accessModes?.length ? pvc.spec.accessModes : ["ReadWriteOnce"],
      persistentVolumeReclaimPolicy: sc.reclaimPolicy ?? "Delete",
      storageClassName: sc.metadata!.name,
      volumeMode: pvc.spec?.volumeMode ?? "Filesystem",
      mountOptions: sc.mountOptions,
      hostPath: { path, type: "DirectoryOrCreate" },
      claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace: md.namespace, name: md.name, uid: md.uid },
      ...(nodeName ? { nodeAffinity: { required: { nodeSelectorTerms: [{ matchExpressions: [{ key: "kubernetes.io/hostname", operator: "In", values: [nodeName] }] }] } } } : {}),
    },
  };
}

/** Released volumes of ours whose reclaim policy is Delete. */
export function volumesToDelete(pvs: V1PersistentVolume[]): V1PersistentVolume[] {
  return pvs.filter((pv) =>
    pv.metadata?.annotations?.[ANN_PROVISIONED_BY] === PROVISIONER &&
    !pv.metadata.deletionTimestamp &&
    pv.spec?.persistentVolumeReclaimPolicy === "Delete" &&
    (pv.status?.phase === "Released" || pv.status?.phase === "Failed"));
}

/** Where a claim's data should come from, when it has a data source. */
export function claimDataSource(pvc: V1PersistentVolumeClaim): { kind: "VolumeSnapshot" | "PersistentVolumeClaim"; name: string } | undefined {
  const ds = pvc.spec?.dataSourceRef ?? pvc.spec?.dataSource;
  if (!ds) return undefined;
  if (ds.kind === "VolumeSnapshot" && ds.apiGroup === "snapshot.storage.k8s.io") return { kind: "VolumeSnapshot", name: ds.name };
  if (ds.kind === "PersistentVolumeClaim" && !ds.apiGroup) return { kind: "PersistentVolumeClaim", name: ds.name };
  return undefined;
}
