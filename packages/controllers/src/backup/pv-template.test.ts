import { expect } from "chai";
import { persistentVolumeFromTemplate } from "./pv-template.ts";

const template = `
apiVersion: v1
kind: PersistentVolume
metadata:
  name: pv-$(GENERATE_NAME)
spec:
  capacity: { storage: 10Gi }
  accessModes: [ReadWriteMany]
  persistentVolumeReclaimPolicy: Retain
  storageClassName: nfs
  nfs: { server: 10.0.0.5, path: /exports/$(GENERATE_NAME) }
`;

describe("persistentVolumeFromTemplate", () => {
  it("replaces $(GENERATE_NAME) with <pvc>-<namespace> and pre-binds the PV to the claim", () => {
    const r = persistentVolumeFromTemplate(template, "backup-data", "db", 'ConfigMap "ops/pv"');
    if (!r.ok) throw new Error(r.message);
    expect(r.pv.metadata?.name).to.equal("pv-backup-data-db");
    expect(r.pv.spec?.nfs).to.deep.equal({ server: "10.0.0.5", path: "/exports/backup-data-db" });
    expect(r.pv.spec?.claimRef).to.deep.equal({ namespace: "db", name: "backup-data" });
    expect(r.claim.spec).to.deep.include({ volumeName: "pv-backup-data-db", storageClassName: "nfs", accessModes: ["ReadWriteMany"] });
    expect(r.claim.spec?.resources?.requests).to.deep.equal({ storage: "10Gi" });
  });

  const bad: Array<[string, string | undefined, RegExp]> = [
    ["no key", undefined, /has no key "persistentVolume"/],
    ["not YAML", "spec: [unclosed", /not valid YAML/],
    ["no spec", "kind: PersistentVolume", /must be a PersistentVolume with a spec/],
    ["no capacity", "spec: { accessModes: [ReadWriteOnce] }", /needs spec.capacity.storage/],
  ];
  for (const [what, text, message] of bad) {
    it(`explains a template with ${what}`, () => {
      const r = persistentVolumeFromTemplate(text, "c", "ns", 'ConfigMap "ops/pv"');
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.message).to.match(message).and.include('ConfigMap "ops/pv"');
    });
  }
});
