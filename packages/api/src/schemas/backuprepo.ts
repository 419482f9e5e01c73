// BackupRepo: where backup data lives, realised through a StorageProvider.
import { Type, type Static } from "@sinclair/typebox";
import { named, str, bool, int64, nameRef, describe, stringEnum, stringMap, celRule, EXT } from "./helpers.ts";
import { LabelSelector, Quantity, SecretReference, Time, conditions } from "./k8s.ts";
import { AccessMethod, BackupRepoPhase, EncryptionAlgorithm, PersistentVolumeReclaimPolicy, values } from "../enums.ts";

export const PersistentVolumeReclaimPolicySchema = stringEnum("PersistentVolumeReclaimPolicy", values(PersistentVolumeReclaimPolicy),
  "core/v1 PersistentVolumeReclaimPolicy: what happens to a PV when its claim is released (Delete or Retain).");

export const AccessMethodSchema = stringEnum("AccessMethod", values(AccessMethod),
  "AccessMethod (extension) says how tools reach a repo: Mount (a PVC mounted at /backupdata) or Tool (dp-agent talks to the storage directly, e.g. S3).");

export const EncryptionAlgorithmSchema = stringEnum("EncryptionAlgorithm", values(EncryptionAlgorithm),
  "EncryptionAlgorithm (extension) is the cipher dp-agent uses for a repo's data.");

export const SecretKeySelectorSchema = named("SecretKeySelector", "SecretKeySelector (extension) names one key of a Secret in a given namespace.", {
  name: nameRef("Name of the Secret."),
  namespace: nameRef("Namespace of the Secret (repos are cluster-scoped, so it must be given)."),
  key: str("The key of the Secret holding the value.", { minLength: 1, maxLength: 253 }),
});

export const EncryptionSpecSchema = named("EncryptionSpec", "EncryptionSpec (extension) turns on client-side encryption of everything dp-agent writes to the repo.", {
  algorithm: describe(EncryptionAlgorithmSchema, "The cipher. Only AES-256-GCM is supported.", { default: EncryptionAlgorithm.AES256GCM }),
  keySecretRef: describe(SecretKeySelectorSchema, "The Secret key holding the encryption passphrase or 32-byte key; the key is never copied into status, logs or Events."),
});

export const DeduplicationSpecSchema = named("DeduplicationSpec", "DeduplicationSpec (extension) stores what dp-agent writes to the repo as deduplicated snapshots: every backup full and independently restorable, each chunk of data stored once per namespace.", {
  enabled: Type.Optional(bool("Store new backups deduplicated. Backups made before stay readable as they are; turning it off again leaves deduplicated backups readable.", { default: false })),
  pruneSchedule: Type.Optional(str("When the operator prunes the repo's deduplicated storage in each namespace that has Backups on it (a cron expression in UTC, 5 fields, or 6 with seconds first): chunks no remaining backup needs are deleted or repacked. Deleting a Backup only forgets its snapshots; space comes back at the next prune.", { default: "0 3 * * *", minLength: 1, maxLength: 128 })),
});

export const BackupRepoSpecSchema = named("BackupRepoSpec", "BackupRepoSpec defines the desired state of BackupRepo", {
  storageProviderRef: nameRef("The storage provider used by this backup repo.", {
    "x-kubernetes-validations": [celRule("self == oldSelf", "spec.storageProviderRef: is immutable")],
  }),
  volumeCapacity: Type.Optional(describe(Quantity, "The requested capacity for the PVC created by this backup repo.")),
  pvReclaimPolicy: describe(PersistentVolumeReclaimPolicySchema, "The reclaim policy for the PV created by this backup repo.", { default: PersistentVolumeReclaimPolicy.Retain }),
  config: Type.Optional(stringMap("Non-secret configurations for the storage provider.")),
  credential: Type.Optional(describe(SecretReference, "A secret that contains the credentials needed by the storage provider.")),
  accessMethod: Type.Optional(describe(AccessMethodSchema, "How tools reach the repo: Mount (a PVC per namespace, mounted at /backupdata) or Tool (dp-agent writes to the storage directly with the provider's agentConfigTemplate).", { default: AccessMethod.Mount, ...EXT })),
  encryption: Type.Optional(describe(EncryptionSpecSchema, "Client-side encryption of the backup data written to this repo. Unset: data is stored as the tool writes it.", EXT)),
  deduplication: Type.Optional(describe(DeduplicationSpecSchema, "Deduplicated storage for this repo (off by default). See docs/deduplication.md.", EXT)),
  namespaceSelector: Type.Optional(describe(LabelSelector, "The namespaces whose Backups and RestoreJobs may use this repo (matched against the Namespace's labels). A Backup or RestoreJob in any other namespace fails with RepoNotAllowed before anything is copied into its namespace. Unset: every namespace, as in KubeBlocks 0.6; set it on any repo that tenants share, since a namespace that may use a repo gets copies of its credential and key Secrets.", EXT)),
});

export const DeduplicationStatusSchema = named("DeduplicationStatus", "DeduplicationStatus (extension) records the repo's last scheduled prune.", {
  lastPruneTime: Type.Optional(describe(Time, "The schedule's tick of the last prune the operator started.")),
  lastPruneJobs: Type.Optional(Type.Array(Type.String(), { description: "The prune Jobs of that tick, as namespace/name (one per namespace with Backups on the repo)." })),
  lastPruneResult: Type.Optional(str("How those Jobs ended: Succeeded, Failed (with the Job and its message) or Running.")),
  nextPruneTime: Type.Optional(describe(Time, "When the next prune is due.")),
});

export const BackupRepoPhaseSchema = stringEnum("BackupRepoPhase", values(BackupRepoPhase), "BackupRepoPhase defines phases for BackupRepo CR.");

export const BackupRepoStatusSchema = named("BackupRepoStatus", "BackupRepoStatus defines the observed state of BackupRepo", {
  phase: Type.Optional(describe(BackupRepoPhaseSchema, "Backup repo reconciliation phases. Valid values are PreChecking, Failed, Ready, Deleting.")),
  conditions: Type.Optional(conditions("conditions describes the current state of the repo.")),
  observedGeneration: Type.Optional(int64("observedGeneration is the latest generation observed by the controller.")),
  generatedCSIDriverSecret: Type.Optional(describe(SecretReference, "generatedCSIDriverSecret references the generated secret used by the CSI driver.")),
  generatedStorageClassName: Type.Optional(str("generatedStorageClassName indicates the generated storage class name.")),
  backupPVCName: Type.Optional(str("backupPVCName is the name of the PVC used to store backup data.")),
  isDefault: Type.Optional(bool("isDefault indicates whether this backup repo is the default one.")),
  failureReason: Type.Optional(str("Why the repo is Failed, with the fix (e.g. the StorageProvider is missing).", EXT)),
  deduplication: Type.Optional(describe(DeduplicationStatusSchema, "The scheduled prunes of a deduplicated repo.", EXT)),
});

export type BackupRepoSpec = Static<typeof BackupRepoSpecSchema>;
export type BackupRepoStatus = Static<typeof BackupRepoStatusSchema>;
export type EncryptionSpec = Static<typeof EncryptionSpecSchema>;
export type DeduplicationSpec = Static<typeof DeduplicationSpecSchema>;
export type DeduplicationStatus = Static<typeof DeduplicationStatusSchema>;
export type SecretKeySelector = Static<typeof SecretKeySelectorSchema>;
