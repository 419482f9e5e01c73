// TypeBox schema -> structural OpenAPI v3 schema for a CRD: plain JSON, no $ref/$id,
// no private annotations, `const` as `enum`, and no `additionalProperties: false`
// (the API server prunes unknown fields instead, and forbids it next to `properties`).
import type { TSchema } from "@sinclair/typebox";
import { PRIVATE_KEYWORDS } from "../schemas/helpers.ts";

export type JsonSchema = { [key: string]: unknown };

const DROP = new Set<string>(["$id", "$schema", "title", ...PRIVATE_KEYWORDS]);
/** Structure first, then validations in source order: stable and easy to read. */
const FIRST = ["description", "type", "default", "required", "properties", "items", "additionalProperties"];

export function toStructural(schema: TSchema | JsonSchema): JsonSchema {
  return convert(JSON.parse(JSON.stringify(schema)) as JsonSchema);
}

function convert(node: JsonSchema): JsonSchema {
  const out: JsonSchema = {};
  const keys = [...FIRST.filter((k) => k in node), ...Object.keys(node).filter((k) => !FIRST.includes(k))];
  for (const k of keys) {
    const v = node[k];
    if (DROP.has(k)) continue;
    if (k === "additionalProperties" && typeof v === "boolean") continue;
    if (k === "const") {
      out.enum = [v];
      continue;
    }
    if (k === "properties") {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, JsonSchema>).map(([p, s]) => [p, convert(s)]));
    } else if (k === "items" || (k === "additionalProperties" && typeof v === "object")) {
      out[k] = convert(v as JsonSchema);
    } else if (k === "anyOf" || k === "oneOf" || k === "allOf") {
      out[k] = (v as JsonSchema[]).map(convert);
    } else {
      out[k] = v;
    }
  }
  return out;
}
