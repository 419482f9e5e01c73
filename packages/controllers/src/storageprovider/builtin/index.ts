// Example StorageProviders: a node-local PVC provider and an S3 provider for Tool repos.
import { StorageAPIVersion, type StorageProvider } from "@dataprotection/api";

/** Filesystem repos on PVCs of the `dataprotection.local/local-path` provisioner (the test node's). */
export function localPvcProvider(name = "local-pvc"): StorageProvider {
  return {
    apiVersion: StorageAPIVersion,
    kind: "StorageProvider",
    metadata: { name },
    spec: {
      storageClassTemplate: [
        "provisioner: dataprotection.local/local-path",
        "metadata:",
        "  annotations:",
        "    # node-local volumes: one writer node at a time",
        "    dataprotection.kubeblocks.io/access-modes: ReadWriteOnce",
        "parameters:",
        "  basePath: {{ .Parameters.basePath | default \"/\" | quote }}",
        "volumeBindingMode: Immediate",
        "",
      ].join("\n"),
      parametersSchema: {
        openAPIV3Schema: {
          type: "object",
          properties: { basePath: { type: "string", pattern: "^/", description: "Directory prefix inside each volume." } },
        },
      },
    },
  };
}

/** S3-compatible buckets reached by dp-agent directly (accessMethod Tool). */
export function s3Provider(name = "s3"): StorageProvider {
  return {
    apiVersion: StorageAPIVersion,
    kind: "StorageProvider",
    metadata: { name },
    spec: {
      agentConfigTemplate: [
        "type=s3",
        "bucket={{ .Parameters.bucket }}",
        "{{- if .Parameters.endpoint }}",
        "endpoint={{ .Parameters.endpoint }}",
        "{{- end }}",
        "region={{ .Parameters.region | default \"us-east-1\" }}",
        "forcePathStyle={{ .Parameters.forcePathStyle | default \"true\" }}",
        "prefix={{ .Parameters.prefix }}",
        "",
      ].join("\n"),
      parametersSchema: {
        openAPIV3Schema: {
          type: "object",
          required: ["bucket", "accessKeyId", "secretAccessKey"],
          properties: {
            bucket: { type: "string", minLength: 3 },
            endpoint: { type: "string", pattern: "^https?://" },
            region: { type: "string" },
            forcePathStyle: { type: "string", enum: ["true", "false"] },
            prefix: { type: "string" },
            accessKeyId: { type: "string", minLength: 1 },
            secretAccessKey: { type: "string", minLength: 1 },
          },
        },
        credentialFields: ["accessKeyId", "secretAccessKey"],
      },
    },
  };
}
