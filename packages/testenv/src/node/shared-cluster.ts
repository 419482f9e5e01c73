// One control plane + local node per test process, built on sharedControlPlane().
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ControlPlane } from "../types.ts";
import { sharedControlPlane } from "../shared.ts";
import { startLocalNode } from "./start.ts";
import type { ImageFiles, LocalNode } from "./types.ts";

/** This checkout, built (npm run build), is what the project's image holds at /opt/dataprotection (Dockerfile). */
const checkout = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const PROJECT_IMAGES: ImageFiles[] = ["ghcr.io/dataprotection/operator", "ghcr.io/dataprotection/db-tools"]
  .map((repository) => ({ repository, source: checkout, target: "/opt/dataprotection" }));

export interface Cluster {
  controlPlane: ControlPlane;
  node: LocalNode;
}

let shared: Promise<Cluster> | undefined;

/** The shared control plane with the local node started on it (memoized). */
export function sharedCluster(): Promise<Cluster> {
  shared ??= (async () => {
    const controlPlane = await sharedControlPlane();
    const node = await startLocalNode(controlPlane, { images: PROJECT_IMAGES, log: process.env.DP_NODE_LOG ? (m) => console.error(`[node] ${m}`) : undefined });
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
