// The shells over a recording client: what reaches the API server, in order, and the one
// conflict policy (a status decided from a stale CR is dropped with its Events, and requeued).
import { expect } from "chai";
import { ApiError, type Kind, type KubeObject, type ReconcileContext } from "@dataprotection/runtime";
import { PLAIN_TOOL_NAME, TOOL_NAME, threescaleToolFor } from "../tool/definition.ts";
import { APIManagerBackupReconciler, APIManagerRestoreReconciler } from "./reconcile.ts";

const notFound = () => new ApiError(404, "NotFound", "not found", "NotFound");

/** `cached` is what the cache holds; `live` what the client's reads find. */
function fakeCtx(o: { cached: KubeObject[]; live?: KubeObject[]; statusConflict?: boolean }) {
  const calls: string[] = [];
  const find = (list: KubeObject[], kind: Kind, name: string, ns?: string) => list.find((x) => x.kind === kind.kind && x.metadata.name === name && x.metadata.namespace === ns);
  const client = {
    get: async (kind: Kind, name: string, ns?: string) => find(o.live ?? [], kind, name, ns) ?? Promise.reject(notFound()),
    list: async () => ({ items: [] }),
    create: async (kind: Kind, obj: KubeObject) => void calls.push(`create ${kind.kind}/${obj.metadata.name}`),
    replace: async (kind: Kind, obj: KubeObject, sub?: string) => {
      calls.push(`replace ${kind.kind}/${obj.metadata.name}${sub ? `/${sub} rv=${obj.metadata.resourceVersion}` : ""}`);
      if (sub && o.statusConflict) throw new ApiError(409, "Conflict", "the object has been modified", "Conflict");
      return obj;
    },
  };
  const record = (_o: KubeObject, type: string, reason: string) => void calls.push(`event ${type}/${reason}`);
  const ctx = {
    cache: {
      get: (kind: Kind, name: string, ns?: string) => find(o.cached, kind, name, ns),
      list: (kind: Kind, f: { namespace?: string }) => o.cached.filter((x) => x.kind === kind.kind && x.metadata.namespace === f.namespace),
    },
    client,
    events: { record, normal: (obj: KubeObject, reason: string) => record(obj, "Normal", reason) },
    clock: { now: () => Date.parse("2024-05-01T10:00:00Z") },
    log: { debug: () => undefined },
  } as unknown as ReconcileContext;
  return { calls, ctx };
}

const apimanager = { apiVersion: "apps.3scale.net/v1alpha1", kind: "APIManager", metadata: { name: "am", namespace: "ns", uid: "amu" } };
const backupCR = { apiVersion: "apps.3scale.net/v1alpha1", kind: "APIManagerBackup", metadata: { name: "b", namespace: "ns", uid: "u1", resourceVersion: "7" }, spec: { backupDestination: { persistentVolumeClaim: {} } } };

describe("threescale controllers: the APIManagerBackup shell", () => {
  const reconciler = new APIManagerBackupReconciler({ timeouts: { podStartMs: 300_000 } }, {});
  it("starts: tools and the destination PVC, then RBAC, policy and Backup, then the status at the observed resourceVersion, then the Event", async () => {
    const { calls, ctx } = fakeCtx({ cached: [apimanager, backupCR] });
    const r = await reconciler.reconcile({ namespace: "ns", name: "b" }, ctx);
    expect(calls).to.deep.equal([
      `create BackupTool/${TOOL_NAME}`, `create BackupTool/${PLAIN_TOOL_NAME}`, "create PersistentVolumeClaim/b", "event Normal/DestinationCreated",
      "create ServiceAccount/threescale-apimanager", "create RoleBinding/threescale-apimanager", "create BackupPolicy/b-threescale", "create Backup/b",
      "replace APIManagerBackup/b/status rv=7", "event Normal/BackupStarted",
    ]);
    expect(r).to.deep.equal({ requeueAfter: 5_000 });
  });
  it("brings a drifted tool back and leaves an existing PVC (no Event); a stale status is dropped with its Event and requeued", async () => {
    const drifted = { ...threescaleToolFor(), spec: { ...threescaleToolFor().spec, image: "old" } };
    const live = [drifted, threescaleToolFor({ plain: true }), { apiVersion: "v1", kind: "PersistentVolumeClaim", metadata: { name: "b", namespace: "ns" } }] as KubeObject[];
    const { calls, ctx } = fakeCtx({ cached: [apimanager, backupCR], live, statusConflict: true });
    const r = await reconciler.reconcile({ namespace: "ns", name: "b" }, ctx);
    expect(calls.filter((c) => !c.startsWith("create"))).to.deep.equal([`replace BackupTool/${TOOL_NAME}`, "replace APIManagerBackup/b/status rv=7"]);
    expect(r).to.deep.equal({ requeue: true });
  });
});

describe("threescale controllers: the APIManagerRestore shell", () => {
  it("from a PVC: RBAC and the direct Job, then the status and the Event", async () => {
    const cr = { apiVersion: "apps.3scale.net/v1alpha1", kind: "APIManagerRestore", metadata: { name: "r", namespace: "ns", uid: "u2", resourceVersion: "3" }, spec: { restoreSource: { persistentVolumeClaim: { claimSource: { claimName: "b" } } } } };
    const { calls, ctx } = fakeCtx({ cached: [cr] });
    await new APIManagerRestoreReconciler({ timeouts: { podStartMs: 300_000 } }, {}).reconcile({ namespace: "ns", name: "r" }, ctx);
    expect(calls).to.deep.equal(["create ServiceAccount/threescale-apimanager", "create RoleBinding/threescale-apimanager", "create Job/r-restore", "replace APIManagerRestore/r/status rv=3", "event Normal/RestoreStarted"]);
  });
});
