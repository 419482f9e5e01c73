// One control plane + local node per test process, built on sharedControlPlane().
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ControlPlane } from "../types.ts";
import { sharedControlPlane } from "../shared.ts";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { nodeCount, nodeName, zoneOf } from "./nodes.ts";
import { startLocalNode } from "./start.ts";
import type { ImageFiles, LocalNode, LocalNodeOptions } from "./types.ts";

/** This checkout, built (npm run build), is what the project's image holds at /opt/dataprotection (Dockerfile). */
const checkout = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const PROJECT_IMAGES: ImageFiles[] = ["ghcr.io/dataprotection/operator", "ghcr.io/dataprotection/db-tools"]
  .map((repository) => ({ repository, source: checkout, target: "/opt/dataprotection" }));

/**
 * The node flags the project's image runs the operator with (the Dockerfile's ENTRYPOINT, which
 * the chart's Deployment must match): benchmarks start the operator the same way.
 */
export function operatorNodeFlags(): string[] {
  const m = /^ENTRYPOINT (\[.*\])$/m.exec(readFileSync(join(checkout, "Dockerfile"), "utf8"));
  if (!m) throw new Error(`${join(checkout, "Dockerfile")}: no ENTRYPOINT [...] line`);
  return (JSON.parse(m[1]!) as string[]).slice(1).filter((a) => a.startsWith("--"));
}

export interface Cluster {
  controlPlane: ControlPlane;
  /** The storage node, local-node-0. */
  node: LocalNode;
  /** Every node (DP_NODES, default 1), node first. */
  nodes: LocalNode[];
}

let shared: Promise<Cluster> | undefined;
let dataDirs: string[] = [];
const nodeLog = process.env.DP_NODE_LOG ? (m: string) => console.error(`[node] ${m}`) : undefined;

/** The shared control plane with the local node started on it (memoized). */
export function sharedCluster(): Promise<Cluster> {
  shared ??= (async () => {
    const controlPlane = await sharedControlPlane();
    const count = nodeCount();
    // The node's data outlives a restart of the node (restartSharedNode); removed at the end.
    dataDirs = await Promise.all(Array.from({ length: count }, () => mkdtemp(join(tmpdir(), "dp-node-"))));
    const nodes: LocalNode[] = [];
    for (let i = 0; i < count; i++) nodes.push(await startLocalNode(controlPlane, sharedNodeOptions(i)));
    return { controlPlane, node: nodes[0]!, nodes };
  })();
  return shared;
}

function sharedNodeOptions(i: number): LocalNodeOptions {
  return { name: nodeName(i), zone: zoneOf(i), storage: i === 0, dataDir: dataDirs[i], images: PROJECT_IMAGES, log: nodeLog };
}

/**
 * A node of the shared cluster dies and comes back: its processes are killed and its Node object
 * kept (NotReady until it returns), then it starts again on the same data, picking up its pods
 * as kubelet does after a reboot. The Cluster object then holds the new node.
 */
export async function restartSharedNode(i = 0): Promise<LocalNode> {
  const c = await sharedCluster();
  await c.nodes[i]!.stop({ keepNode: true });
  const node = await startLocalNode(c.controlPlane, sharedNodeOptions(i));
  c.nodes[i] = node;
  if (i === 0) c.node = node;
  return node;
}

/** Stops the shared node (call before stopSharedControlPlane). */
export async function stopSharedNode(): Promise<void> {
  if (!shared) return;
  const c = await shared.catch(() => undefined);
  shared = undefined;
  for (const n of c?.nodes ?? []) await n.stop();
  for (const d of dataDirs) await rm(d, { recursive: true, force: true });
  dataDirs = [];
}
