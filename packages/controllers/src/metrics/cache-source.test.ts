import { expect } from "chai";
import { Registry } from "prom-client";
import { Cache, type KubeClient, type KubeObject, type WatchEvent } from "@dataprotection/runtime";
import { cacheSource } from "./cache-source.ts";
import { registerMetrics } from "./register.ts";

/** An API server stand-in: lists what it holds, and streams the events a test emits until the watch is aborted. */
class FakeApi {
  readonly objects = new Map<string, KubeObject[]>();
  private watchers = new Map<string, (e: WatchEvent) => void>();
  readonly client = {
    listAll: async (kind: { kind: string }) => ({ items: structuredClone(this.objects.get(kind.kind) ?? []), metadata: { resourceVersion: "1" } }),
    watch: (kind: { kind: string }, o: { signal?: AbortSignal }, onEvent: (e: WatchEvent) => void) =>
      new Promise<void>((_, reject) => {
        this.watchers.set(kind.kind, onEvent);
        o.signal?.addEventListener("abort", () => reject(o.signal?.reason), { once: true });
      }),
  } as unknown as KubeClient;

  async watching(kind: string): Promise<void> {
    for (let i = 0; i < 200 && !this.watchers.has(kind); i++) await new Promise((r) => setTimeout(r, 5));
    if (!this.watchers.has(kind)) throw new Error(`no watch on ${kind}`);
  }

  emit(kind: string, type: WatchEvent["type"], object: KubeObject): void {
    this.watchers.get(kind)!({ type, object: structuredClone(object) });
  }
}

let rv = 10;
const backup = (name: string, phase: string, extra: Record<string, unknown> = {}): KubeObject =>
  ({ metadata: { name, namespace: "ns", uid: name, resourceVersion: String(rv++) }, spec: { backupPolicyName: "pg" }, status: { phase, ...extra } }) as KubeObject;

async function failures(registry: Registry): Promise<number> {
  const values = (await registry.getSingleMetric("dataprotection_backup_failures_total")!.get()).values;
  return values.reduce((n, v) => n + v.value, 0);
}

describe("metrics: over the runtime's cache", () => {
  let cache: Cache | undefined;
  afterEach(async () => {
    await cache?.stop();
    cache = undefined;
  });

  it("does not count what was already terminal at the initial list (a restart), and counts what changes after", async () => {
    const api = new FakeApi();
    api.objects.set("Backup", [
      backup("failed-before", "Failed", { failureReason: "JobFailed: x", completionTimestamp: "2026-01-01T00:00:00Z" }),
      backup("running", "InProgress"),
    ]);
    cache = new Cache(api.client);
    const registry = new Registry();
    registerMetrics(registry, cacheSource(cache, () => true));
    const before = await registry.metrics();
    expect(before).not.to.match(/^dataprotection_backup_last_failure_timestamp_seconds\{/m); // not synced: no series
    cache.start();
    await cache.waitForSync();
    await api.watching("Backup");

    expect(await failures(registry)).to.equal(0);
    expect(await registry.metrics()).to.contain('dataprotection_backup_last_failure_timestamp_seconds{namespace="ns",policy="pg",type="datafile"} 1767225600');

    api.emit("Backup", "MODIFIED", backup("running", "Failed", { failureReason: "HookFailed: pre", completionTimestamp: "2026-01-02T00:00:00Z" }));
    api.emit("Backup", "MODIFIED", backup("running", "Failed", { failureReason: "HookFailed: pre", completionTimestamp: "2026-01-02T00:00:00Z", expiration: "2026-02-01T00:00:00Z" }));
    api.emit("Backup", "ADDED", backup("new-but-failed", "Failed", { failureReason: "JobFailed: x" }));
    expect(await failures(registry)).to.equal(1);
    expect(await registry.metrics()).to.contain('dataprotection_backup_failures_total{namespace="ns",policy="pg",type="datafile",reason="HookFailed"} 1');
    expect(await registry.metrics()).to.contain('dataprotection_backups{namespace="ns",policy="pg",type="datafile",phase="Failed"} 3');

    api.emit("Backup", "DELETED", backup("running", "Failed"));
    expect(await registry.metrics()).to.contain('dataprotection_backups{namespace="ns",policy="pg",type="datafile",phase="Failed"} 2');
  });
});
