// Shared by every e2e suite: the real control plane + local node with our CRDs installed,
// an operator started in-process per suite, fresh namespaces, polling and Event lookups.
import { CoreV1Api, CustomObjectsApi, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { crdDocuments } from "@dataprotection/api";
import { createOperator, type Operator, type OperatorOptions } from "@dataprotection/controllers";
import { installCrds, sharedCluster, type Cluster } from "@dataprotection/testenv";
import { createLogger } from "@dataprotection/runtime";

let installed: Promise<Cluster> | undefined;

/** The shared cluster with every CRD of the project installed (once per test process). */
export function e2eCluster(): Promise<Cluster> {
  installed ??= (async () => {
    const cluster = await sharedCluster();
    await installCrds(cluster.controlPlane.kubeConfig, crdDocuments() as never);
    return cluster;
  })();
  return installed;
}

/**
 * Starts an operator in this process against the shared cluster. Stop it in after():
 * two operators on one cluster would fight over the same objects.
 * Logs go to DP_E2E_LOG=1 ? stderr : nowhere, so test output stays readable.
 */
export async function startTestOperator(o: Partial<OperatorOptions> = {}, extraControllers: Parameters<typeof createOperator>[1] = []): Promise<Operator> {
  const { controlPlane } = await e2eCluster();
  const logger = createLogger({ level: process.env.DP_E2E_LOG ? "debug" : "error" });
  logger.silent = !process.env.DP_E2E_LOG;
  const op = createOperator({ kubeConfig: controlPlane.kubeConfig, logger, ...o }, extraControllers);
  await op.start();
  return op;
}

/** A fresh namespace; `cleanup()` deletes it and waits until it is gone. */
export async function testNamespace(kc: KubeConfig, prefix: string): Promise<{ name: string; cleanup: () => Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name } } });
  const cleanup = async () => {
    await core.deleteNamespace({ name }).catch(() => undefined);
    await until(`namespace ${name} deleted`, async () => {
      try {
        await core.readNamespace({ name });
        return undefined;
      } catch {
        return true;
      }
    }, 120_000, 500);
  };
  return { name, cleanup };
}

/** Polls until `fn` returns something other than undefined; fails with the last observation. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
      last = undefined;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Reads a custom object (namespace undefined for cluster-scoped kinds). */
export async function getCustom<T>(kc: KubeConfig, group: string, plural: string, namespace: string | undefined, name: string): Promise<T | undefined> {
  const api = kc.makeApiClient(CustomObjectsApi);
  try {
    const obj = namespace
      ? await api.getNamespacedCustomObject({ group, version: "v1alpha1", namespace, plural, name })
      : await api.getClusterCustomObject({ group, version: "v1alpha1", plural, name });
    return obj as T;
  } catch (err) {
    if ((err as { code?: number }).code === 404) return undefined;
    throw err;
  }
}

/** Events about one object, oldest first. */
export async function eventsFor(kc: KubeConfig, namespace: string, name: string): Promise<CoreV1Event[]> {
  const core = kc.makeApiClient(CoreV1Api);
  const list = await core.listNamespacedEvent({ namespace, fieldSelector: `involvedObject.name=${name}` });
  return list.items.sort((a, b) => String(a.lastTimestamp ?? a.eventTime ?? "").localeCompare(String(b.lastTimestamp ?? b.eventTime ?? "")));
}
