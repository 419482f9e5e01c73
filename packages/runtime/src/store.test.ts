import { expect } from "chai";
import { deepFreeze, type KubeObject } from "./object.ts";
import { matchesSelector } from "./selector.ts";
import { OwnerIndex, Store } from "./store.ts";
import { mergePatch } from "./patch.ts";
import { backoffDelay } from "./backoff.ts";

const obj = (name: string, owner?: string, labels?: Record<string, string>): KubeObject => ({
  metadata: { name, namespace: "ns", labels, ownerReferences: owner ? [{ apiVersion: "v1", kind: "X", name: "p", uid: owner }] : undefined },
});

describe("Store", () => {
  it("finds children by owner UID and keeps the index right across updates and deletes", () => {
    const s = new Store();
    s.upsert(obj("a", "u1"));
    s.upsert(obj("b", "u1"));
    s.upsert(obj("c", "u2"));
    expect(s.byIndex(OwnerIndex, "u1").map((o) => o.metadata.name)).to.have.members(["a", "b"]);
    s.upsert(obj("b", "u2"));
    s.remove("ns/a");
    expect(s.byIndex(OwnerIndex, "u1")).to.deep.equal([]);
    expect(s.byIndex(OwnerIndex, "u2").map((o) => o.metadata.name)).to.have.members(["b", "c"]);
  });

  it("indexes existing objects when an index is added late", () => {
    const s = new Store();
    s.upsert({ metadata: { name: "b1", namespace: "ns" }, spec: { backupPolicyName: "daily" } } as KubeObject);
    s.addIndex("policy", (o) => [String((o as KubeObject & { spec: { backupPolicyName: string } }).spec.backupPolicyName)]);
    expect(s.byIndex("policy", "daily")).to.have.length(1);
  });
});

describe("deepFreeze", () => {
  it("makes nested fields of cached objects unchangeable", () => {
    const o = deepFreeze({ metadata: { name: "a", labels: { x: "1" } } });
    expect(() => {
      (o.metadata.labels as Record<string, string>).x = "2";
    }).to.throw(TypeError);
  });
});

describe("matchesSelector", () => {
  const labels = { app: "pg", tier: "db" };
  const rows: Array<[string, Parameters<typeof matchesSelector>[1], boolean]> = [
    ["empty matches all", {}, true],
    ["matchLabels equal", { matchLabels: { app: "pg" } }, true],
    ["matchLabels differ", { matchLabels: { app: "mysql" } }, false],
    ["In", { matchExpressions: [{ key: "tier", operator: "In", values: ["db", "cache"] }] }, true],
    ["NotIn", { matchExpressions: [{ key: "tier", operator: "NotIn", values: ["db"] }] }, false],
    ["Exists", { matchExpressions: [{ key: "app", operator: "Exists" }] }, true],
    ["DoesNotExist", { matchExpressions: [{ key: "zone", operator: "DoesNotExist" }] }, true],
  ];
  for (const [name, sel, want] of rows) it(name, () => expect(matchesSelector(labels, sel)).to.equal(want));
});

describe("mergePatch", () => {
  it("sets changed fields, nulls removed ones, recurses into objects", () => {
    expect(mergePatch({ phase: "A", a: { x: 1, y: 2 }, gone: 1 }, { phase: "B", a: { x: 1, y: 3 } })).to.deep.equal({ phase: "B", a: { y: 3 }, gone: null });
  });
});

describe("backoffDelay", () => {
  it("doubles from the base, stops at the cap, and jitter only shortens", () => {
    const o = { baseMs: 100, capMs: 1000, jitter: 0.5 };
    expect(backoffDelay(0, { ...o, random: () => 0 })).to.equal(100);
    expect(backoffDelay(3, { ...o, random: () => 0 })).to.equal(800);
    expect(backoffDelay(10, { ...o, random: () => 0 })).to.equal(1000);
    expect(backoffDelay(10, { ...o, random: () => 1 })).to.equal(500);
  });
});
