import { expect } from "chai";
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { classOf, claimBound, claimWait } from "./claim-wait.ts";
import { pvcAccess } from "./destination.ts";
import { Reason } from "./reasons.ts";
import { backup, writes } from "./testdata.ts";

const NOW = new Date("2024-05-01T10:00:00Z");
const pvc = (o: { phase?: string; cls?: string; volumeName?: string; created?: string } = {}): V1PersistentVolumeClaim => ({
  metadata: { name: "dp-backup-repo", creationTimestamp: (o.created ?? "2024-05-01T09:59:50Z") as unknown as Date },
  spec: { ...(o.cls !== undefined ? { storageClassName: o.cls } : {}), ...(o.volumeName ? { volumeName: o.volumeName } : {}) },
  status: o.phase ? { phase: o.phase } : {},
});
const sc = (name: string, mode: string, isDefault = false): V1StorageClass => ({
  metadata: { name, annotations: isDefault ? { "storageclass.kubernetes.io/is-default-class": "true" } : {} }, provisioner: "p", volumeBindingMode: mode,
});

describe("claimWait", () => {
  it("is ready once bound, pre-bound to a volume, or of a WaitForFirstConsumer class", () => {
    expect(claimWait("c", "ns", pvc({ phase: "Bound" }), undefined, NOW, 60_000).kind).to.equal("ready");
    expect(claimWait("c", "ns", pvc({ volumeName: "pv-1" }), undefined, NOW, 60_000).kind).to.equal("ready");
    expect(claimWait("c", "ns", pvc({ phase: "Pending" }), sc("wffc", "WaitForFirstConsumer"), NOW, 60_000).kind).to.equal("ready");
  });

  it("waits for an Immediate claim to bind, then fails naming it and where to look once the bound passed", () => {
    expect(claimWait("c", "ns", undefined, undefined, NOW, 60_000)).to.include({ kind: "wait" });
    expect(claimWait("c", "ns", pvc({ phase: "Pending" }), sc("fast", "Immediate"), NOW, 60_000)).to.deep.equal({
      kind: "wait", message: 'waiting for PersistentVolumeClaim "ns/c" (Pending) to bind before starting the tool pod', retryAfterMs: 1_000,
    });
    expect(claimWait("c", "ns", pvc({ phase: "Pending", created: "2024-05-01T09:58:00Z" }), undefined, NOW, 60_000)).to.deep.equal({
      kind: "fail", message: 'PersistentVolumeClaim "ns/c" for the backup data is still Pending after 120s: check its events (kubectl -n ns describe pvc c) and its StorageClass',
    });
  });

  it("finds the claim's class, or the default class when it names none", () => {
    const classes = [sc("fast", "Immediate"), sc("local", "WaitForFirstConsumer", true)];
    expect(classOf(pvc({ cls: "fast" }), classes)?.metadata?.name).to.equal("fast");
    expect(classOf(pvc(), classes)?.metadata?.name).to.equal("local");
    expect(classOf(pvc({ cls: "" }), classes)).to.equal(undefined);
  });
});

describe("claimBound", () => {
  const claim = { name: "dp-backup-repo", create: true, capacity: "1Gi", accessModes: ["ReadWriteOnce"], labels: {} };
  const dest = { access: pvcAccess("dp-backup-repo"), claim };
  const b = backup({}, { phase: "New" });

  it("has nothing to wait for without a backup PVC, or once it is ready", () => {
    expect(claimBound(b, undefined, undefined, undefined, NOW, 60_000)).to.equal(undefined);
    expect(claimBound(b, dest, pvc({ phase: "Bound" }), undefined, NOW, 60_000)).to.equal(undefined);
  });

  it("creates a missing policy claim first, as a prerequisite, and decides on it from the next pass", () => {
    const d = claimBound(b, dest, undefined, undefined, NOW, 60_000)!;
    expect(d.prepare).to.deep.equal([{ kind: "ensureClaim", claim }]);
    expect(writes(d)).to.deep.equal(["ensureClaim"]);
    expect(d.status).to.equal(undefined);
    expect(d.requeueAfterMs).to.be.greaterThan(0);
  });

  it("waits, New with PVCPending, for a missing repo PVC or a claim still binding; then fails with PVCNotBound", () => {
    const missing = claimBound(b, { repoName: "r", access: pvcAccess("dp-backup-repo") }, undefined, undefined, NOW, 60_000)!;
    expect(missing.status).to.include({ phase: "New" });
    expect(missing.events).to.deep.equal([{ type: "Normal", reason: Reason.PVCPending, message: 'creating PersistentVolumeClaim "ns/dp-backup-repo" for the backup data' }]);
    const pending = claimBound(b, dest, pvc({ phase: "Pending" }), sc("fast", "Immediate"), NOW, 60_000)!;
    expect([pending.status?.phase, pending.events![0].reason, pending.requeueAfterMs]).to.deep.equal(["New", Reason.PVCPending, 1_000]);
    const stuck = claimBound(b, dest, pvc({ phase: "Pending", created: "2024-05-01T09:58:00Z" }), sc("fast", "Immediate"), NOW, 60_000)!;
    expect(stuck.status?.phase).to.equal("Failed");
    expect(stuck.status?.failureReason).to.match(new RegExp(`^${Reason.PVCNotBound}: PersistentVolumeClaim "ns/dp-backup-repo" for the backup data is still Pending after 120s`));
  });
});
