// npm run gen: refreshes the vendored Kubernetes OpenAPI extract from the Go module cache,
// then writes crds/*.yaml and docs/api-reference.md from the schemas (which read that extract).
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { OPENAPI_EXTRACT_PATH, openApiExtractText, readOpenApiDocument } from "../src/gen/k8s-openapi.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

const { source, doc } = readOpenApiDocument(repoRoot);
writeFileSync(resolve(repoRoot, OPENAPI_EXTRACT_PATH), openApiExtractText(doc, source));
console.log(`wrote ${OPENAPI_EXTRACT_PATH} (from ${source})`);

// Loaded only now: the schemas import the extract just written.
const { generatedFiles } = await import("../src/gen/files.ts");
for (const [path, content] of generatedFiles()) {
  const full = resolve(repoRoot, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content);
  console.log(`wrote ${path}`);
}
