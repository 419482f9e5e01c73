// Shared by every e2e suite: the real control plane + local node with our CRDs installed,
// an operator started in-process per suite, fresh namespaces, polling and Event lookups.
import { CoreV1Api, CustomObjectsApi, type CoreV1Event, type KubeConfig } from "@kubernetes/client-node";
import { crdDocuments } from "@dataprotection/api";
import { createOperator, type Operator, type OperatorOptions } from "@dataprotection/controllers";
import { installCrds, sharedCluster, until, type Cluster } from "@dataprotection/testenv";
import { createLogger } from "@dataprotection/runtime";
import { operatorIdentity } from "./operator-identity.ts";
import { LeakRecorder } from "./leak-scan.ts";

let installed: Promise<Cluster> | undefined;
let recorder: LeakRecorder | undefined;

/** The shared cluster with every CRD of the project installed (once per test process). */
export function e2eCluster(): Promise<Cluster> {
  installed ??= (async () => {
    const cluster = await sharedCluster();
    await installCrds(cluster.controlPlane.kubeConfig, crdDocuments() as never);
    recorder = new LeakRecorder();
    await recorder.start(cluster.controlPlane.kubeConfig);
    return cluster;
  })();
  return installed;
}

// After the whole run (a root-level hook: this module is imported by every e2e file): no value
// of a Secret handed to the operator appears in its debug log, an Event, a status or spec of our
// kinds, or a Job/Pod it made. See leak-scan.ts.
after("secret-leak scan over every Event, our objects, the operator's Jobs/Pods and its debug log", async function () {
  if (!recorder) return;
  this.timeout(120_000);
  await recorder.stop();
  const r = recorder.scan();
  console.log(`  secret-leak scan: ${r.values} secret values (${r.skippedShort} shorter than 8 characters not searched) over ${r.texts} object versions and ${r.logLines} operator log lines: ${r.leaks.length ? `${r.leaks.length} LEAKS` : "none found"}`);
  if (r.leaks.length) throw new Error(`secret values leaked:\n${r.leaks.slice(0, 50).join("\n")}`);
});

/**
 * Starts an operator in this process against the shared cluster, as the chart's ServiceAccount
 * (operator-identity.ts), never as admin. Stop it in after():
 * two operators on one cluster would fight over the same objects.
 * Logs (debug) go to the leak scan's recorder, and to stderr with DP_E2E_LOG=1.
 */
export async function startTestOperator(o: Partial<OperatorOptions> = {}, extraControllers: Parameters<typeof createOperator>[1] = []): Promise<Operator> {
  const { controlPlane } = await e2eCluster();
  // Debug level always: the leak scan reads every line (DP_E2E_LOG=1 also prints them).
  const logger = createLogger({ level: "debug", stream: recorder?.logStream });
  const { kubeConfig } = await operatorIdentity(controlPlane.kubeConfig);
  const op = createOperator({ kubeConfig, logger, ...o }, extraControllers);
  await op.start();
  return op;
}

export { operatorIdentity } from "./operator-identity.ts";
export { describeNamespace, testNamespace, until, untilInNamespace } from "@dataprotection/testenv";

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

/**
 * Polls the Events about one object until `ok` holds, and returns them. The operator's
 * EventRecorder writes in the background, after the status a test waited for, so a single read
 * right after a phase change can miss the newest Event. A timeout lists the Events seen last.
 */
export async function untilEvents(kc: KubeConfig, namespace: string, name: string, what: string, ok: (events: CoreV1Event[]) => boolean, timeoutMs = 60_000): Promise<CoreV1Event[]> {
  return until(`Events of ${namespace}/${name}: ${what}`, async () => {
    const evs = await eventsFor(kc, namespace, name);
    if (ok(evs)) return evs;
    throw new Error(`seen [${evs.map((e) => `${e.type}/${e.reason}${(e.count ?? 1) > 1 ? ` x${e.count}` : ""}`).join(", ")}]`);
  }, timeoutMs, 500);
}

/** untilEvents until every one of `reasons` is among the Events' reasons. */
export function untilEventReasons(kc: KubeConfig, namespace: string, name: string, reasons: string[], timeoutMs = 60_000): Promise<CoreV1Event[]> {
  return untilEvents(kc, namespace, name, `reasons include ${reasons.join(", ")}`, (evs) => reasons.every((r) => evs.some((e) => e.reason === r)), timeoutMs);
}
