import { expect } from "chai";
import { BACKED_UP_SECRETS, RESTORED_SECRETS, configMapFile, forCreate, objectKeyPath, secretFile, stripObject, toBackupJson } from "./layout.ts";

describe("threescale layout", () => {
  it("names the 13 backed-up Secrets and restores the 9 the upstream operator restores", () => {
    expect(BACKED_UP_SECRETS).to.have.length(13);
    expect(RESTORED_SECRETS).to.have.length(9);
    for (const s of ["system-database", "backend-redis", "system-redis", "system-memcache"]) expect(RESTORED_SECRETS).to.not.include(s);
    for (const s of RESTORED_SECRETS) expect(BACKED_UP_SECRETS).to.include(s);
  });

  it("uses the upstream paths", () => {
    expect(secretFile("zync")).to.equal("secrets/zync.json");
    expect(configMapFile("system-environment")).to.equal("configmaps/system-environment.json");
  });

  it("strips status and server metadata but keeps labels, annotations and finalizers", () => {
    const obj = {
      apiVersion: "v1", kind: "Secret", data: { a: "YQ==" }, status: { x: 1 },
      metadata: { name: "s", namespace: "ns", uid: "u", resourceVersion: "1", selfLink: "/x", creationTimestamp: "t", generation: 3, clusterName: "c", ownerReferences: [{ name: "o" }], managedFields: [{}], labels: { l: "1" }, annotations: { a: "1" }, finalizers: ["f"] },
    };
    const s = stripObject(obj);
    expect(s).to.deep.equal({ apiVersion: "v1", kind: "Secret", data: { a: "YQ==" }, metadata: { name: "s", labels: { l: "1" }, annotations: { a: "1" }, finalizers: ["f"] } });
    expect(obj.metadata.uid).to.equal("u");
    expect(forCreate(obj, "other").metadata).to.deep.equal({ name: "s", namespace: "other", labels: { l: "1" }, annotations: { a: "1" }, finalizers: ["f"] });
  });

  it("writes pretty-printed JSON with sorted keys at every depth", () => {
    expect(toBackupJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: 2 } }).toString()).to.equal('{\n  "a": {\n    "c": 2,\n    "d": [\n      {\n        "y": 2,\n        "z": 1\n      }\n    ]\n  },\n  "b": 1\n}\n');
  });

  const keys: Array<[string, string | undefined]> = [
    ["a/b.png", "a/b.png"], ["x", "x"], ["dir/", undefined], ["../etc/passwd", undefined], ["/abs", undefined], ["a//b", undefined], ["a/./b", undefined], ["", undefined],
  ];
  for (const [key, want] of keys) it(`maps S3 key ${JSON.stringify(key)} to ${String(want)}`, () => expect(objectKeyPath(key)).to.equal(want));
});
