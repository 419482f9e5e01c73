import { isDeepStrictEqual } from "node:util";
import type { CallOptions, KubeClient } from "./client.ts";
import { isConflict } from "./errors.ts";
import type { Kind } from "./kinds.ts";
import { clone, type KubeObject } from "./object.ts";
import { mergePatch } from "./patch.ts";

export interface UpdateStatusOptions extends CallOptions {
  /** "replace": PUT the whole object to /status; "merge": JSON merge patch of the status diff. Both carry resourceVersion. */
  mode?: "replace" | "merge";
  /** Conflicts to absorb by re-reading and re-applying mutate (default 5). */
  retries?: number;
}

/**
 * Writes status through the status subresource with optimistic concurrency.
 * mutate gets a mutable copy and may run again on a fresh copy after a 409, so it
 * must derive the status from its argument (level-based), not from counters outside.
 * No request is made when mutate changes nothing. Returns the object as stored.
 */
export async function updateStatus<T extends KubeObject & { status?: unknown }>(client: KubeClient, kind: Kind, obj: T, mutate: (draft: T) => void, o: UpdateStatusOptions = {}): Promise<T> {
  const call = { signal: o.signal };
  return withConflictRetry(client, kind, obj, o.retries ?? 5, async (current) => {
    const draft = clone(current);
    mutate(draft);
    if (isDeepStrictEqual(draft.status, current.status)) return current;
    if (o.mode === "merge") {
      const patch = { metadata: { resourceVersion: current.metadata.resourceVersion }, status: mergePatch(current.status ?? {}, draft.status ?? {}) };
      return client.patch<T>(kind, current.metadata.name!, current.metadata.namespace, patch, { subresource: "status", ...call });
    }
    return client.replace<T>(kind, draft, "status", call);
  }, call);
}

/** Runs write(current); on 409 Conflict reads the object again and retries. */
export async function withConflictRetry<T extends KubeObject>(client: KubeClient, kind: Kind, obj: T, retries: number, write: (current: T) => Promise<T>, o: CallOptions = {}): Promise<T> {
  let current = obj;
  for (let attempt = 0; ; attempt++) {
    try {
      return await write(current);
    } catch (e) {
      if (!isConflict(e) || attempt >= retries) throw e;
      current = await client.get<T>(kind, obj.metadata.name!, obj.metadata.namespace, o);
    }
  }
}
