// The shell over a recording client: what reaches the API server, in order (applyDecision's
// order with this controller's prerequisites first).
import { expect } from "chai";
import { Finalizer, type RestoreJob } from "@dataprotection/api";
import { ApiError, type Kind, type KubeObject, type ReconcileContext } from "@dataprotection/runtime";
import { repoPVCName } from "../backuprepo/access.ts";
import { defaultTimeouts, type OperatorContext } from "../options.ts";
import { restoreJobReconciler } from "./reconcile.ts";
import { backup, repo, restoreJob, statefulSet, tool } from "./fixtures.test-util.ts";

const conflict = () => new ApiError(409, "Conflict", "the object has been modified", "Conflict");
const notFound = () => new ApiError(404, "NotFound", "not found", "NotFound");
const verified = { type: "Verified", status: "True", reason: "ChecksumsMatch", lastTransitionTime: "2024-05-01T11:00:00Z" };
const op = { agentImage: "agent:1", timeouts: defaultTimeouts, allowHostPathRestore: false } as unknown as OperatorContext;

/** `cached` by kind is what the cache holds; `live` (by "Kind/name") what the client's reads find. */
function fakeCtx(cached: Record<string, object[]>, o: { live?: string[]; conflictOn?: string } = {}) {
  const calls: string[] = [];
  const objs = (kind: Kind) => (cached[kind.kind] ?? []) as KubeObject[];
  const fail = (what: string) => {
    if (o.conflictOn === what) throw conflict();
  };
  const client = {
    get: async (kind: Kind, name: string) => {
      calls.push(`get ${kind.kind}/${name}`);
      if (!o.live?.includes(`${kind.kind}/${name}`)) throw notFound();
      return { metadata: { name } };
    },
    list: async () => ({ items: [] }),
    create: async (kind: Kind, obj: KubeObject) => void calls.push(`create ${kind.kind}/${obj.metadata.name}`),
    replace: async (kind: Kind, obj: KubeObject, sub?: string) => {
      calls.push(`replace ${kind.kind}/${obj.metadata.name}/${sub} rv=${obj.metadata.resourceVersion}`);
      return obj;
    },
    patch: async (kind: Kind, name: string, _ns: string | undefined, patch: unknown) => {
      calls.push(`patch ${kind.kind}/${name} ${JSON.stringify(patch)}`);
      fail(`patch ${kind.kind}`);
      return { metadata: { name } };
    },
    delete: async (kind: Kind, name: string, _ns: string | undefined, d?: { propagationPolicy?: string }) => void calls.push(`delete ${kind.kind}/${name} ${d?.propagationPolicy}`),
  };
  const ctx = {
    cache: {
      get: (kind: Kind, name: string) => objs(kind).find((x) => x.metadata.name === name),
      list: (kind: Kind) => objs(kind),
      ownedBy: (kind: Kind, uid: string) => objs(kind).filter((x) => x.metadata.ownerReferences?.some((r) => r.uid === uid)),
    },
    client,
    events: { record: (_o: KubeObject, type: string, reason: string) => void calls.push(`event ${type}/${reason}`) },
    clock: { now: () => Date.parse("2024-05-01T12:00:00Z") },
    log: { debug: () => undefined },
    signal: new AbortController().signal,
  } as unknown as ReconcileContext;
  return { calls, ctx };
}

function restore(o: { replicas?: string; finalizer?: boolean; deleting?: boolean; conditions?: object[] } = {}): RestoreJob {
  const rj = restoreJob({ phase: "InProgressPhy", conditions: (o.conditions ?? [verified]) as never, annotations: o.replicas ? { "dataprotection.kubeblocks.io/original-replicas": o.replicas } : undefined });
  rj.metadata.resourceVersion = "7";
  rj.metadata.finalizers = o.finalizer ? [Finalizer] : undefined;
  if (o.deleting) rj.metadata.deletionTimestamp = "2024-05-01T11:59:00Z" as never;
  return rj;
}
const restoreJobOf = (name: string, done: boolean) => ({
  metadata: { name, namespace: "ns", uid: `uid-${name}`, ownerReferences: [{ uid: "uid-rj", controller: true }] },
  status: done ? { conditions: [{ type: "Complete", status: "True" }] } : {},
});
const world = (rj: RestoreJob, sts: object, jobs: object[] = []) => ({
  RestoreJob: [rj], Backup: [backup("full")], BackupTool: [tool("vol", { physical: ["pull"] })], BackupRepo: [repo()],
  StorageProvider: [{ metadata: { name: "p" }, spec: {} }], StatefulSet: [sts], Job: jobs,
});
const run = (ctx: ReconcileContext) => restoreJobReconciler(op)({ namespace: "ns", name: "rj" }, ctx);
const recordPatch = `patch RestoreJob/rj {"metadata":{"resourceVersion":"7","finalizers":["${Finalizer}"],"annotations":{"dataprotection.kubeblocks.io/original-replicas":"db=3"}}}`;

describe("restorejob shell", () => {
  it("records the replicas alone (a resourceVersion-guarded patch with the finalizer, no status write) and decides again", async () => {
    const { calls, ctx } = fakeCtx(world(restore(), statefulSet("db", 3)));
    expect(await run(ctx)).to.deep.equal({ requeueAfter: 1 });
    expect(calls).to.deep.equal([recordPatch]);
  });

  it("a record made from a stale RestoreJob is dropped and decided again, not an error", async () => {
    const { calls, ctx } = fakeCtx(world(restore(), statefulSet("db", 3)), { conflictOn: "patch RestoreJob" });
    expect(await run(ctx)).to.deep.equal({ requeueAfter: 1 });
    expect(calls).to.deep.equal([recordPatch]);
  });

  it("scales down after the status, then the Event", async () => {
    const { calls, ctx } = fakeCtx(world(restore({ replicas: "db=3", finalizer: true }), statefulSet("db", 3)));
    await run(ctx);
    expect(calls).to.deep.equal(["replace RestoreJob/rj/status rv=7", `patch StatefulSet/db {"spec":{"replicas":0}}`, "event Normal/ScalingDown"]);
  });

  it("makes sure of the repo's PVC before it creates the restore Job, then the status and the Event", async () => {
    const pvc = repoPVCName("repo");
    const { calls, ctx } = fakeCtx(world(restore({ replicas: "db=3", finalizer: true }), statefulSet("db", 0)), { live: [`PersistentVolumeClaim/${pvc}`] });
    await run(ctx);
    expect(calls).to.deep.equal([`get PersistentVolumeClaim/${pvc}`, "create Job/rj-restore", "replace RestoreJob/rj/status rv=7", "event Normal/Restoring"]);
  });

  it("creates no Job built from a StorageProvider that changed since it was observed: the reconcile fails and decides again", async () => {
    const toolRepo = { ...repo(), spec: { ...repo().spec, accessMethod: "Tool" } };
    const cached: Record<string, object[]> = { ...world(restore({ replicas: "db=3", finalizer: true }), statefulSet("db", 0)), BackupRepo: [toolRepo] };
    let reads = 0;
    // Absent when observed, there when the prerequisite reads it.
    Object.defineProperty(cached, "StorageProvider", { get: () => (reads++ ? [{ metadata: { name: "p" }, spec: { agentConfigTemplate: "type=filesystem\nroot=/x" } }] : []) });
    const { calls, ctx } = fakeCtx(cached);
    let err: unknown;
    await run(ctx).catch((e: unknown) => (err = e));
    expect((err as Error).message).to.match(/BackupRepo "repo" or its StorageProvider changed while deciding/);
    expect(calls).to.deep.equal([]);
  });

  it("scales back before the status says WorkloadRestarted, and releases the finalizer last", async () => {
    const { calls, ctx } = fakeCtx(world(restore({ replicas: "db=3", finalizer: true }), statefulSet("db", 0), [restoreJobOf("rj-restore", true)]));
    expect(await run(ctx)).to.equal(undefined);
    expect(calls).to.deep.equal([
      `patch StatefulSet/db {"spec":{"replicas":3}}`, "replace RestoreJob/rj/status rv=7", "event Normal/ScalingUp", "event Normal/Completed",
      `patch RestoreJob/rj {"metadata":{"finalizers":[],"resourceVersion":"7"}}`,
    ]);
  });

  it("deleted mid-restore: deletes its Jobs in the foreground and waits; once they are gone, scales back, then lets it go", async () => {
    const rj = restore({ replicas: "db=3", finalizer: true, deleting: true });
    const first = fakeCtx(world(rj, statefulSet("db", 0), [restoreJobOf("rj-restore", false)]));
    expect(await run(first.ctx)).to.deep.equal({ requeueAfter: 1_000 });
    expect(first.calls).to.deep.equal(["delete Job/rj-restore Foreground"]);
    const then = fakeCtx(world(rj, statefulSet("db", 0)));
    expect(await run(then.ctx)).to.equal(undefined);
    expect(then.calls).to.deep.equal([`patch StatefulSet/db {"spec":{"replicas":3}}`, "event Warning/ScalingUp", `patch RestoreJob/rj {"metadata":{"finalizers":[],"resourceVersion":"7"}}`]);
  });
});
