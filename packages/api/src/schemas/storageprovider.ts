// StorageProvider (storage.kubeblocks.io): templates that turn a BackupRepo into storage.
import { Type, type Static } from "@sinclair/typebox";
import { named, str, strArray, describe, stringEnum, int64, EXT } from "./helpers.ts";
import { conditions } from "./k8s.ts";
import { StorageProviderPhase, values } from "../enums.ts";

export const ParametersSchemaSchema = named("ParametersSchema", "ParametersSchema describes the parameters a StorageProvider's templates use.", {
  openAPIV3Schema: Type.Optional(Type.Unsafe<Record<string, unknown>>({
    type: "object",
    "x-kubernetes-preserve-unknown-fields": true,
    description: "openAPIV3Schema is the OpenAPI v3 schema the repo's config and credential values are checked against.",
  })),
  credentialFields: Type.Optional(strArray("credentialFields are the fields used to generate the secret.", { maxItems: 64 })),
});

export const StorageProviderSpecSchema = named("StorageProviderSpec", "StorageProviderSpec defines the desired state of StorageProvider", {
  csiDriverName: Type.Optional(str("The name of the CSI driver used by this StorageProvider.")),
  csiDriverSecretTemplate: Type.Optional(str("A Go template for rendering a secret which will be passed to the CSI driver.")),
  storageClassTemplate: Type.Optional(str("A Go template for rendering a storage class which will be used by the CSI driver.")),
  persistentVolumeClaimTemplate: Type.Optional(str("A Go template for rendering a PersistentVolumeClaim.")),
  parametersSchema: Type.Optional(describe(ParametersSchemaSchema, "The schema describes the parameters required by this StorageProvider, when rendering the templates.")),
  agentConfigTemplate: Type.Optional(str("A Go template rendering dp-agent's storage configuration for repos with accessMethod Tool: key=value lines, type=<backend> (a backend of the storage registry, such as s3; s3 when absent, as in KubeBlocks 0.6), then that backend's parameters such as bucket=..., endpoint=.... The repo's credential Secret holds the keys that backend declares.", EXT)),
});

export const StorageProviderPhaseSchema = stringEnum("StorageProviderPhase", values(StorageProviderPhase), "StorageProviderPhase: NotReady or Ready.");

export const StorageProviderStatusSchema = named("StorageProviderStatus", "StorageProviderStatus defines the observed state of StorageProvider", {
  phase: Type.Optional(describe(StorageProviderPhaseSchema, "Ready when the CSI driver (if any) is installed and the templates parse; NotReady otherwise.", EXT)),
  conditions: Type.Optional(conditions("Describes the current state of the provider (e.g. CSIDriverInstalled).", EXT)),
  observedGeneration: Type.Optional(int64("The .metadata.generation the controller last checked.", EXT)),
});

export type StorageProviderSpec = Static<typeof StorageProviderSpecSchema>;
export type StorageProviderStatus = Static<typeof StorageProviderStatusSchema>;
export type ParametersSchema = Static<typeof ParametersSchemaSchema>;
