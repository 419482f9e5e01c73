// Pure: a component schema of the Kubernetes OpenAPI v3 document (the vendored extract,
// gen/k8s-openapi.ts) as the structural schema a CRD embeds: every $ref inlined (CRDs allow
// none), the `allOf: [{$ref}]` wrappers OpenAPI v3 uses for a described reference folded into
// the referenced schema, and only the keywords a CRD accepts. Anything else fails loudly, so a
// new upstream construct is noticed at `npm run gen` instead of producing a schema the API
// server refuses.

type Json = { [key: string]: unknown };

/** Keywords copied as they are: valid in apiextensions.k8s.io/v1 JSONSchemaProps and known to our ajv (validate.ts). */
const KEEP = new Set([
  "description", "type", "format", "required", "enum", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
  "x-kubernetes-list-type", "x-kubernetes-list-map-keys", "x-kubernetes-map-type", "x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields",
]);
/**
 * Dropped: `default` (upstream's are mostly Go zero values such as `{}` for an item whose fields
 * are required, which a CRD refuses as an invalid default; the API server applies the real
 * defaults when the operator creates the pod), and the strategic-merge-patch hints CRDs lack.
 */
const DROP = new Set(["default", "x-kubernetes-patch-strategy", "x-kubernetes-patch-merge-key"]);

const REF_PREFIX = "#/components/schemas/";

export interface InlineOptions {
  /**
   * Referenced types replaced by a schema of ours (OpenAPI gives e.g. Quantity as `oneOf`
   * string/number; a CRD needs the int-or-string form). Keyed by the component name.
   */
  replace?: Record<string, Json>;
  /** Adds `additionalProperties: false` to objects with properties (ajv then refuses unknown fields; the CRD generator drops it). */
  closed?: boolean;
}

/** The component `name` of `schemas`, inlined and reduced to what a CRD accepts. */
export function inlineOpenApiSchema(schemas: Record<string, Json>, name: string, opts: InlineOptions = {}): Json {
  return inline({ $ref: `${REF_PREFIX}${name}` }, schemas, opts, [], name);
}

function refName(ref: unknown, path: string): string {
  if (typeof ref !== "string" || !ref.startsWith(REF_PREFIX)) throw new Error(`${path}: unsupported $ref ${JSON.stringify(ref)}`);
  return ref.slice(REF_PREFIX.length);
}

function inline(node: Json, schemas: Record<string, Json>, opts: InlineOptions, stack: string[], path: string): Json {
  // A reference, bare or as the single member of allOf; the referring node's own keywords (its description) win.
  let target: string | undefined;
  let own = node;
  if (node.$ref !== undefined) {
    target = refName(node.$ref, path);
    own = Object.fromEntries(Object.entries(node).filter(([k]) => k !== "$ref"));
  } else if (Array.isArray(node.allOf)) {
    if (node.allOf.length !== 1 || Object.keys(node.allOf[0] as Json).join() !== "$ref") throw new Error(`${path}: allOf other than one $ref is not supported`);
    target = refName((node.allOf[0] as Json).$ref, path);
    own = Object.fromEntries(Object.entries(node).filter(([k]) => k !== "allOf"));
  }
  if (target !== undefined) {
    if (stack.includes(target)) throw new Error(`${path}: ${target} refers to itself (${[...stack, target].join(" -> ")}): a CRD cannot embed a recursive type`);
    const replacement = opts.replace?.[target];
    let base: Json;
    if (replacement) base = structuredClone(replacement);
    else {
      const schema = schemas[target];
      if (!schema) throw new Error(`${path}: ${target} is not in the extract: run npm run gen`);
      base = inline(schema, schemas, opts, [...stack, target], path);
    }
    const merged = { ...base, ...reduce(own, schemas, opts, stack, path) };
    return order(merged);
  }
  return order(reduce(node, schemas, opts, stack, path));
}

/** The node's own keywords, children inlined; unknown keywords throw. */
function reduce(node: Json, schemas: Record<string, Json>, opts: InlineOptions, stack: string[], path: string): Json {
  const out: Json = {};
  for (const [k, v] of Object.entries(node)) {
    if (DROP.has(k)) continue;
    if (k === "properties") {
      out.properties = Object.fromEntries(Object.entries(v as Record<string, Json>).map(([p, s]) => [p, inline(s, schemas, opts, stack, `${path}.${p}`)]));
    } else if (k === "items") {
      out.items = inline(v as Json, schemas, opts, stack, `${path}[]`);
    } else if (k === "additionalProperties") {
      out.additionalProperties = typeof v === "object" ? inline(v as Json, schemas, opts, stack, `${path}{}`) : v;
    } else if (KEEP.has(k)) {
      out[k] = structuredClone(v);
    } else {
      throw new Error(`${path}: keyword ${k} is not supported in a CRD schema (schemas/openapi.ts): map it or drop it there`);
    }
  }
  if (opts.closed && out.properties && out.additionalProperties === undefined) out.additionalProperties = false;
  return out;
}

/** Structure first (as gen/structural.ts orders it), then the rest in source order. */
const FIRST = ["description", "type", "required", "properties", "items", "additionalProperties"];
function order(n: Json): Json {
  return Object.fromEntries([...FIRST.filter((k) => k in n), ...Object.keys(n).filter((k) => !FIRST.includes(k))].map((k) => [k, n[k]]));
}
