// The manifests in examples/ (one per kind), for tests.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import type { Kind } from "../constants.ts";

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../../..");
export const examplesDir = resolve(repoRoot, "examples");

export interface Manifest {
  apiVersion: string;
  kind: Kind;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  spec: Record<string, unknown>;
  [k: string]: unknown;
}

export function loadExamples(): { file: string; obj: Manifest }[] {
  return readdirSync(examplesDir).filter((f) => f.endsWith(".yaml")).sort()
    .map((file) => ({ file, obj: parse(readFileSync(resolve(examplesDir, file), "utf8")) as Manifest }));
}

export function example(kind: Kind): Manifest {
  const found = loadExamples().find((e) => e.obj.kind === kind);
  if (!found) throw new Error(`examples/ has no ${kind}`);
  return found.obj;
}
