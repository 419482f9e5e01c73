import { expect } from "chai";
import { existsSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { repoRoot } from "../testdata/examples.ts";
import { extractSchemas, goModCache, kubernetesModuleVersion, OPENAPI_EXTRACT_PATH, OPENAPI_ROOTS, openApiExtractText, openApiSource, readOpenApiDocument, type OpenApiExtract } from "./k8s-openapi.ts";

describe("the vendored Kubernetes OpenAPI extract", () => {
  const vendored = readFileSync(resolve(repoRoot, OPENAPI_EXTRACT_PATH), "utf8");

  it("is made from the OpenAPI document of the Kubernetes version the control plane is built from", () => {
    const extract = JSON.parse(vendored) as OpenApiExtract;
    expect(extract.source).to.equal(openApiSource(kubernetesModuleVersion(repoRoot)));
    expect(extract.roots).to.deep.equal([...OPENAPI_ROOTS]);
  });

  // Never skipped: without the module the extract could be stale unnoticed. The set-up
  // (packages/testenv/scripts/build-k8s.sh) downloads it into the Go module cache.
  it("is up to date with that document in the Go module cache", () => {
    const path = join(goModCache(), openApiSource(kubernetesModuleVersion(repoRoot)));
    expect(existsSync(path), `${path} is missing: run npm run setup (it downloads k8s.io/kubernetes into the Go module cache)`).to.equal(true);
    const { source, doc } = readOpenApiDocument(repoRoot);
    expect(vendored === openApiExtractText(doc, source), `${OPENAPI_EXTRACT_PATH} is stale against ${path}: run npm run gen`).to.equal(true);
  });

  it("holds each root and every schema it references, and nothing else", () => {
    const doc = { components: { schemas: {
      A: { type: "object", properties: { b: { allOf: [{ $ref: "#/components/schemas/B" }] }, c: { type: "array", items: { $ref: "#/components/schemas/C" } } } },
      B: { type: "object", properties: { c: { $ref: "#/components/schemas/C" } } },
      C: { type: "string" },
      Unused: { type: "string" },
    } } };
    expect(Object.keys(extractSchemas(doc, ["A"]))).to.deep.equal(["A", "B", "C"]);
    expect(() => extractSchemas(doc, ["Missing"])).to.throw(/no schema Missing/);
    expect(() => extractSchemas({ components: { schemas: { A: { $ref: "other.json#/X" } } } }, ["A"])).to.throw(/unsupported \$ref other.json#\/X/);
  });
});
