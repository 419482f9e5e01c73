// The shell: read the provider and CSIDriver from the cache, decide, write status.
import type { StorageProvider } from "@dataprotection/api";
import { updateStatus, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { decideProvider } from "./decide.ts";

type Provider = StorageProvider & KubeObject;

export async function reconcileStorageProvider(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
  const p = ctx.cache.get<Provider>(Kinds.StorageProvider, req.name);
  if (!p || p.metadata.deletionTimestamp) return;
  const driver = p.spec.csiDriverName;
  const exists = !!driver && !!ctx.cache.get(Kinds.CSIDriver, driver);
  const d = decideProvider(p, exists, new Date(ctx.clock.now()));
  await updateStatus<Provider>(ctx.client, Kinds.StorageProvider, p, (draft) => {
    draft.status = d.status;
  });
  if (d.transition) ctx.events.record(p, d.transition.type, d.transition.reason, d.transition.message);
}
