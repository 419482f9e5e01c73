import type { ControlPlane } from "./types.ts";
import { startControlPlane } from "./controlplane/start.ts";

let shared: Promise<ControlPlane> | undefined;

/**
 * One control plane per test process, started on first use, so suites that do not
 * need Kubernetes pay nothing. The root hooks stop it after the last test.
 */
export function sharedControlPlane(): Promise<ControlPlane> {
  shared ??= startControlPlane({ dir: process.env.DP_TESTENV_DIR || undefined });
  return shared;
}

export async function stopSharedControlPlane(): Promise<void> {
  if (!shared) return;
  const cp = await shared.catch(() => undefined);
  shared = undefined;
  await cp?.stop();
}
