import { expect } from "chai";
import { crdDocuments } from "./crd.ts";
import type { JsonSchema } from "./structural.ts";

/** Visits every schema node with its path. */
function walk(node: JsonSchema, path: string, visit: (n: JsonSchema, path: string) => void): void {
  visit(node, path);
  for (const [k, v] of Object.entries((node.properties ?? {}) as Record<string, JsonSchema>)) walk(v, `${path}.${k}`, visit);
  if (typeof node.items === "object") walk(node.items as JsonSchema, `${path}[]`, visit);
  if (typeof node.additionalProperties === "object") walk(node.additionalProperties as JsonSchema, `${path}{}`, visit);
}

describe("CRD schemas", () => {
  for (const crd of crdDocuments()) {
    const versions = crd.spec.versions as { schema: { openAPIV3Schema: JsonSchema } }[];
    const root = versions[0].schema.openAPIV3Schema;

    it(`${crd.metadata.name} is structural: every node typed, no $ref, no private keywords`, () => {
      const text = JSON.stringify(root);
      expect(text).not.to.match(/"\$ref"|"\$id"|"x-dp-|"title"|"const"|"patternProperties"/);
      walk(root, "", (n, path) => {
        if (n["x-kubernetes-int-or-string"]) {
          expect(n.anyOf, path).to.deep.equal([{ type: "integer" }, { type: "string" }]);
          return;
        }
        expect(n.type, `${path} has no type`).to.be.a("string");
        if (n.properties) expect(n, `${path}: additionalProperties next to properties`).not.to.have.property("additionalProperties");
      });
    });

    it(`${crd.metadata.name} describes every field`, () => {
      walk(root, "", (n, path) => {
        const isContainerItem = path.endsWith("[]") || path.endsWith("{}");
        if (path === ".metadata" || isContainerItem || path === "") return;
        expect(n.description, `${path} has no description`).to.be.a("string").and.not.equal("");
      });
    });

    it(`${crd.metadata.name} keys conditions by type`, () => {
      walk(root, "", (n, path) => {
        if (!path.endsWith(".conditions")) return;
        expect(n["x-kubernetes-list-type"], path).to.equal("map");
        expect(n["x-kubernetes-list-map-keys"], path).to.deep.equal(["type"]);
      });
    });
  }

  it("marks Time fields as date-time and Quantity fields as int-or-string", () => {
    const backup = crdDocuments().find((c) => c.metadata.name === "backups.dataprotection.kubeblocks.io");
    const text = JSON.stringify(backup);
    expect(text).to.include('"completionTimestamp":{"description":"Date/time when the backup finished being processed.","type":"string","format":"date-time"}');
    const repo = crdDocuments().find((c) => c.metadata.name === "backuprepos.dataprotection.kubeblocks.io");
    const root = (repo?.spec.versions as { schema: { openAPIV3Schema: JsonSchema } }[])[0].schema.openAPIV3Schema;
    const spec = (root.properties as Record<string, JsonSchema>).spec;
    const capacity = (spec.properties as Record<string, JsonSchema>).volumeCapacity;
    expect(capacity["x-kubernetes-int-or-string"]).to.equal(true);
    expect(capacity.pattern).to.be.a("string");
  });
});
