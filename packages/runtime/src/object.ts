import type { V1ObjectMeta } from "@kubernetes/client-node";

/** Any Kubernetes object as the runtime sees it: metadata is always present. */
export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: V1ObjectMeta;
}

/** Objects of kinds the runtime has no type for (tests, arbitrary CRDs). */
export interface GenericObject extends KubeObject {
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
  [field: string]: unknown;
}

export function objectKey(obj: KubeObject): string {
  const ns = obj.metadata.namespace;
  return ns ? `${ns}/${obj.metadata.name}` : `${obj.metadata.name}`;
}

/** Freezes an object graph so a cached object cannot be changed by a caller. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

/** A mutable copy of a (possibly frozen) cached object. */
export function clone<T>(value: T): T {
  return structuredClone(value);
}
