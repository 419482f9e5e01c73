// The CLI's API access: the pod's own service account (mounted token), else the default
// kubeconfig (a user running the CLI by hand).
import { existsSync, readFileSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, isNotFound, type Kind, type KubeObject } from "@dataprotection/runtime";

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

export function kubeConfigFromEnv(env: NodeJS.ProcessEnv): KubeConfig {
  const kc = new KubeConfig();
  if (existsSync(`${SA_DIR}/token`) && env.KUBERNETES_SERVICE_HOST) {
    kc.loadFromCluster();
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
