// One control plane + local node per test process, built on sharedControlPlane().
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ControlPlane } from "../types.ts";
import { sharedControlPlane } from "../shared.ts";
import { nodeCount, startLocalNodes } from "./nodes.ts";
import type { ImageFiles, LocalNode } from "./types.ts";

/** This checkout, built (npm run build), is what the project's image holds at /opt/dataprotection (Dockerfile). */
const checkout = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const PROJECT_IMAGES: ImageFiles[] = ["ghcr.io/dataprotection/operator", "ghcr.io/dataprotection/db-tools"]
  .map((repository) => ({ repository, source: checkout, target: "/opt/dataprotection" }));

export interface Cluster {
  controlPlane: ControlPlane;
  /** The storage node, local-node-0. */
  node: LocalNode;
  /** Every node (DP_NODES, default 1), node first. */
  nodes: LocalNode[];
}

let shared: Promise<Cluster> | undefined;

/** The shared control plane with the local node started on it (memoized). */
export function sharedCluster(): Promise<Cluster> {
  shared ??= (async () => {
    const controlPlane = await sharedControlPlane();
    const nodes = await startLocalNodes(controlPlane, nodeCount(), { images: PROJECT_IMAGES, log: process.env.DP_NODE_LOG ? (m) => console.error(`[node] ${m}`) : undefined });
    return { controlPlane, node: nodes[0]!, nodes };
  })();
  return shared;
}

/** Stops the shared node (call before stopSharedControlPlane). */
export async function stopSharedNode(): Promise<void> {
  if (!shared) return;
  const c = await shared.catch(() => undefined);
  shared = undefined;
  for (const n of c?.nodes ?? []) await n.stop();
}
