import { expect } from "chai";
import type { RestoreJob } from "@dataprotection/api";
import { Finalizer } from "@dataprotection/api";
import { decideDeletion, type DeletionObservation } from "./deletion.ts";
import type { JobState } from "./decide.ts";
import { restoreJob, statefulSet } from "./fixtures.test-util.ts";

const deleted = (o: { finalizer?: boolean; restarted?: boolean } = {}): RestoreJob => {
  const rj = restoreJob({
    phase: "InProgressPhy",
    annotations: { "dataprotection.kubeblocks.io/original-replicas": "db=2" },
    conditions: o.restarted ? [{ type: "WorkloadRestarted", status: "True", reason: "ScaledBack", lastTransitionTime: "2024-05-01T12:00:00Z" }] : [],
  });
  rj.metadata.deletionTimestamp = "2024-05-01T12:00:00Z" as never;
  rj.metadata.finalizers = o.finalizer === false ? [] : [Finalizer];
  return rj;
};
const job = (deleting = false): JobState => ({ phase: "running", failures: 0, deleting });
const obs = (rj: RestoreJob, o: Partial<DeletionObservation> = {}): DeletionObservation => ({
  restore: rj, jobs: new Map(), recorded: { name: "db", replicas: 2 }, statefulSets: [statefulSet("db", 0)], ...o,
});
/** What the decision does, in the order apply does it. */
const kinds = (d: ReturnType<typeof decideDeletion>) => [
  ...(d.prepare ?? []).map((p) => (p.type === "scaleBack" ? `scale:${p.statefulSet}=${p.replicas}` : p.type === "deleteJob" ? `deleteJob:${p.name}` : p.type)),
  ...[...(d.creates ?? []), ...(d.patches ?? []), ...(d.deletes ?? [])].map(() => "unexpected"),
  ...(d.finalizer && "remove" in d.finalizer && d.finalizer.remove === Finalizer ? ["removeFinalizer"] : []),
];

describe("RestoreJob deletion", () => {
  it("does nothing for a RestoreJob without the finalizer (it never scaled anything down)", () => {
    expect(kinds(decideDeletion(obs(deleted({ finalizer: false }))))).to.deep.equal([]);
  });

  it("stops the restore Jobs first (foreground) and waits for them before touching the StatefulSet", () => {
    const d = decideDeletion(obs(deleted(), { jobs: new Map([["rj-restore", job()], ["rj-verify", job(true)]]) }));
    expect(kinds(d)).to.deep.equal(["deleteJob:rj-restore"], "a Job already being deleted is not deleted again");
    expect(d.requeueAfterMs).to.be.greaterThan(0);
  });

  it("scales the StatefulSet back to the recorded replicas with a Warning, then releases the finalizer", () => {
    const d = decideDeletion(obs(deleted()));
    expect(kinds(d)).to.deep.equal(["scale:db=2", "removeFinalizer"]);
    expect(d.events?.[0]).to.include({ type: "Warning", reason: "ScalingUp" });
    expect(d.events?.[0]!.message).to.contain('was deleted before it finished: scaling StatefulSet "db" back to 2 replicas');
  });

  it("only releases the finalizer when the workload was already scaled back or is gone", () => {
    expect(kinds(decideDeletion(obs(deleted({ restarted: true }))))).to.deep.equal(["removeFinalizer"]);
    expect(kinds(decideDeletion(obs(deleted(), { statefulSets: [] })))).to.deep.equal(["removeFinalizer"]);
    expect(kinds(decideDeletion(obs(deleted(), { statefulSets: [statefulSet("db", 2)] })))).to.deep.equal(["removeFinalizer"]);
  });
});
