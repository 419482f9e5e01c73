// Kind descriptors live in @dataprotection/api (one table for every package); the runtime
// addresses the API server with them.
import type { ResourceKind as Kind } from "@dataprotection/api";

export type { Kind };
export { Kinds } from "@dataprotection/api";

/** Identifies one object: namespace is absent for cluster-scoped kinds. */
export interface ObjectKey {
  namespace?: string;
  name: string;
}

export function apiVersionOf(kind: Kind): string {
  return kind.group === "" ? kind.version : `${kind.group}/${kind.version}`;
}

/** "group/version/Kind", used in logs and metric labels. */
export function kindId(kind: Kind): string {
  return `${kind.group || "core"}/${kind.version}/${kind.kind}`;
}

/** The URL path of a collection, object or subresource. */
export function resourcePath(kind: Kind, namespace?: string, name?: string, subresource?: string): string {
  let p = kind.group === "" ? `/api/${kind.version}` : `/apis/${kind.group}/${kind.version}`;
  if (kind.namespaced && namespace) p += `/namespaces/${encodeURIComponent(namespace)}`;
  p += `/${kind.plural}`;
  if (name !== undefined) p += `/${encodeURIComponent(name)}`;
  if (subresource) p += `/${subresource}`;
  return p;
}

/** "namespace/name" or "name": the workqueue and store key. */
export function keyOf(k: ObjectKey): string {
  return k.namespace ? `${k.namespace}/${k.name}` : k.name;
}

export function parseKey(key: string): ObjectKey {
  const i = key.indexOf("/");
  return i < 0 ? { name: key } : { namespace: key.slice(0, i), name: key.slice(i + 1) };
}
