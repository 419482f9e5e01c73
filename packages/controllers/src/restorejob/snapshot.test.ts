import { expect } from "chai";
import type { V1StatefulSet } from "@kubernetes/client-node";
import { mapClaimsToSnapshots, type PvcView, type SnapshotView } from "./snapshot.ts";

const sts = (name: string, templates: Array<{ name: string; type?: string }>): V1StatefulSet => ({
  metadata: { name },
  spec: {
    serviceName: name, selector: {}, template: {},
    volumeClaimTemplates: templates.map((t) => ({ metadata: { name: t.name, labels: (t.type ? { "kubeblocks.io/volume-type": t.type } : {}) as Record<string, string> } })),
  },
});
const snap = (name: string, volumeType: string, sourceClaim?: string): SnapshotView => ({ name, volumeType, sourceClaim, readyToUse: true });
const none = new Map<string, PvcView>();
const names = (r: ReturnType<typeof mapClaimsToSnapshots>) => (r.ok ? Object.fromEntries([...r.map].map(([c, s]) => [c, s.name])) : r.message);

describe("mapClaimsToSnapshots", () => {
  const both = [snap("b1", "data", "data-db-0"), snap("b1-log-1", "log", "wal-db-0")];

  it("restoring in place: each claim gets the snapshot taken from it", () => {
    expect(names(mapClaimsToSnapshots(["data-db-0", "wal-db-0"], both, sts("db", [{ name: "data" }, { name: "wal" }]), none))).to.deep.equal({ "data-db-0": "b1", "wal-db-0": "b1-log-1" });
  });

  it("into another StatefulSet: by the volume type of the claim's template (label, or a template named log...)", () => {
    const labelled = sts("fresh", [{ name: "data", type: "data" }, { name: "wal", type: "log" }]);
    expect(names(mapClaimsToSnapshots(["data-fresh-0", "wal-fresh-0"], both, labelled, none))).to.deep.equal({ "data-fresh-0": "b1", "wal-fresh-0": "b1-log-1" });
    const byName = sts("fresh", [{ name: "data" }, { name: "logs" }]);
    expect(names(mapClaimsToSnapshots(["data-fresh-0", "logs-fresh-0"], both, byName, none))).to.deep.equal({ "data-fresh-0": "b1", "logs-fresh-0": "b1-log-1" });
  });

  it("a claim outside any template: by its own label, else data", () => {
    const pvcs = new Map<string, PvcView>([["scratch-wal", { ours: false, terminating: false, bound: true, volumeType: "log" }]]);
    expect(names(mapClaimsToSnapshots(["scratch-wal", "scratch-main"], both, undefined, pvcs))).to.deep.equal({ "scratch-wal": "b1-log-1", "scratch-main": "b1" });
  });

  it("among several of a type, the one from a claim of the same template", () => {
    const two = [snap("b1", "data", "data-db-0"), snap("b1-data-1", "data", "extra-db-0")];
    expect(names(mapClaimsToSnapshots(["extra-new-0", "data-new-0"], two, sts("new", [{ name: "data" }, { name: "extra" }]), none))).to.deep.equal({ "extra-new-0": "b1-data-1", "data-new-0": "b1" });
  });

  it("names the claim, its type and what the backup has when a type is missing", () => {
    expect(names(mapClaimsToSnapshots(["data-db-0", "log-db-0"], [snap("b1", "data", "data-db-0")], sts("db", [{ name: "data" }, { name: "log" }]), none)))
      .to.equal('target claim "log-db-0" is a log volume but the backup has no log VolumeSnapshot (it has "b1" (data)): remove the claim from .spec.targetVolumes or label it kubeblocks.io/volume-type');
  });
});
