// observe (the provider and its CSIDriver, from the cache) -> decide (pure) -> apply.
import type { StorageProvider } from "@dataprotection/api";
import { applyDecision, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { decideProvider } from "./decide.ts";

type Provider = StorageProvider & KubeObject;

export async function reconcileStorageProvider(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
  const p = ctx.cache.get<Provider>(Kinds.StorageProvider, req.name);
  if (!p || p.metadata.deletionTimestamp) return;
  const driver = p.spec.csiDriverName;
  const exists = !!driver && !!ctx.cache.get(Kinds.CSIDriver, driver);
  return applyDecision(ctx, Kinds.StorageProvider, p, decideProvider(p, exists, new Date(ctx.clock.now())));
}
