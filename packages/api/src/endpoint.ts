// External endpoints for the built-in database tools: a targetless copy of a tool whose DB_HOST,
// DB_PORT, DB_USER, DB_PASSWORD and DB_NAME come from one Secret's keys instead of a target pod
// and target.secret. Pure data; the plugin that needs it (threescale) and the tools package
// both use it.
import type { BackupTool } from "./kinds.ts";
import type { EnvVar } from "./types/k8s.ts";
import { LabelManagedBy, ManagedBy } from "./constants.ts";

/** The keys of an endpoint Secret, and the tool env each one becomes. host and port are required. */
export const EndpointSecretKeys = {
  host: "DB_HOST",
  port: "DB_PORT",
  username: "DB_USER",
  password: "DB_PASSWORD",
  database: "DB_NAME",
} as const;

/** The env that reads an endpoint Secret (secretKeyRef: the values never appear in a Job spec). */
export function endpointEnv(secretName: string): EnvVar[] {
  return Object.entries(EndpointSecretKeys).map(([key, name]) => ({
    name,
    valueFrom: { secretKeyRef: { name: secretName, key, ...(key === "host" || key === "port" ? {} : { optional: true }) } },
  }));
}

/**
 * `base` (a built-in database tool whose scripts use DB_HOST/DB_PORT/DB_USER/DB_PASSWORD and,
 * when set, DB_NAME) turned into the tool `name` that reaches the database named by the
 * Secret `secretName` in the Backup's namespace: targetless (a BackupPolicy with an empty
 * target.labelsSelector runs it without a target pod, volume or node), its env appended
 * after the base tool's (tool env overrides the contract's DB_* variables). A Kubernetes
 * Secret name is fixed in a pod spec, so there is one such tool per Secret name; the Secret
 * is per namespace. The base's physical restore is left out (see below).
 */
export function externalEndpointTool(base: BackupTool, name: string, secretName: string, labels: Record<string, string> = {}): BackupTool {
  return {
    apiVersion: base.apiVersion,
    kind: "BackupTool",
    metadata: {
      name,
      labels: { [LabelManagedBy]: ManagedBy, ...labels },
      ...(base.metadata?.annotations ? { annotations: { ...base.metadata.annotations } } : {}),
    },
    // No physical section: an endpoint has no data volume to restore into (a physical restore
    // would look for a target StatefulSet); the logical restore reaches the server over DB_HOST.
    spec: {
      ...withoutPhysical(base.spec),
      targetless: true,
      env: [...(base.spec.env ?? []), ...endpointEnv(secretName)],
    },
  };
}

function withoutPhysical(spec: BackupTool["spec"]): BackupTool["spec"] {
  const { physical: _physical, ...rest } = spec;
  return rest as BackupTool["spec"];
}
