// Small helpers every suite against the real cluster needs: polling and throwaway namespaces.
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
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
