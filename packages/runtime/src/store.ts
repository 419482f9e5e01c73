import { objectKey, type KubeObject } from "./object.ts";

/** Maps an object to the index values it is found under. */
export type IndexFunc = (obj: KubeObject) => string[];

/** Built-in index: the UIDs of an object's owners (children by owner UID). */
export const OwnerIndex = "ownerUid";
/** Built-in index: the object's namespace (narrows label scans). */
export const NamespaceIndex = "namespace";

export const ownerUids: IndexFunc = (o) => (o.metadata.ownerReferences ?? []).map((r) => r.uid);
const namespaceOfObj: IndexFunc = (o) => [o.metadata.namespace ?? ""];

/** Objects by key, plus secondary indexes kept up to date on every change. */
export class Store {
  private items = new Map<string, KubeObject>();
  private indexers = new Map<string, IndexFunc>();
  private indices = new Map<string, Map<string, Set<string>>>();

  constructor() {
    this.addIndex(OwnerIndex, ownerUids);
    this.addIndex(NamespaceIndex, namespaceOfObj);
  }

  get size(): number {
    return this.items.size;
  }

  addIndex(name: string, fn: IndexFunc): void {
    if (this.indexers.has(name)) throw new Error(`index "${name}" already exists`);
    this.indexers.set(name, fn);
    const idx = new Map<string, Set<string>>();
    this.indices.set(name, idx);
    for (const [key, obj] of this.items) for (const v of fn(obj)) addTo(idx, v, key);
  }

  hasIndex(name: string): boolean {
    return this.indexers.has(name);
  }

  get(key: string): KubeObject | undefined {
    return this.items.get(key);
  }

  keys(): IterableIterator<string> {
    return this.items.keys();
  }

  values(): IterableIterator<KubeObject> {
    return this.items.values();
  }

  /** Stores obj; returns the object it replaced. */
  upsert(obj: KubeObject): KubeObject | undefined {
    const key = objectKey(obj);
    const old = this.items.get(key);
    if (old) this.unindex(key, old);
    this.items.set(key, obj);
    for (const [name, fn] of this.indexers) for (const v of fn(obj)) addTo(this.indices.get(name)!, v, key);
    return old;
  }

  remove(key: string): KubeObject | undefined {
    const old = this.items.get(key);
    if (!old) return undefined;
    this.unindex(key, old);
    this.items.delete(key);
    return old;
  }

  byIndex(name: string, value: string): KubeObject[] {
    const idx = this.indices.get(name);
    if (!idx) throw new Error(`no index "${name}"`);
    return [...(idx.get(value) ?? [])].map((k) => this.items.get(k)!);
  }

  private unindex(key: string, obj: KubeObject): void {
    for (const [name, fn] of this.indexers) {
      const idx = this.indices.get(name)!;
      for (const v of fn(obj)) {
        const set = idx.get(v);
        set?.delete(key);
        if (set?.size === 0) idx.delete(v);
      }
    }
  }
}

function addTo(idx: Map<string, Set<string>>, v: string, key: string): void {
  let s = idx.get(v);
  if (!s) idx.set(v, (s = new Set()));
  s.add(key);
}
