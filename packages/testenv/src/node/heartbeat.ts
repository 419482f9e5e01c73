// I/O: registers the Node and keeps it Ready (status heartbeat + Lease in kube-node-lease).
import type { CoordinationV1Api, CoreV1Api, V1Node } from "@kubernetes/client-node";
import { errorMessage, isConflict, isNotFound } from "./errors.ts";
import { newNode, nodeLease, nodeStatus, withoutStaleTaints, type NodeShape } from "./node-object.ts";

export const HEARTBEAT_MS = 10_000;

export class NodeHeartbeat {
  private timer: NodeJS.Timeout | undefined;
  private uid: string | undefined;
  private beating: Promise<void> = Promise.resolve();

  constructor(
    private readonly core: CoreV1Api,
    private readonly coord: CoordinationV1Api,
    private readonly shape: NodeShape,
    private readonly log: (m: string) => void,
  ) {}

  /** Creates (or refreshes) the Node and its Lease; resolves when the node reports Ready. */
  async register(): Promise<void> {
    try {
      const created = await this.core.createNode({ body: newNode(this.shape, new Date()) });
      this.uid = created.metadata?.uid;
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    await this.beat();
  }

  start(): void {
    this.timer = setInterval(() => {
      this.beating = this.beating.then(() => this.beat()).catch((err) => this.log(`heartbeat: ${errorMessage(err)}`));
    }, HEARTBEAT_MS);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.beating;
  }

  async deleteNode(): Promise<void> {
    const name = this.shape.name;
    await this.coord.deleteNamespacedLease({ name, namespace: "kube-node-lease" }).catch(() => undefined);
    await this.core.deleteNode({ name }).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
  }

  private async beat(): Promise<void> {
    // Controllers write the Node too (taints, annotations): retry on conflicts.
    for (let attempt = 0; ; attempt++) {
      try {
        await this.writeNode();
        break;
      } catch (err) {
        if (!isConflict(err) || attempt >= 5) throw err;
      }
    }
    await this.renewLease();
  }

  private async writeNode(): Promise<void> {
    const name = this.shape.name;
    let node: V1Node;
    try {
      node = await this.core.readNode({ name });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      // Someone deleted the Node: register again, as kubelet does.
      node = await this.core.createNode({ body: newNode(this.shape, new Date()) });
    }
    this.uid = node.metadata?.uid;
    node = await this.core.replaceNodeStatus({ name, body: { ...node, status: nodeStatus(this.shape, node.status, new Date()) } });
    const taints = withoutStaleTaints(node.spec?.taints);
    if (taints) await this.core.replaceNode({ name, body: { ...node, spec: { ...node.spec, taints } } });
  }

  private async renewLease(): Promise<void> {
    const name = this.shape.name;
    const namespace = "kube-node-lease";
    try {
      const prev = await this.coord.readNamespacedLease({ name, namespace });
      await this.coord.replaceNamespacedLease({ name, namespace, body: nodeLease(name, this.uid, new Date(), prev) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.coord.createNamespacedLease({ namespace, body: nodeLease(name, this.uid, new Date()) });
    }
  }
}
