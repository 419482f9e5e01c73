// Pure: -o json|yaml. Lists print as kubectl prints them (a v1 List); status and describe
// print their own documents. The default, "table", is each command's human-readable form.
import { stringify } from "yaml";
import { UsageError } from "./exit.ts";

export const OUTPUT_FORMATS = ["table", "json", "yaml"] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

export function parseOutput(v: string): OutputFormat {
  if (!(OUTPUT_FORMATS as readonly string[]).includes(v)) throw new UsageError(`-o ${v}: expected one of ${OUTPUT_FORMATS.join(", ")}`);
  return v as OutputFormat;
}

/** The document as lines of JSON (two-space indent, like kubectl) or YAML. */
export function renderDocument(format: "json" | "yaml", doc: unknown): string[] {
  const text = format === "json" ? JSON.stringify(doc, null, 2) : stringify(doc, { lineWidth: 0 });
  return text.replace(/\n+$/, "").split("\n");
}

/** kubectl get -o json's shape: items keep (or get) their apiVersion and kind. */
export function listDocument(apiVersion: string, kind: string, items: readonly object[]): { apiVersion: "v1"; kind: "List"; metadata: { resourceVersion: string }; items: object[] } {
  return { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items: items.map((o) => ({ apiVersion, kind, ...o })) };
}
