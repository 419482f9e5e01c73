/** Addresses one resource type of the API server; controllers pass these for their CRDs. */
export interface Kind {
  /** "" for the core group. */
  group: string;
  version: string;
  kind: string;
  /** Lower-case plural used in URLs, e.g. "configmaps". */
  plural: string;
  namespaced: boolean;
}

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

const core = (kind: string, plural: string, namespaced = true): Kind => ({ group: "", version: "v1", kind, plural, namespaced });

/** Built-in kinds the controllers commonly need. */
export const Kinds = {
  ConfigMap: core("ConfigMap", "configmaps"),
  Secret: core("Secret", "secrets"),
  Pod: core("Pod", "pods"),
  PersistentVolumeClaim: core("PersistentVolumeClaim", "persistentvolumeclaims"),
  PersistentVolume: core("PersistentVolume", "persistentvolumes", false),
  Namespace: core("Namespace", "namespaces", false),
  Event: core("Event", "events"),
  Job: { group: "batch", version: "v1", kind: "Job", plural: "jobs", namespaced: true },
  StatefulSet: { group: "apps", version: "v1", kind: "StatefulSet", plural: "statefulsets", namespaced: true },
  Lease: { group: "coordination.k8s.io", version: "v1", kind: "Lease", plural: "leases", namespaced: true },
} satisfies Record<string, Kind>;
