// The one "create unless it exists" every controller uses: idempotent creates are how a
// level-based reconcile converges after a crash between a create and the status that records it.
import type { Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";
import type { KubeClient } from "./client.ts";
import { isAlreadyExists } from "./errors.ts";

/**
 * Creates `obj` (any object of `kind`: a client-node V1 type or one of ours); resolves true when
 * this call created it, false when it already existed.
 */
export async function createIfAbsent(client: Pick<KubeClient, "create">, kind: Kind, obj: object): Promise<boolean> {
  try {
    await client.create(kind, obj as KubeObject);
    return true;
  } catch (e) {
    if (isAlreadyExists(e)) return false;
    throw e;
  }
}
