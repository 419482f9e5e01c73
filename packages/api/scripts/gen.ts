// npm run gen: writes crds/*.yaml and docs/api-reference.md from the schemas.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { generatedFiles } from "../src/gen/files.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
for (const [path, content] of generatedFiles()) {
  const full = resolve(repoRoot, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, content);
  console.log(`wrote ${path}`);
}
