import type { ControlPlane } from "./types.ts";
import { startControlPlane } from "./controlplane/start.ts";

let shared: Promise<ControlPlane> | undefined;

/**
 * One control plane per test process, started on first use, so suites that do not
 * need Kubernetes pay nothing. The root hooks stop it after the last test.
 * A failed start is tried once more: free ports are picked before the components bind
 * them, so on a busy machine another process can take one in between.
 */
export function sharedControlPlane(): Promise<ControlPlane> {
  shared ??= (async () => {
    const dir = process.env.DP_TESTENV_DIR || undefined;
    try {
      return await startControlPlane({ dir });
    } catch (err) {
      console.error(`testenv: control plane failed to start (${err instanceof Error ? err.message : String(err)}); trying once more`);
      return startControlPlane({ dir });
    }
  })();
  return shared;
}

export async function stopSharedControlPlane(): Promise<void> {
  if (!shared) return;
  const cp = await shared.catch(() => undefined);
  shared = undefined;
  await cp?.stop();
}
