// The pure helpers behind every Backup decision: the whole status, owned children, deletions.
import { expect } from "chai";
import type { V1Job } from "@kubernetes/client-node";
import { Kinds } from "../kinds.ts";
import { deletions, owned, withStatus } from "./decision.ts";
import { LabelBackupName } from "./job.ts";
import { backup } from "./testdata.ts";

describe("withStatus", () => {
  it("puts the partial's top-level keys over the observed status and drops keys set to undefined, without touching the Backup", () => {
    const b = backup({}, { phase: "InProgress", failureReason: "JobFailed: x", attempts: 1, manifests: { backupTool: { filePath: "/ns/b1" } } });
    const s = withStatus(b, { phase: "Completed", failureReason: undefined, manifests: { backupLog: { stopTime: "t" } } });
    expect(s).to.deep.equal({ phase: "Completed", attempts: 1, manifests: { backupLog: { stopTime: "t" } } });
    expect(s).to.not.have.property("failureReason");
    expect(b.status).to.deep.equal({ phase: "InProgress", failureReason: "JobFailed: x", attempts: 1, manifests: { backupTool: { filePath: "/ns/b1" } } });
    expect(withStatus(backup(), { phase: "New" })).to.deep.equal({ phase: "New" });
  });
});

describe("owned", () => {
  it("makes the Backup the child's controller and labels it with the Backup's name, on a copy", () => {
    const j: V1Job = { apiVersion: "batch/v1", kind: "Job", metadata: { name: "b1-backup-1", namespace: "ns", labels: { a: "b" } } };
    const c = owned(backup(), Kinds.Job, j);
    expect(c.kind).to.equal(Kinds.Job);
    const meta = (c.object as V1Job).metadata!;
    expect(meta.ownerReferences).to.deep.equal([{ apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup", name: "b1", uid: "uid-b1", controller: true, blockOwnerDeletion: true }]);
    expect(meta.labels).to.deep.equal({ a: "b", [LabelBackupName]: "b1" });
    expect(j.metadata!.ownerReferences).to.equal(undefined);
  });
});

describe("deletions", () => {
  it("names each child in the Backup's namespace", () => {
    expect(deletions(backup(), Kinds.Job, ["x", "y"])).to.deep.equal([{ kind: Kinds.Job, name: "x", namespace: "ns" }, { kind: Kinds.Job, name: "y", namespace: "ns" }]);
  });
});
