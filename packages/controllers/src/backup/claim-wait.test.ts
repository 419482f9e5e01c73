import { expect } from "chai";
import type { V1PersistentVolumeClaim, V1StorageClass } from "@kubernetes/client-node";
import { classOf, claimWait } from "./claim-wait.ts";

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
