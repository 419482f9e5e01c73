// A sample reconciler for the integration tests: each ConfigMap labelled
// role=parent gets an owned child ConfigMap "<name>-mirror" carrying its data.v.
import { childName, clone, isAlreadyExists, Kinds, keyOf, setControllerReference, type GenericObject, type ObjectKey, type ReconcileContext, type Reconciler } from "../src/index.ts";

export const ParentLabel = { role: "parent" };

export class MirrorReconciler implements Reconciler {
  readonly lastSeen = new Map<string, string | undefined>();
  readonly inflight = new Set<string>();
  overlaps = 0;
  maxParallel = 0;
  reconciles = 0;

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<void> {
    const key = keyOf(req);
    if (this.inflight.has(key)) this.overlaps++;
    this.inflight.add(key);
    this.maxParallel = Math.max(this.maxParallel, this.inflight.size);
    this.reconciles++;
    try {
      const cm = ctx.cache.get<GenericObject>(Kinds.ConfigMap, req.name, req.namespace);
      if (!cm) {
        this.lastSeen.set(key, undefined);
        ctx.log.info("reconciled", { deleted: true });
        return;
      }
      const v = cm.data?.v;
      this.lastSeen.set(key, v);
      if (cm.metadata.labels?.role !== ParentLabel.role) return;
      await this.ensureMirror(cm, v, ctx);
      ctx.log.info("reconciled", { v });
    } finally {
      this.inflight.delete(key);
    }
  }

  private async ensureMirror(cm: GenericObject, v: string | undefined, ctx: ReconcileContext): Promise<void> {
    const name = childName(cm.metadata.name!, "mirror");
    const ns = cm.metadata.namespace;
    const existing = ctx.cache.get<GenericObject>(Kinds.ConfigMap, name, ns);
    if (!existing) {
      const child = setControllerReference<GenericObject>({ metadata: { name, namespace: ns }, data: { v: v ?? "" } }, cm, Kinds.ConfigMap);
      try {
        await ctx.client.create(Kinds.ConfigMap, child);
      } catch (e) {
        if (!isAlreadyExists(e)) throw e;
        throw new Error(`mirror ${name} exists but is not cached yet`, { cause: e });
      }
      return;
    }
    if (existing.data?.v === (v ?? "")) return;
    const next = clone(existing);
    next.data = { v: v ?? "" };
    await ctx.client.replace(Kinds.ConfigMap, next); // a 409 throws: retried with backoff
  }
}
