import type { Logger } from "winston";
import type { KubeClient } from "./client.ts";
import type { Clock } from "./clock.ts";
import { Informer, type InformerOptions, type RestartReason } from "./informer.ts";
import { kindId, type Kind } from "./kinds.ts";
import type { KubeObject } from "./object.ts";
import { matchesSelector, type LabelSelector } from "./selector.ts";
import { NamespaceIndex, OwnerIndex, type IndexFunc } from "./store.ts";

export interface CacheOptions {
  /** Watch namespaced kinds in this namespace only. */
  namespace?: string;
  clock?: Clock;
  logger?: Logger;
  /** Per-informer overrides (timeouts, backoff); mostly for tests. */
  informer?: Pick<InformerOptions, "backoff" | "watchTimeoutSeconds" | "idleTimeoutMs" | "absentRetryMs">;
  onRestart?(kind: Kind, reason: RestartReason): void;
  onRelist?(kind: Kind): void;
}

export interface CacheListOptions {
  namespace?: string;
  /** Equality map or a full metav1.LabelSelector. */
  labels?: Record<string, string> | LabelSelector;
  /** Look up by a registered index instead of scanning. */
  index?: { name: string; value: string };
}

/**
 * Read side of the runtime: one informer per kind, started on first use.
 * Returned objects are frozen; clone() one before changing it.
 */
export class Cache {
  private informers = new Map<string, Informer>();
  private started = false;

  constructor(
    private readonly client: KubeClient,
    private readonly o: CacheOptions = {},
  ) {}

  /**
   * The informer of a kind, created (and started, if the cache runs) on first call. `optional`
   * (decided by the first call) tolerates a kind the API server does not serve: see isAvailable().
   */
  informer(kind: Kind, o: { optional?: boolean } = {}): Informer {
    const id = kindId(kind);
    let inf = this.informers.get(id);
    if (!inf) {
      inf = new Informer(this.client, kind, {
        ...this.o.informer,
        optional: o.optional,
        namespace: kind.namespaced ? this.o.namespace : undefined,
        clock: this.o.clock,
        logger: this.o.logger,
        onRestart: (r) => this.o.onRestart?.(kind, r),
        onRelist: () => this.o.onRelist?.(kind),
      });
      this.informers.set(id, inf);
      if (this.started) inf.start();
    }
    return inf;
  }

  /** Registers a secondary index, e.g. Backups by `spec.backupPolicyName`. */
  addIndex(kind: Kind, name: string, fn: IndexFunc): void {
    const store = this.informer(kind).store;
    if (!store.hasIndex(name)) store.addIndex(name, fn);
  }

  /** Whether a cached kind is served: always true once synced, except for an absent optional kind. */
  isAvailable(kind: Kind): boolean {
    return this.synced(kind).available;
  }

  get<T extends KubeObject>(kind: Kind, name: string, namespace?: string): T | undefined {
    const key = kind.namespaced ? `${namespace ?? ""}/${name}` : name;
    return this.synced(kind).store.get(key) as T | undefined;
  }

  list<T extends KubeObject>(kind: Kind, o: CacheListOptions = {}): T[] {
    const store = this.synced(kind).store;
    let objs: KubeObject[];
    if (o.index) objs = store.byIndex(o.index.name, o.index.value);
    else if (o.namespace !== undefined) objs = store.byIndex(NamespaceIndex, o.namespace);
    else objs = [...store.values()];
    if (o.index && o.namespace !== undefined) objs = objs.filter((x) => x.metadata.namespace === o.namespace);
    if (o.labels) {
      const sel: LabelSelector = "matchLabels" in o.labels || "matchExpressions" in o.labels ? (o.labels as LabelSelector) : { matchLabels: o.labels as Record<string, string> };
      objs = objs.filter((x) => matchesSelector(x.metadata.labels, sel));
    }
    return objs as T[];
  }

  /** Children of an owner UID, via the built-in owner index. */
  ownedBy<T extends KubeObject>(kind: Kind, ownerUid: string): T[] {
    return this.list<T>(kind, { index: { name: OwnerIndex, value: ownerUid } });
  }

  start(): void {
    this.started = true;
    for (const inf of this.informers.values()) inf.start();
  }

  async waitForSync(signal?: AbortSignal): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.waitForSync(signal)));
  }

  get hasSynced(): boolean {
    return [...this.informers.values()].every((i) => i.hasSynced);
  }

  async stop(): Promise<void> {
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
  }

  private synced(kind: Kind): Informer {
    const inf = this.informers.get(kindId(kind));
    if (!inf) throw new Error(`${kind.kind} is not cached: register it (for/owns/watches or cache.informer) before start`);
    if (!inf.hasSynced) throw new Error(`cache for ${kind.kind} has not synced yet`);
    return inf;
  }
}
