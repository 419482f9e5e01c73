// Small helpers every suite against the real cluster needs: polling and throwaway namespaces.
import { AppsV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";

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

/** A fresh namespace; `cleanup()` deletes it and waits until it is gone. */
export async function testNamespace(kc: KubeConfig, prefix: string, cleanupTimeoutMs = 120_000): Promise<{ name: string; cleanup: () => Promise<void> }> {
  const core = kc.makeApiClient(CoreV1Api);
  const name = `${prefix}-${randomBytes(3).toString("hex")}`;
  await core.createNamespace({ body: { metadata: { name } } });
  // The API server refuses pods until the controller-manager made the namespace's default
  // ServiceAccount; on a busy control plane (or right after an API server restart, while its
  // informers relist) that takes seconds. Real e2e frameworks wait for it too.
  await until(`ServiceAccount ${name}/default`, async () => {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      return true;
    } catch {
      return undefined;
    }
  }, 60_000, 100);
  const cleanup = async () => {
    await core.deleteNamespace({ name }).catch(() => undefined);
    await until(`namespace ${name} deleted`, async () => {
      try {
        await core.readNamespace({ name });
        return undefined;
      } catch {
        return true;
      }
    }, cleanupTimeoutMs, 500);
  };
  return { name, cleanup };
}

/**
 * What a namespace's workloads look like right now, in a few lines: StatefulSets, Pods (phase,
 * conditions, container states), PVCs and the newest Events. Tests append it to a timeout, so
 * a failure in CI says why without a rerun.
 */
export async function describeNamespace(kc: KubeConfig, namespace: string, maxEvents = 15): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const lines: string[] = [`namespace ${namespace}:`];
  const safe = async (what: string, f: () => Promise<void>): Promise<void> => {
    try {
      await f();
    } catch (e) {
      lines.push(`  (could not list ${what}: ${String(e).slice(0, 200)})`);
    }
  };
  await safe("StatefulSets", async () => {
    for (const s of (await apps.listNamespacedStatefulSet({ namespace })).items) {
      const st = s.status;
      lines.push(`  StatefulSet ${s.metadata?.name}: spec.replicas=${s.spec?.replicas} replicas=${st?.replicas ?? 0} ready=${st?.readyReplicas ?? 0} current=${st?.currentReplicas ?? 0}`);
    }
  });
  await safe("Pods", async () => {
    for (const p of (await core.listNamespacedPod({ namespace })).items) {
      const conds = (p.status?.conditions ?? []).map((c) => `${c.type}=${c.status}`).join(",");
      const states = (p.status?.containerStatuses ?? []).map((c) => `${c.name}:${Object.keys(c.state ?? {})[0] ?? "?"}${c.state?.waiting?.reason ? `(${c.state.waiting.reason})` : ""}${c.state?.terminated ? `(exit ${c.state.terminated.exitCode})` : ""} restarts=${c.restartCount}`).join(" ");
      lines.push(`  Pod ${p.metadata?.name}: ${p.status?.phase}${p.metadata?.deletionTimestamp ? " (terminating)" : ""} node=${p.spec?.nodeName ?? "-"} [${conds}] ${states}`);
    }
  });
  await safe("PVCs", async () => {
    for (const c of (await core.listNamespacedPersistentVolumeClaim({ namespace })).items) {
      lines.push(`  PVC ${c.metadata?.name}: ${c.status?.phase}${c.metadata?.deletionTimestamp ? " (terminating)" : ""} volume=${c.spec?.volumeName ?? "-"} dataSource=${c.spec?.dataSource?.name ?? "-"}`);
    }
  });
  await safe("Events", async () => {
    const evs = (await core.listNamespacedEvent({ namespace })).items
      .sort((a, b) => String(a.lastTimestamp ?? a.eventTime ?? "").localeCompare(String(b.lastTimestamp ?? b.eventTime ?? "")))
      .slice(-maxEvents);
    for (const e of evs) lines.push(`  Event ${String(e.lastTimestamp ?? e.eventTime ?? "")} ${e.involvedObject.kind}/${e.involvedObject.name} ${e.type} ${e.reason}: ${(e.message ?? "").slice(0, 200)}`);
  });
  return lines.join("\n");
}

/** Like until, but a timeout also describes the namespace (see describeNamespace). */
export async function untilInNamespace<T>(kc: KubeConfig, namespace: string, what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  try {
    return await until(what, fn, timeoutMs, intervalMs);
  } catch (e) {
    throw new Error(`${e instanceof Error ? e.message : String(e)}\n${await describeNamespace(kc, namespace)}`);
  }
}
