// The API address of every kind the operator, its plugins and its tools read or write: one
// table, so a kind's group, version and plural are spelled once.
import { Kind, ThreeScaleGroup, Version } from "./constants.ts";
import { kindInfo } from "./kinds.ts";

/** Addresses one resource type of the API server (the runtime's `Kind`). */
export interface ResourceKind {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Lower-case plural used in URLs, e.g. "configmaps". */
  plural: string;
  namespaced: boolean;
}

const core = (kind: string, plural: string, namespaced = true): ResourceKind => ({ group: "", version: "v1", kind, plural, namespaced });

/** One of our CRDs, from the registry the CRDs are generated from. */
function crd(kind: Kind): ResourceKind {
  const i = kindInfo(kind);
  return { group: i.group, version: i.version, kind: i.kind, plural: i.plural, namespaced: i.scope === "Namespaced" };
}

export const Kinds = {
  ConfigMap: core("ConfigMap", "configmaps"),
  Secret: core("Secret", "secrets"),
  Pod: core("Pod", "pods"),
  PersistentVolumeClaim: core("PersistentVolumeClaim", "persistentvolumeclaims"),
  PersistentVolume: core("PersistentVolume", "persistentvolumes", false),
  Namespace: core("Namespace", "namespaces", false),
  Event: core("Event", "events"),
  ServiceAccount: core("ServiceAccount", "serviceaccounts"),
  Job: { group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true },
  StatefulSet: { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true },
  Deployment: { group: "apps", version: "v1", kind: "Deployment", plural: "deployments", namespaced: true },
  Lease: { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true },
  RoleBinding: { group: "rbac.authorization.k8s.io", version: "v1", kind: "RoleBinding", plural: "rolebindings", namespaced: true },
  StorageClass: { group: "storage.k8s.io", version: "v1", kind: "StorageClass", plural: "storageclasses", namespaced: false },
  CSIDriver: { group: "storage.k8s.io", version: "v1", kind: "CSIDriver", plural: "csidrivers", namespaced: false },
  VolumeSnapshot: { group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshot", plural: "volumesnapshots", namespaced: true },
  VolumeSnapshotContent: { group: "snapshot.storage.k8s.io", version: "v1", kind: "VolumeSnapshotContent", plural: "volumesnapshotcontents", namespaced: false },
  Backup: crd(Kind.Backup),
  BackupPolicy: crd(Kind.BackupPolicy),
  BackupRepo: crd(Kind.BackupRepo),
  BackupTool: crd(Kind.BackupTool),
  RestoreJob: crd(Kind.RestoreJob),
  StorageProvider: crd(Kind.StorageProvider),
  APIManagerBackup: crd(Kind.APIManagerBackup),
  APIManagerRestore: crd(Kind.APIManagerRestore),
  /** 3scale's own CRD (the 3scale operator installs it, not us). */
  APIManager: { group: ThreeScaleGroup, version: Version, kind: "APIManager", plural: "apimanagers", namespaced: true },
} satisfies Record<string, ResourceKind>;
