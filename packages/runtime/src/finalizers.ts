import type { CallOptions, KubeClient } from "./client.ts";
import type { Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";
import { withConflictRetry } from "./status.ts";

export function hasFinalizer(obj: KubeObject, finalizer: string): boolean {
  return (obj.metadata.finalizers ?? []).includes(finalizer);
}

/** Adds the finalizer (no request if present); conflict-safe via resourceVersion. */
export function addFinalizer<T extends KubeObject>(client: KubeClient, kind: Kind, obj: T, finalizer: string, o: CallOptions = {}): Promise<T> {
  return setFinalizers(client, kind, obj, (list) => (list.includes(finalizer) ? undefined : [...list, finalizer]), o);
}

/** Removes the finalizer (no request if absent); a 404 means the object is already gone. */
export function removeFinalizer<T extends KubeObject>(client: KubeClient, kind: Kind, obj: T, finalizer: string, o: CallOptions = {}): Promise<T> {
  return setFinalizers(client, kind, obj, (list) => (list.includes(finalizer) ? list.filter((f) => f !== finalizer) : undefined), o);
}

function setFinalizers<T extends KubeObject>(client: KubeClient, kind: Kind, obj: T, change: (list: string[]) => string[] | undefined, o: CallOptions): Promise<T> {
  return withConflictRetry(client, kind, obj, 5, async (current) => {
    const next = change(current.metadata.finalizers ?? []);
    if (!next) return current;
    // A merge patch replaces the whole list; the resourceVersion makes it fail rather than drop a concurrent change.
    const patch = { metadata: { finalizers: next, resourceVersion: current.metadata.resourceVersion } };
    return client.patch<T>(kind, current.metadata.name!, current.metadata.namespace, patch, o);
  }, o);
}
