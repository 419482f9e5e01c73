// Several local nodes on one control plane: local-node-0 is the storage node (Immediate claims,
// snapshots), every node provisions the WaitForFirstConsumer claims placed on it, and each has
// its own zone, so the scheduler spreads pods as it would across a cluster's nodes.
import type { ControlPlane } from "../types.ts";
import { startLocalNode } from "./start.ts";
import type { LocalNode, LocalNodeOptions } from "./types.ts";

export const nodeName = (i: number): string => `local-node-${i}`;
export const zoneOf = (i: number): string => `zone-${String.fromCharCode(97 + (i % 26))}`;

/** Starts `count` nodes (count >= 1): local-node-0 (zone-a, storage), local-node-1 (zone-b), ... */
export async function startLocalNodes(cp: ControlPlane, count: number, opts: Omit<LocalNodeOptions, "name" | "zone" | "storage"> = {}): Promise<LocalNode[]> {
  const nodes: LocalNode[] = [];
  try {
    for (let i = 0; i < count; i++) nodes.push(await startLocalNode(cp, { ...opts, name: nodeName(i), zone: zoneOf(i), storage: i === 0 }));
  } catch (err) {
    for (const n of nodes) await n.stop();
    throw err;
  }
  return nodes;
}

/** How many nodes sharedCluster and `npm run cluster` start: DP_NODES, default 1. */
export function nodeCount(env: NodeJS.ProcessEnv = process.env): number {
  const n = Number(env.DP_NODES ?? "1");
  if (!Number.isInteger(n) || n < 1 || n > 26) throw new Error(`DP_NODES=${JSON.stringify(env.DP_NODES)}: give a whole number from 1 to 26`);
  return n;
}
