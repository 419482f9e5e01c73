// One control plane + local node per test process, built on sharedControlPlane().
import type { ControlPlane } from "../types.ts";
import { sharedControlPlane } from "../shared.ts";
import { startLocalNode } from "./start.ts";
import type { LocalNode } from "./types.ts";

export interface Cluster {
  controlPlane: ControlPlane;
  node: LocalNode;
}

let shared: Promise<Cluster> | undefined;

/** The shared control plane with the local node started on it (memoized). */
export function sharedCluster(): Promise<Cluster> {
  shared ??= (async () => {
    const controlPlane = await sharedControlPlane();
    const node = await startLocalNode(controlPlane, { log: process.env.DP_NODE_LOG ? (m) => console.error(`[node] ${m}`) : undefined });
    return { controlPlane, node };
  })();
  return shared;
}

/** Stops the shared node (call before stopSharedControlPlane). */
export async function stopSharedNode(): Promise<void> {
  if (!shared) return;
  const c = await shared.catch(() => undefined);
  shared = undefined;
  await c?.node.stop();
}
