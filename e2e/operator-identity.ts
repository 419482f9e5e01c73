// The operator's identity in every e2e suite: the chart's RBAC (rendered from
// charts/dataprotection/templates/rbac.yaml, release "dataprotection") applied to the test control
// plane, and a kubeconfig whose only credential is that ServiceAccount's token from the
// TokenRequest API. Suites run the operator with it, never with the admin's credentials, so a
// rule the chart lacks fails a test instead of a user's install.
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { CoreV1Api, KubeConfig, KubernetesObjectApi, type KubernetesObject } from "@kubernetes/client-node";
import { renderChartRbac } from "@dataprotection/tools/chart-rbac";

export const RELEASE = "dataprotection";
export const RELEASE_NAMESPACE = "dataprotection-system";
const ACCOUNT = `${RELEASE}-operator`;
/** Long enough for the longest suite run; the API server caps it at its own maximum. */
const TOKEN_SECONDS = 6 * 3600;

export interface OperatorIdentity {
  kubeConfig: KubeConfig;
  /** The same kubeconfig as a file, for operator child processes. */
  kubeconfigPath: string;
}

let identity: Promise<OperatorIdentity> | undefined;

/** Applies the chart's RBAC (once per process) and returns the operator's ServiceAccount kubeconfig. */
export function operatorIdentity(admin: KubeConfig): Promise<OperatorIdentity> {
  identity ??= create(admin);
  return identity;
}

async function create(admin: KubeConfig): Promise<OperatorIdentity> {
  const objects = admin.makeApiClient(KubernetesObjectApi);
  await apply(objects, { apiVersion: "v1", kind: "Namespace", metadata: { name: RELEASE_NAMESPACE } });
  for (const o of renderChartRbac(RELEASE, RELEASE_NAMESPACE)) await apply(objects, o as KubernetesObject);

  const core = admin.makeApiClient(CoreV1Api);
  const tr = await core.createNamespacedServiceAccountToken({ name: ACCOUNT, namespace: RELEASE_NAMESPACE, body: { spec: { audiences: [], expirationSeconds: TOKEN_SECONDS } } });
  const token = tr.status?.token;
  if (!token) throw new Error(`TokenRequest for ServiceAccount ${RELEASE_NAMESPACE}/${ACCOUNT} returned no token`);

  const cluster = admin.getCurrentCluster();
  if (!cluster) throw new Error("the admin kubeconfig has no current cluster");
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: "test", server: cluster.server, caData: cluster.caData, caFile: cluster.caFile, skipTLSVerify: cluster.skipTLSVerify }],
    users: [{ name: ACCOUNT, token }],
    contexts: [{ name: ACCOUNT, cluster: "test", user: ACCOUNT }],
    currentContext: ACCOUNT,
  });
  const kubeconfigPath = join(mkdtempSync(join(tmpdir(), "dp-operator-sa-")), "kubeconfig");
  writeFileSync(kubeconfigPath, kubeConfig.exportConfig(), { mode: 0o600 });
  return { kubeConfig, kubeconfigPath };
}

/** Create, or replace what a previous run left (the rules may have changed since). */
async function apply(api: KubernetesObjectApi, o: KubernetesObject): Promise<void> {
  try {
    await api.create(o);
  } catch (e) {
    if ((e as { code?: number }).code !== 409) throw e;
    if (o.kind === "Namespace" || o.kind === "ServiceAccount") return;
    const current = await api.read({ apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.metadata!.name!, namespace: o.metadata?.namespace } });
    await api.replace({ ...o, metadata: { ...o.metadata, resourceVersion: current.metadata?.resourceVersion } });
  }
}
