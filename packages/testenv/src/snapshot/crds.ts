// The CSI snapshot CRDs (snapshot.storage.k8s.io/v1), field names and shapes as in
// kubernetes-csi/external-snapshotter client/config/crd, trimmed to what the emulation uses.
import type { KubernetesObject } from "@kubernetes/client-node";

/** A JSON Schema node in wire form (installCrds takes plain JSON, not client-node models). */
type JsonSchema = { [key: string]: unknown };

/** A CRD in wire form. */
export interface CrdDocument extends KubernetesObject {
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames: string[] };
    scope: string;
    versions: Array<{
      name: string; served: boolean; storage: boolean;
      schema: { openAPIV3Schema: JsonSchema };
      subresources?: { status: Record<string, never> };
      additionalPrinterColumns: Array<{ name: string; type: string; jsonPath: string }>;
    }>;
  };
}

export const GROUP = "snapshot.storage.k8s.io";
export const VERSION = "v1";

const str = (description: string): JsonSchema => ({ type: "string", description });
const bool = (description: string): JsonSchema => ({ type: "boolean", description });
const deletionPolicy: JsonSchema = {
  type: "string", enum: ["Delete", "Retain"],
  description: "Whether the physical snapshot is deleted with its VolumeSnapshotContent.",
};
const snapshotError: JsonSchema = {
  type: "object",
  description: "The last error while creating the snapshot; cleared once it succeeds.",
  properties: { message: str("Error message; may be logged, so it holds no secrets."), time: { type: "string", format: "date-time" } },
};

function crd(
  kind: string, plural: string, singular: string, shortNames: string[], scope: "Namespaced" | "Cluster",
  schema: JsonSchema, status: boolean, columns: Array<[string, string, string]>,
): CrdDocument {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${plural}.${GROUP}`, annotations: { "api-approved.kubernetes.io": "https://github.com/kubernetes-csi/external-snapshotter/pull/814" } },
    spec: {
      group: GROUP,
      names: { kind, listKind: `${kind}List`, plural, singular, shortNames },
      scope,
      versions: [{
        name: VERSION, served: true, storage: true,
        schema: { openAPIV3Schema: schema },
        subresources: status ? { status: {} } : undefined,
        additionalPrinterColumns: [
          ...columns.map(([name, type, jsonPath]) => ({ name, type, jsonPath })),
          { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
        ],
      }],
    },
  };
}

const volumeSnapshot = crd("VolumeSnapshot", "volumesnapshots", "volumesnapshot", ["vs"], "Namespaced", {
  type: "object",
  required: ["spec"],
  properties: {
    apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" },
    spec: {
      type: "object",
      required: ["source"],
      properties: {
        source: {
          type: "object",
          description: "Exactly one of persistentVolumeClaimName (dynamic) or volumeSnapshotContentName (pre-provisioned).",
          properties: {
            persistentVolumeClaimName: str("The PVC to snapshot, in the snapshot's namespace. Immutable."),
            volumeSnapshotContentName: str("A pre-existing VolumeSnapshotContent. Immutable."),
          },
          "x-kubernetes-validations": [
            { rule: "!has(oldSelf.persistentVolumeClaimName) || has(self.persistentVolumeClaimName)", message: "persistentVolumeClaimName is required once set" },
            { rule: "!has(oldSelf.volumeSnapshotContentName) || has(self.volumeSnapshotContentName)", message: "volumeSnapshotContentName is required once set" },
            { rule: "(has(self.volumeSnapshotContentName) && !has(self.persistentVolumeClaimName)) || (!has(self.volumeSnapshotContentName) && has(self.persistentVolumeClaimName))", message: "exactly one of volumeSnapshotContentName and persistentVolumeClaimName must be set" },
          ],
        },
        volumeSnapshotClassName: str("The VolumeSnapshotClass; empty means the default class."),
      },
    },
    status: {
      type: "object",
      properties: {
        boundVolumeSnapshotContentName: str("The VolumeSnapshotContent this snapshot is bound to."),
        creationTime: { type: "string", format: "date-time", description: "When the point-in-time snapshot was taken." },
        readyToUse: bool("True when the snapshot can be used to restore a volume."),
        restoreSize: { anyOf: [{ type: "integer" }, { type: "string" }], "x-kubernetes-int-or-string": true, pattern: "^(\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\\+|-)?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))))?$", description: "Minimum size of a volume restored from this snapshot." },
        error: snapshotError,
        volumeGroupSnapshotName: str("The VolumeGroupSnapshot this snapshot is part of, if any."),
      },
    },
  },
}, true, [
  ["ReadyToUse", "boolean", ".status.readyToUse"],
  ["SourcePVC", "string", ".spec.source.persistentVolumeClaimName"],
  ["SourceSnapshotContent", "string", ".spec.source.volumeSnapshotContentName"],
  ["RestoreSize", "string", ".status.restoreSize"],
  ["SnapshotClass", "string", ".spec.volumeSnapshotClassName"],
  ["SnapshotContent", "string", ".status.boundVolumeSnapshotContentName"],
  ["CreationTime", "date", ".status.creationTime"],
]);

const volumeSnapshotContent = crd("VolumeSnapshotContent", "volumesnapshotcontents", "volumesnapshotcontent", ["vsc", "vscs"], "Cluster", {
  type: "object",
  required: ["spec"],
  properties: {
    apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" },
    spec: {
      type: "object",
      required: ["deletionPolicy", "driver", "source", "volumeSnapshotRef"],
      properties: {
        deletionPolicy,
        driver: str("The CSI driver that created (or manages) the physical snapshot."),
        source: {
          type: "object",
          description: "Exactly one of volumeHandle (dynamic) or snapshotHandle (pre-provisioned).",
          properties: {
            volumeHandle: str("The volume the snapshot was taken from. Immutable."),
            snapshotHandle: str("The physical snapshot on the storage system. Immutable."),
          },
          "x-kubernetes-validations": [
            { rule: "(has(self.volumeHandle) && !has(self.snapshotHandle)) || (!has(self.volumeHandle) && has(self.snapshotHandle))", message: "exactly one of volumeHandle and snapshotHandle must be set" },
          ],
        },
        sourceVolumeMode: { type: "string", enum: ["Block", "Filesystem"] },
        volumeSnapshotClassName: str("The VolumeSnapshotClass this content was created with."),
        volumeSnapshotRef: {
          type: "object",
          description: "The VolumeSnapshot this content is bound to.",
          "x-kubernetes-map-type": "atomic",
          properties: {
            apiVersion: { type: "string" }, fieldPath: { type: "string" }, kind: { type: "string" },
            name: { type: "string" }, namespace: { type: "string" }, resourceVersion: { type: "string" }, uid: { type: "string" },
          },
        },
      },
    },
    status: {
      type: "object",
      properties: {
        creationTime: { type: "integer", format: "int64", description: "Nanoseconds since the epoch when the snapshot was taken." },
        error: snapshotError,
        readyToUse: bool("True when the snapshot can be used to restore a volume."),
        restoreSize: { type: "integer", format: "int64", minimum: 0, description: "Bytes needed to restore." },
        snapshotHandle: str("The physical snapshot on the storage system."),
        volumeGroupSnapshotHandle: { type: "string" },
      },
    },
  },
}, true, [
  ["ReadyToUse", "boolean", ".status.readyToUse"],
  ["RestoreSize", "integer", ".status.restoreSize"],
  ["DeletionPolicy", "string", ".spec.deletionPolicy"],
  ["Driver", "string", ".spec.driver"],
  ["VolumeSnapshotClass", "string", ".spec.volumeSnapshotClassName"],
  ["VolumeSnapshot", "string", ".spec.volumeSnapshotRef.name"],
  ["VolumeSnapshotNamespace", "string", ".spec.volumeSnapshotRef.namespace"],
]);

const volumeSnapshotClass = crd("VolumeSnapshotClass", "volumesnapshotclasses", "volumesnapshotclass", ["vsclass", "vsclasses"], "Cluster", {
  type: "object",
  required: ["deletionPolicy", "driver"],
  properties: {
    apiVersion: { type: "string" }, kind: { type: "string" }, metadata: { type: "object" },
    deletionPolicy,
    driver: str("The CSI driver that handles snapshots of this class."),
    parameters: { type: "object", additionalProperties: { type: "string" }, description: "Driver-specific parameters." },
  },
}, false, [
  ["Driver", "string", ".driver"],
  ["DeletionPolicy", "string", ".deletionPolicy"],
]);

/** The three snapshot CRDs, ready for installCrds(). */
export function snapshotCrds(): CrdDocument[] {
  return [volumeSnapshotClass, volumeSnapshotContent, volumeSnapshot];
}
