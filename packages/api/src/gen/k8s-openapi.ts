// The vendored extract of the Kubernetes OpenAPI document (npm run gen, first step): the
// schemas of the embedded core types we take whole (io.k8s.api.core.v1.Volume) and every
// schema they reference, copied verbatim from the OpenAPI v3 document of the kube-apiserver
// the project builds (k8s.io/kubernetes@<version> in the Go module cache, the version
// packages/testenv/go/k8s/go.mod pins). schemas/openapi.ts turns it into CRD schema.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join, resolve } from "node:path";

/** The component schemas taken whole, and where the extract lives (relative to the repo root). */
export const OPENAPI_ROOTS = ["io.k8s.api.core.v1.Volume"] as const;
export const OPENAPI_EXTRACT_PATH = "packages/api/src/schemas/k8s-openapi.json";
/** The document, inside the k8s.io/kubernetes module. */
export const OPENAPI_DOCUMENT = "api/openapi-spec/v3/api__v1_openapi.json";
/** The wrapper module that builds the control plane (its `require k8s.io/kubernetes` line is the version). */
export const K8S_GO_MOD = "packages/testenv/go/k8s/go.mod";

type Json = { [key: string]: unknown };

export interface OpenApiExtract {
  generated: string;
  source: string;
  roots: string[];
  schemas: Record<string, Json>;
}

/** The k8s.io/kubernetes version the control plane is built from (e.g. v1.34.4). */
export function kubernetesModuleVersion(repoRoot: string): string {
  const goMod = resolve(repoRoot, K8S_GO_MOD);
  const m = /^require k8s\.io\/kubernetes (v\S+)/m.exec(readFileSync(goMod, "utf8"));
  if (!m) throw new Error(`cannot find the k8s.io/kubernetes version in ${goMod}`);
  return m[1]!;
}

/** The Go module cache: $GOMODCACHE, else what `go env` says, else Go's default ($GOPATH or ~/go, then pkg/mod). */
export function goModCache(): string {
  if (process.env.GOMODCACHE) return process.env.GOMODCACHE;
  try {
    const out = execFileSync("go", ["env", "GOMODCACHE"], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    if (out) return out;
  } catch {
    // No Go on the PATH: Go's default location.
  }
  return join(process.env.GOPATH?.split(":")[0] || join(homedir(), "go"), "pkg", "mod");
}

/** "k8s.io/kubernetes@v1.34.4/api/openapi-spec/v3/api__v1_openapi.json": the source, relative to the module cache. */
export function openApiSource(version: string): string {
  return `k8s.io/kubernetes@${version}/${OPENAPI_DOCUMENT}`;
}

/**
 * The OpenAPI document the extract is made from, read from the Go module cache. Missing: an
 * error with the fix (never a silent skip: a stale extract would go unnoticed).
 */
export function readOpenApiDocument(repoRoot: string): { source: string; doc: Json } {
  const source = openApiSource(kubernetesModuleVersion(repoRoot));
  const path = join(goModCache(), source);
  if (!existsSync(path)) {
    throw new Error(
      `${path} is missing: the Kubernetes module is not in the Go module cache. Run \`npm run setup\` ` +
        "(packages/testenv/scripts/build-k8s.sh downloads it), or `cd packages/testenv/go/k8s && go mod download k8s.io/kubernetes`",
    );
  }
  return { source, doc: JSON.parse(readFileSync(path, "utf8")) as Json };
}

const REF_PREFIX = "#/components/schemas/";

/** Every schema name a node refers to, in document order. */
function refsOf(node: unknown, out: string[]): string[] {
  if (Array.isArray(node)) for (const v of node) refsOf(v, out);
  else if (node && typeof node === "object") {
    for (const [k, v] of Object.entries(node)) {
      if (k === "$ref" && typeof v === "string") {
        if (!v.startsWith(REF_PREFIX)) throw new Error(`unsupported $ref ${v}: only ${REF_PREFIX}... is resolved`);
        out.push(v.slice(REF_PREFIX.length));
      } else refsOf(v, out);
    }
  }
  return out;
}

/** Pure: the roots' component schemas and everything they reference, verbatim, sorted by name. */
export function extractSchemas(doc: Json, roots: readonly string[]): Record<string, Json> {
  const all = ((doc.components as Json | undefined)?.schemas ?? {}) as Record<string, Json>;
  const found = new Map<string, Json>();
  const queue = [...roots];
  while (queue.length) {
    const name = queue.shift()!;
    if (found.has(name)) continue;
    const schema = all[name];
    if (!schema) throw new Error(`the OpenAPI document has no schema ${name}`);
    found.set(name, schema);
    queue.push(...refsOf(schema, []));
  }
  return Object.fromEntries([...found.keys()].sort().map((n) => [n, found.get(n)!]));
}

/** The extract file's text, as npm run gen writes it. */
export function openApiExtractText(doc: Json, source: string): string {
  const extract: OpenApiExtract = {
    generated: "by `npm run gen` (packages/api/src/gen/k8s-openapi.ts) from the Go module cache. Do not edit.",
    source,
    roots: [...OPENAPI_ROOTS],
    schemas: extractSchemas(doc, OPENAPI_ROOTS),
  };
  return `${JSON.stringify(extract, null, 2)}\n`;
}
