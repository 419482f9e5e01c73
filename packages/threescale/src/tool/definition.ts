// The threescale-apimanager BackupTool and the least-privilege RBAC its pods run with.
import type { V1EnvVar, V1RoleBinding, V1ServiceAccount } from "@kubernetes/client-node";
import { AnnotationRunAsRoot, LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";

export const TOOL_NAME = "threescale-apimanager";
/** The same commands writing the plain upstream layout at the root of the backup volume (APIManagerBackup PVCs). */
export const PLAIN_TOOL_NAME = "threescale-apimanager-plain";
/** ServiceAccount and RoleBinding name in each namespace that is backed up or restored. */
export const TOOL_ACCOUNT = "threescale-apimanager";
/**
 * The ClusterRole the chart ships with the tool's rules (charts/dataprotection/templates/rbac.yaml,
 * `<release>-threescale-tool`); the operator only binds it, so it never needs to create Roles.
 */
export const TOOL_CLUSTER_ROLE = "dataprotection-threescale-tool";
export const TOOL_IMAGE = "ghcr.io/dataprotection/operator:0.1.0";

/**
 * POD_NAME/POD_NAMESPACE let the CLI find its pod (helper Jobs copy its volumes). Tool pods
 * run as TOOL_ACCOUNT (spec.serviceAccountName) with its token mounted.
 */
export const TOOL_ENV: V1EnvVar[] = [
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
];

export const BACKUP_COMMAND = ["threescale-dp", "backup"];
export const RESTORE_COMMAND = ["threescale-dp", "restore"];

/** Env of the plain variant: files under /backupdata (the volume's root), no dp-agent. */
export const PLAIN_ENV: V1EnvVar[] = [
  { name: "THREESCALE_STORE", value: "plain" },
  { name: "THREESCALE_DIR", value: "/backupdata" },
];

/**
 * The BackupTool. Targetless: a BackupPolicy with an empty target.labelsSelector runs it
 * without a target pod (it reads the API). `plain` makes the variant for APIManagerBackup
 * PVCs; `env` is appended (e.g. THREESCALE_POLL_MS in tests).
 */
export function threescaleToolFor(o: { plain?: boolean; image?: string; env?: V1EnvVar[] } = {}): BackupTool {
  const env = [...TOOL_ENV, ...(o.plain ? PLAIN_ENV : []), ...(o.env ?? [])];
  return {
    apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
    kind: "BackupTool",
    metadata: {
      name: o.plain ? PLAIN_TOOL_NAME : TOOL_NAME,
      labels: { [LabelManagedBy]: ManagedBy },
      // Restored files keep their owners, which needs root in the helper pod.
      annotations: { [AnnotationRunAsRoot]: "true" },
    },
    spec: {
      image: o.image ?? TOOL_IMAGE,
      deployKind: "job",
      type: "file",
      serviceAccountName: TOOL_ACCOUNT,
      targetless: true,
      env: env as NonNullable<BackupTool["spec"]["env"]>,
      backupCommands: BACKUP_COMMAND,
      // Restore commands are lines of a `sh -c` script (KubeBlocks), backup commands an argv.
      logical: { restoreCommands: [RESTORE_COMMAND.join(" ")] },
    },
  };
}

export const threescaleTool: BackupTool = threescaleToolFor();

/**
 * The tool's identity in one namespace: its ServiceAccount, bound to the chart's ClusterRole
 * `clusterRole` (what the CLI does, and nothing more; see the chart's rbac.yaml).
 */
export function toolRbac(namespace: string, clusterRole: string = TOOL_CLUSTER_ROLE): { serviceAccount: V1ServiceAccount; roleBinding: V1RoleBinding } {
  const labels = { [LabelManagedBy]: ManagedBy, "app.kubernetes.io/component": TOOL_NAME };
  const meta = { name: TOOL_ACCOUNT, namespace, labels };
  return {
    serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    roleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "ClusterRole", name: clusterRole },
      subjects: [{ kind: "ServiceAccount", name: TOOL_ACCOUNT, namespace }],
    },
  };
}
