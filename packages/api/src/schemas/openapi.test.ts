import { expect } from "chai";
import { inlineOpenApiSchema } from "./openapi.ts";
import { Volume } from "./k8s.ts";
import { validateRestoreJob, formatErrors } from "../validate.ts";
import { toStructural, type JsonSchema } from "../gen/structural.ts";
import { example } from "../testdata/examples.ts";

type Json = Record<string, unknown>;
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });

describe("inlineOpenApiSchema", () => {
  const schemas: Record<string, Json> = {
    Outer: {
      description: "Outer type.",
      type: "object",
      required: ["inner"],
      properties: {
        inner: { allOf: [ref("Inner")], default: {}, description: "The field's own description." },
        size: { ...ref("Quantity"), description: "A size." },
        names: { type: "array", items: { type: "string", default: "" }, "x-kubernetes-list-type": "atomic", "x-kubernetes-patch-strategy": "merge" },
      },
    },
    Inner: { description: "Inner type.", type: "object", properties: { name: { type: "string", default: "" } }, "x-kubernetes-map-type": "atomic" },
    Quantity: { oneOf: [{ type: "string" }, { type: "number" }] },
  };
  const quantity = { anyOf: [{ type: "integer" }, { type: "string" }], "x-kubernetes-int-or-string": true };

  it("inlines references, folding allOf wrappers into the referenced schema with the field's description winning", () => {
    expect(inlineOpenApiSchema(schemas, "Outer", { replace: { Quantity: quantity } })).to.deep.equal({
      description: "Outer type.",
      type: "object",
      required: ["inner"],
      properties: {
        inner: { description: "The field's own description.", type: "object", properties: { name: { type: "string" } }, "x-kubernetes-map-type": "atomic" },
        size: { description: "A size.", ...quantity },
        names: { type: "array", items: { type: "string" }, "x-kubernetes-list-type": "atomic" },
      },
    });
  });

  it("closes objects for ajv when asked (the CRD generator drops additionalProperties: false)", () => {
    const closed = inlineOpenApiSchema(schemas, "Outer", { replace: { Quantity: quantity }, closed: true });
    expect(closed.additionalProperties).to.equal(false);
    expect((closed.properties as Record<string, Json>).inner!.additionalProperties).to.equal(false);
    expect(toStructural(closed)).to.not.have.property("additionalProperties");
  });

  it("fails loudly on what a CRD cannot take: an unknown keyword, a oneOf, a recursive type, a missing schema", () => {
    expect(() => inlineOpenApiSchema({ A: { type: "object", "x-kubernetes-unions": [] } }, "A")).to.throw(/A: keyword x-kubernetes-unions is not supported/);
    expect(() => inlineOpenApiSchema(schemas, "Outer")).to.throw(/Outer.size: keyword oneOf is not supported/);
    expect(() => inlineOpenApiSchema({ A: { type: "object", properties: { self: ref("A") } } }, "A")).to.throw(/A refers to itself/);
    expect(() => inlineOpenApiSchema({ A: { type: "object", properties: { b: ref("B") } } }, "A")).to.throw(/A.b: B is not in the extract/);
  });
});

/** Every schema node under a root, with its dotted path. */
function walk(node: JsonSchema, path: string, visit: (n: JsonSchema, path: string) => void): void {
  visit(node, path);
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, JsonSchema>)) walk(v, `${path}.${k}`, visit);
  if (typeof node.items === "object") walk(node.items as JsonSchema, `${path}[]`, visit);
  if (typeof node.additionalProperties === "object") walk(node.additionalProperties as JsonSchema, `${path}{}`, visit);
}

describe("core/v1.Volume (generated from the Kubernetes OpenAPI document)", () => {
  const structural = toStructural(Volume);
  const sources = ["awsElasticBlockStore", "azureDisk", "azureFile", "cephfs", "cinder", "configMap", "csi", "downwardAPI", "emptyDir", "ephemeral", "fc", "flexVolume",
    "flocker", "gcePersistentDisk", "gitRepo", "glusterfs", "hostPath", "image", "iscsi", "nfs", "persistentVolumeClaim", "photonPersistentDisk", "portworxVolume", "projected",
    "quobyte", "rbd", "scaleIO", "secret", "storageos", "vsphereVolume"];

  it("has every volume source, structural: typed nodes, no $ref, Quantity as int-or-string, no unknown fields preserved", () => {
    expect(Object.keys(structural.properties as Json).sort()).to.deep.equal([...sources, "name"].sort());
    expect(JSON.stringify(structural)).to.not.match(/"\$ref"|"allOf"|"oneOf"|"default"|"x-kubernetes-patch|"x-dp-/);
    expect(structural).to.not.have.property("x-kubernetes-preserve-unknown-fields");
    let paths = 0;
    walk(structural, "", (n, path) => {
      paths++;
      if (n["x-kubernetes-int-or-string"]) expect(n.anyOf, path).to.deep.equal([{ type: "integer" }, { type: "string" }]);
      else expect(n.type, `${path} has no type`).to.be.a("string");
    });
    expect(paths).to.be.greaterThan(300);
    const template = (structural.properties as Record<string, JsonSchema>).ephemeral!.properties as Record<string, JsonSchema>;
    const spec = (template.volumeClaimTemplate!.properties as Record<string, JsonSchema>).spec!;
    const requests = ((spec.properties as Record<string, JsonSchema>).resources!.properties as Record<string, JsonSchema>).requests!;
    expect((requests.additionalProperties as JsonSchema)["x-kubernetes-int-or-string"]).to.equal(true);
  });

  it("accepts a RestoreJob with each source, the ephemeral one with its whole volumeClaimTemplate", () => {
    const rj = structuredClone(example("RestoreJob"));
    rj.spec.targetVolumes = [
      { name: "ebs", awsElasticBlockStore: { volumeID: "vol-0abc", fsType: "ext4", partition: 1 } },
      { name: "azd", azureDisk: { diskName: "d", diskURI: "https://x/d.vhd", cachingMode: "ReadOnly", kind: "Managed" } },
      { name: "azf", azureFile: { secretName: "s", shareName: "share" } },
      { name: "ceph", cephfs: { monitors: ["10.0.0.1:6789"], path: "/", secretRef: { name: "ceph" } } },
      { name: "cinder", cinder: { volumeID: "c-1" } },
      { name: "scratch", ephemeral: { volumeClaimTemplate: {
        metadata: { labels: { app: "restore" }, annotations: { note: "scratch" } },
        spec: {
          accessModes: ["ReadWriteOnce"], storageClassName: "fast", volumeMode: "Filesystem",
          resources: { requests: { storage: "2Gi" }, limits: { storage: 4294967296 } },
          selector: { matchLabels: { tier: "restore" }, matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
          dataSource: { kind: "VolumeSnapshot", name: "snap", apiGroup: "snapshot.storage.k8s.io" },
          dataSourceRef: { kind: "VolumeSnapshot", name: "snap", apiGroup: "snapshot.storage.k8s.io" },
        },
      } } },
      { name: "fc", fc: { targetWWNs: ["500a0982991b8dc5"], lun: 2 } },
      { name: "flex", flexVolume: { driver: "vendor/driver", options: { a: "b" } } },
      { name: "flocker", flocker: { datasetName: "ds" } },
      { name: "gce", gcePersistentDisk: { pdName: "pd" } },
      { name: "git", gitRepo: { repository: "https://example.com/x.git", revision: "main" } },
      { name: "gluster", glusterfs: { endpoints: "ep", path: "vol" } },
      { name: "iscsi", iscsi: { targetPortal: "10.0.0.2:3260", iqn: "iqn.2001-04.com.example:storage", lun: 0, portals: ["10.0.0.3:3260"] } },
      { name: "photon", photonPersistentDisk: { pdID: "p" } },
      { name: "px", portworxVolume: { volumeID: "px-1" } },
      { name: "quobyte", quobyte: { registry: "r:7861", volume: "v" } },
      { name: "rbd", rbd: { monitors: ["10.0.0.4:6789"], image: "img", pool: "rbd" } },
      { name: "scaleio", scaleIO: { gateway: "https://gw", system: "sys", secretRef: { name: "sio" } } },
      { name: "storageos", storageos: { volumeName: "v" } },
      { name: "vsphere", vsphereVolume: { volumePath: "[ds] vol.vmdk" } },
      { name: "proj", projected: { sources: [{ clusterTrustBundle: { path: "ca.pem", signerName: "x/y" } }, { serviceAccountToken: { path: "token", expirationSeconds: 600 } }] } },
      { name: "img", image: { reference: "registry.example.com/data:1", pullPolicy: "IfNotPresent" } },
    ];
    expect(formatErrors(validateRestoreJob(rj))).to.deep.equal([]);
  });

  it("refuses what Kubernetes refuses: a missing required field, a mistyped one, an unknown one", () => {
    const rj = structuredClone(example("RestoreJob"));
    rj.spec.targetVolumes = [
      { name: "ebs", awsElasticBlockStore: { fsType: "ext4" } },
      { name: "iscsi", iscsi: { targetPortal: "p", iqn: "q", lun: "zero" } },
      { name: "nfs", nfs: { server: "s", path: "/p", mountOptions: "ro" } },
    ];
    expect(formatErrors(validateRestoreJob(rj))).to.deep.equal([
      "spec.targetVolumes[0].awsElasticBlockStore.volumeID: Required value",
      "spec.targetVolumes[1].iscsi.lun: must be integer",
      "spec.targetVolumes[2].nfs.mountOptions: field not declared in schema",
    ]);
  });
});
