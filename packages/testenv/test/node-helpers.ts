// Helpers for the local-node integration tests: namespaces, polling, small pod specs.
import { CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";

/** Polls until `fn` returns a value (not undefined); fails with the last observation. */
export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 60_000, intervalMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Creates a uniquely named namespace; returns its name and a cleanup that waits until it is gone. */
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
    }, 90_000, 500);
  };
  return { name, cleanup };
}

export function containerTerminated(pod: V1Pod, container: string) {
  return pod.status?.containerStatuses?.find((c) => c.name === container)?.state?.terminated;
}
