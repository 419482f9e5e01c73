// The apply half of observe -> decide -> apply: one function every controller calls with what its
// pure decide step returned, in one fixed order. Prerequisites and creates first (what the status
// will point at exists before the status says so), then the status, then patches and deletions
// (after the status that explains them), then Events (only once the status they report is
// stored), then the finalizer. Every step is idempotent, so a crash between two steps is
// repaired by the next pass.
import type { KubeClient } from "./client.ts";
import type { ReconcileContext, ReconcileResult } from "./controller.ts";
import { createIfAbsent } from "./create.ts";
import { isConflict, isNotFound } from "./errors.ts";
import type { EventType } from "./events.ts";
import { addFinalizer, removeFinalizer } from "./finalizers.ts";
import type { Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";
import { updateStatus } from "./status.ts";

export interface DecidedEvent {
  type: EventType;
  reason: string;
  message: string;
}

/**
 * What a decide function returns: everything apply will do, nothing it will read.
 * `P` is the controller's own prerequisite type (none by default).
 */
export interface Decision<S, P = never> {
  /**
   * Prerequisites a controller ensures itself before anything else (a Secret copy brought up to
   * date, a claim made from a template): idempotent, run in order by `ApplyOptions.prepare`.
   * A prerequisite that cannot be met throws; nothing after it is applied.
   */
  prepare?: P[];
  /** Objects to create unless they exist (already labelled and owned as they should be). */
  creates?: Array<{ kind: Kind; object: object }>;
  /** The whole new status, written with the resourceVersion the decision was made from. */
  status?: S;
  /** JSON merge patches to other objects, after the status that explains them (scale a StatefulSet, resume a Job). */
  patches?: Array<{ kind: Kind; name: string; namespace?: string; patch: object }>;
  deletes?: Array<{ kind: Kind; name: string; namespace?: string }>;
  events?: DecidedEvent[];
  finalizer?: { add: string } | { remove: string };
  requeueAfterMs?: number;
}

export type ApplyContext = Pick<ReconcileContext, "events" | "log" | "superseded"> & { client: Pick<KubeClient, "create" | "replace" | "patch" | "delete" | "get"> };

export interface ApplyOptions<P> {
  /** Performs one of the decision's prerequisites (required when it has any). */
  prepare?: (p: P) => Promise<void>;
}

/**
 * Applies `d` to `obj` (the object as observed). One conflict policy: a status computed from a
 * stale object is never merged into a newer one: on 409 the rest of the decision is dropped
 * (no deletes, Events or finalizer change) and the key is requeued to decide again from fresh.
 */
export async function applyDecision<T extends KubeObject & { status?: unknown }, P = never>(
  ctx: ApplyContext, kind: Kind, obj: T, d: Decision<T["status"], P>, o: ApplyOptions<P> = {},
): Promise<ReconcileResult | void> {
  const client = ctx.client as KubeClient;
  if (d.prepare?.length && !o.prepare) throw new Error(`applyDecision: a ${kind.kind} decision has prerequisites and no prepare function`);
  for (const p of d.prepare ?? []) await o.prepare!(p);
  for (const c of d.creates ?? []) await createIfAbsent(client, c.kind, c.object);
  if (d.status !== undefined) {
    try {
      const written = await updateStatus<T>(client, kind, obj, (draft) => void (draft.status = d.status), { retries: 0 });
      replaced(ctx, obj, written);
    } catch (e) {
      if (!isConflict(e)) throw e;
      ctx.log.debug("status decided from a stale object: dropped, deciding again", { resourceVersion: obj.metadata.resourceVersion });
      return { requeue: true };
    }
  }
  for (const x of d.patches ?? []) await client.patch(x.kind, x.name, x.namespace, x.patch);
  for (const x of d.deletes ?? []) {
    await client.delete(x.kind, x.name, x.namespace, { propagationPolicy: "Background" }).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
  }
  for (const e of d.events ?? []) ctx.events.record(obj, e.type, e.reason, e.message);
  if (d.finalizer && "add" in d.finalizer) replaced(ctx, obj, await addFinalizer(client, kind, obj, d.finalizer.add));
  if (d.finalizer && "remove" in d.finalizer) replaced(ctx, obj, await removeFinalizer(client, kind, obj, d.finalizer.remove));
  return d.requeueAfterMs !== undefined ? { requeueAfter: d.requeueAfterMs } : undefined;
}

/** Tells the controller the observed object is stale when a write produced a new version of it. */
function replaced(ctx: ApplyContext, observed: KubeObject, written: KubeObject | undefined): void {
  const before = observed.metadata.resourceVersion;
  const after = written?.metadata?.resourceVersion;
  if (before && after && after !== before) ctx.superseded?.(before);
}
