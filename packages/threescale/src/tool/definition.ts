// The threescale-apimanager BackupTool and the least-privilege RBAC its pods run with.
import type { V1EnvVar, V1Role, V1RoleBinding, V1Secret, V1ServiceAccount } from "@kubernetes/client-node";
import type { BackupTool } from "@dataprotection/api";

export const TOOL_NAME = "threescale-apimanager";
/** The same commands writing the plain upstream layout at the root of the backup volume (APIManagerBackup PVCs). */
export const PLAIN_TOOL_NAME = "threescale-apimanager-plain";
/** ServiceAccount, Role, RoleBinding and token Secret names in each namespace that is backed up or restored. */
export const TOOL_ACCOUNT = "threescale-apimanager";
export const TOOL_TOKEN_SECRET = "threescale-apimanager-token";
export const TOOL_IMAGE = "ghcr.io/dataprotection/operator:0.1.0";

/**
 * POD_NAME/POD_NAMESPACE let the CLI find its pod (helper Jobs copy its volumes). Tool pods
 * run as TOOL_ACCOUNT (spec.serviceAccountName) with its token mounted; the token env is a
 * fallback for runners that start them without one: the account's token Secret, optional.
 */
export const TOOL_ENV: V1EnvVar[] = [
  { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
  { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
  { name: "THREESCALE_KUBE_TOKEN", valueFrom: { secretKeyRef: { name: TOOL_TOKEN_SECRET, key: "token", optional: true } } },
  { name: "THREESCALE_KUBE_CA", valueFrom: { secretKeyRef: { name: TOOL_TOKEN_SECRET, key: "ca.crt", optional: true } } },
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
      labels: { "app.kubernetes.io/managed-by": "dataprotection" },
      // Restored files keep their owners, which needs root in the helper pod.
      annotations: { "dataprotection.kubeblocks.io/run-as-root": "true" },
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

const rule = (apiGroups: string[], resources: string[], verbs: string[]) => ({ apiGroups, resources, verbs });

/** What the CLI does, and nothing more, in one namespace. */
export function toolRbac(namespace: string): { serviceAccount: V1ServiceAccount; role: V1Role; roleBinding: V1RoleBinding; tokenSecret: V1Secret } {
  const labels = { "app.kubernetes.io/managed-by": "dataprotection", "app.kubernetes.io/component": TOOL_NAME };
  const meta = { name: TOOL_ACCOUNT, namespace, labels };
  return {
    serviceAccount: { apiVersion: "v1", kind: "ServiceAccount", metadata: meta },
    role: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: meta,
      rules: [
        rule([""], ["secrets", "configmaps"], ["get", "list", "create"]),
        rule(["apps.3scale.net"], ["apimanagers"], ["get", "list", "create"]),
        // spec.apiManagerName of the APIManagerBackup a backup runs for (BACKUP_NAME).
        rule(["apps.3scale.net"], ["apimanagerbackups"], ["get"]),
        rule([""], ["persistentvolumeclaims"], ["get", "create"]),
        rule([""], ["pods"], ["get", "list"]),
        rule(["batch"], ["jobs"], ["get", "create", "delete"]),
        rule(["apps"], ["deployments"], ["get"]),
      ],
    },
    roleBinding: {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "RoleBinding",
      metadata: meta,
      roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: TOOL_ACCOUNT },
      subjects: [{ kind: "ServiceAccount", name: TOOL_ACCOUNT, namespace }],
    },
    tokenSecret: {
      apiVersion: "v1",
      kind: "Secret",
      type: "kubernetes.io/service-account-token",
      metadata: { name: TOOL_TOKEN_SECRET, namespace, labels, annotations: { "kubernetes.io/service-account.name": TOOL_ACCOUNT } },
    },
  };
}
