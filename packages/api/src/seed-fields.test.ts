// Every field name of the seed reference exists in the generated CRDs.
import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { crdDocuments } from "./gen/crd.ts";
import { repoRoot } from "./testdata/examples.ts";
import type { JsonSchema } from "./gen/structural.ts";

const seedsDir = resolve(repoRoot, "../shared/seeds");
const PRIMITIVES = new Set(["string", "bool", "int32", "int64"]);
const TYPE_LINE = /^(\[\])?(map\[string\]string|string|bool|int32|int64|[A-Z][A-Za-z]+|Kubernetes \S+)$/;

/** 004 (gen-crd-api-reference-docs text): a field name line followed by its type line. */
export function fieldsOfApiReference(text: string): Set<string> {
  const lines = text.split("\n").map((l) => l.trim()).filter((l) => l !== "");
  const out = new Set<string>();
  for (let i = 0; i + 1 < lines.length; i++) {
    if (/^[a-z][A-Za-z0-9]*$/.test(lines[i]) && !PRIMITIVES.has(lines[i]) && TYPE_LINE.test(lines[i + 1])) out.add(lines[i]);
  }
  return out;
}

/** 000 and 002 (3scale reference tables) and the YAML examples of 001. */
export function fieldsOf3scale(text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/^\| `([a-zA-Z]+)` \|/gm)) out.add(m[1]);
  for (const m of text.matchAll(/^([a-z][A-Za-z]+) \|$/gm)) out.add(m[1]);
  for (const m of text.matchAll(/^\s+([a-z][A-Za-z]+):(?: |$)/gm)) out.add(m[1]);
  for (const m of text.matchAll(/\.status\.([a-zA-Z]+)/g)) out.add(m[1]);
  return out;
}

function fieldNames(groups: string[]): Set<string> {
  const out = new Set<string>();
  const walk = (n: JsonSchema): void => {
    for (const [k, v] of Object.entries((n.properties ?? {}) as Record<string, JsonSchema>)) {
      out.add(k);
      walk(v);
    }
    if (typeof n.items === "object") walk(n.items as JsonSchema);
    if (typeof n.additionalProperties === "object") walk(n.additionalProperties as JsonSchema);
  };
  for (const crd of crdDocuments().filter((c) => groups.includes(c.spec.group as string))) {
    walk((crd.spec.versions as { schema: { openAPIV3Schema: JsonSchema } }[])[0].schema.openAPIV3Schema);
  }
  return out;
}

function seed(prefix: string): string {
  const file = readdirSync(seedsDir).find((f) => f.startsWith(prefix));
  if (!file) throw new Error(`seed ${prefix}_*.txt not found in ${seedsDir}`);
  return readFileSync(resolve(seedsDir, file), "utf8");
}

describe("seed reference fields", () => {
  before(() => {
    if (!existsSync(seedsDir)) throw new Error(`the seed reference is missing: expected it at ${seedsDir}`);
  });

  it("finds every field of the dataprotection reference (004) in the dataprotection and storage CRDs", () => {
    const fields = fieldsOfApiReference(seed("004"));
    // Guard the parser itself: a broken parse must not pass vacuously.
    expect(fields.size).to.be.greaterThan(90);
    for (const f of ["backupPolicyName", "labelsSelector", "persistentVolumeConfigMap", "useTargetPodServiceAccount", "relyOnLogfile", "generatedCSIDriverSecret"]) expect(fields).to.include(f);
    const have = fieldNames(["dataprotection.kubeblocks.io", "storage.kubeblocks.io"]);
    const missing = [...fields].filter((f) => !have.has(f));
    expect(missing, "fields of 004 missing from crds/").to.deep.equal([]);
  });

  it("finds every field of the 3scale references (000-002) in the apps.3scale.net CRDs", () => {
    const fields = new Set([...fieldsOf3scale(seed("000")), ...fieldsOf3scale(seed("001")), ...fieldsOf3scale(seed("002"))]);
    for (const f of ["backupDestination", "backupPersistentVolumeClaimName", "claimSource", "claimName", "readOnly", "storageClass", "requests"]) expect(fields).to.include(f);
    const have = fieldNames(["apps.3scale.net"]);
    const missing = [...fields].filter((f) => !have.has(f));
    expect(missing, "fields of 000-002 missing from crds/").to.deep.equal([]);
  });
});
