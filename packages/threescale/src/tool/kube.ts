// The CLI's API access: the pod's own service account (mounted token), or a token handed in
// through env from a service-account-token Secret (tool pods started without a mounted token).
import { existsSync, readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, isNotFound, type Kind, type KubeObject } from "@dataprotection/runtime";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function kubeConfigFromEnv(env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  if (existsSync(`${SA_DIR}/token`) && env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
  } else if (env.THREESCALE_KUBE_TOKEN && env.KUBERNETES_SERVICE_HOST) {
    const host = env.KUBERNETES_SERVICE_HOST.includes(":") ? `[${env.KUBERNETES_SERVICE_HOST}]` : env.KUBERNETES_SERVICE_HOST;
    kc.loadFromOptions({
      clusters: [{ name: "in-cluster", server: `https://${host}:${env.KUBERNETES_SERVICE_PORT ?? "443"}`, caData: env.THREESCALE_KUBE_CA ? Buffer.from(env.THREESCALE_KUBE_CA).toString("base64") : undefined, skipTLSVerify: false }],
      users: [{ name: "tool", token: env.THREESCALE_KUBE_TOKEN }],
      contexts: [{ name: "in-cluster", cluster: "in-cluster", user: "tool" }],
      currentContext: "in-cluster",
    });
  } else {
    kc.loadFromDefault();
  }
  return kc;
}

export function namespaceFromEnv(env: NodeJS.ProcessEnv): string {
  if (env.POD_NAMESPACE) return env.POD_NAMESPACE;
  if (existsSync(`${SA_DIR}/namespace`)) return readFileSync(`${SA_DIR}/namespace`, "utf8").trim();
  throw new Error("no namespace: set POD_NAMESPACE (fieldRef metadata.namespace)");
}

export async function getOrUndefined<T extends KubeObject>(client: KubeClient, kind: Kind, name: string, namespace: string): Promise<T | undefined> {
  try {
    return await client.get<T>(kind, name, namespace);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}
