// docs/api-reference.md: one section per kind and per named type, like the seed reference.
import { wellKnownKeys } from "../constants.ts";
import { kinds, type KindInfo } from "../kinds.ts";
import { EXTENSION, K8S_TYPE, TYPE_DOC, type CelRule } from "../schemas/helpers.ts";
import type { JsonSchema } from "./structural.ts";

interface Section {
  title: string;
  node: JsonSchema;
  appearsOn: Set<string>;
}

const clone = (s: unknown): JsonSchema => JSON.parse(JSON.stringify(s)) as JsonSchema;
const props = (n: JsonSchema): Record<string, JsonSchema> => (n.properties ?? {}) as Record<string, JsonSchema>;
const isNamed = (n: JsonSchema): boolean => typeof n.title === "string" && n[K8S_TYPE] === undefined && (n.enum !== undefined || n.properties !== undefined);
const anchor = (title: string): string => title.toLowerCase();

/** Collects the named types reachable from a node, depth first, recording who refers to them. */
function collect(node: JsonSchema, parent: string, sections: Map<string, Section>): void {
  if (node[K8S_TYPE] !== undefined) return;
  if (isNamed(node) && node.title !== parent) {
    const title = node.title as string;
    const seen = sections.get(title);
    if (seen) {
      seen.appearsOn.add(parent);
      return;
    }
    sections.set(title, { title, node, appearsOn: new Set([parent]) });
    parent = title;
  }
  for (const child of Object.values(props(node))) collect(child, parent, sections);
  if (typeof node.items === "object") collect(node.items as JsonSchema, parent, sections);
  if (typeof node.additionalProperties === "object") collect(node.additionalProperties as JsonSchema, parent, sections);
}

export function typeName(n: JsonSchema): string {
  if (typeof n[K8S_TYPE] === "string") return `Kubernetes ${n[K8S_TYPE] as string}`;
  if (isNamed(n)) return `[${n.title as string}](#${anchor(n.title as string)})`;
  if (n.type === "array") return `[]${typeName(n.items as JsonSchema)}`;
  if (n.type === "object" && typeof n.additionalProperties === "object") return `map[string]${typeName(n.additionalProperties as JsonSchema)}`;
  if (n.type === "object" && n["x-kubernetes-preserve-unknown-fields"]) return "object (free-form)";
  if (n.type === "integer") return typeof n.format === "string" ? n.format : "integer";
  if (n.type === "boolean") return "bool";
  if (n.type === "string" && n.format === "date-time") return "string (date-time)";
  if (typeof n.type === "string") return n.type;
  return "object";
}

const cell = (s: string): string => s.replace(/\s*\n\s*/g, " ").replace(/\|/g, "\\|").trim();

function constraints(n: JsonSchema): string {
  const c: string[] = [];
  if (Array.isArray(n.enum) && !isNamed(n)) c.push(`one of ${(n.enum as unknown[]).map((v) => `\`${String(v)}\``).join(", ")}`);
  if (n.minimum !== undefined) c.push(`minimum ${String(n.minimum)}`);
  if (n.maximum !== undefined) c.push(`maximum ${String(n.maximum)}`);
  if (n.minLength !== undefined && n.type === "string") c.push(`min length ${String(n.minLength)}`);
  if (typeof n.pattern === "string" && n["x-kubernetes-int-or-string"] === undefined && n[K8S_TYPE] === undefined) c.push(`pattern \`${n.pattern}\``);
  // A named type lists its rules in its own section.
  const rules = isNamed(n) ? [] : ((n["x-kubernetes-validations"] ?? []) as CelRule[]);
  for (const r of rules) if (!/oldSelf/.test(r.rule)) c.push(`rule: ${r.message}`);
  if (rules.some((r) => /oldSelf/.test(r.rule))) c.push("immutable");
  return c.length ? ` Validation: ${c.join("; ")}.` : "";
}

function rows(node: JsonSchema, prefix: string): string[] {
  const out: string[] = [];
  const required = new Set((node.required ?? []) as string[]);
  for (const [name, child] of Object.entries(props(node))) {
    const field = `${prefix}${name}`;
    const ext = child[EXTENSION] ? "(extension) " : "";
    const def = child.default !== undefined ? `\`${JSON.stringify(child.default)}\`` : "";
    const desc = `${ext}${(child.description as string | undefined) ?? ""}${constraints(child)}`;
    out.push(`| \`${field}\` | ${typeName(child)} | ${required.has(name) ? "Yes" : "No"} | ${def} | ${cell(desc)} |`);
    // Anonymous objects have no section of their own: document their fields inline.
    if (child.type === "object" && child.properties && !isNamed(child) && child[K8S_TYPE] === undefined) out.push(...rows(child, `${field}.`));
  }
  return out;
}

const HEADER = ["| Field | Type | Required | Default | Description |", "| --- | --- | --- | --- | --- |"];

function typeSection(s: Section): string {
  const n = s.node;
  const lines = [`### ${s.title}`, ""];
  lines.push(`(Appears on: ${[...s.appearsOn].map((t) => `[${t}](#${anchor(t)})`).join(", ")})`, "");
  const doc = (n[TYPE_DOC] as string | undefined) ?? "";
  if (doc) lines.push(cell(doc), "");
  if (Array.isArray(n.enum)) {
    lines.push("| Value |", "| --- |", ...(n.enum as string[]).map((v) => `| \`${JSON.stringify(v)}\` |`));
  } else {
    lines.push(...HEADER, ...rows(n, ""));
    const rules = (n["x-kubernetes-validations"] ?? []) as CelRule[];
    if (rules.length) lines.push("", "Rules enforced by the API server (CEL):", "", ...rules.map((r) => `- \`${r.rule}\`: ${r.message}`));
  }
  return lines.join("\n");
}

function kindSection(info: KindInfo, root: JsonSchema): string {
  const lines = [`## ${info.kind}`, ""];
  lines.push(cell((root[TYPE_DOC] as string | undefined) ?? ""), "");
  lines.push(`- Group/version: \`${info.group}/${info.version}\`; scope: ${info.scope}; plural: \`${info.plural}\`` +
    (info.shortNames.length ? `; short names: ${info.shortNames.map((s) => `\`${s}\``).join(", ")}` : "") +
    `; categories: ${info.categories.map((c) => `\`${c}\``).join(", ")}`);
  lines.push(`- \`kubectl get\` columns: ${info.printerColumns.map((c) => `${c.name} (\`${c.jsonPath}\`)`).join(", ")}`, "");
  lines.push(...HEADER, ...rows(root, ""));
  return lines.join("\n");
}

export function apiReference(): string {
  const parts = [
    "# API reference",
    "",
    "<!-- Generated by `npm run gen` from packages/api/src/schemas. Do not edit. -->",
    "",
    "Fields marked (extension) are not in the upstream KubeBlocks 0.6 / 3scale operator APIs; everything else keeps the upstream name, type and meaning.",
    "",
    "Kinds: " + kinds.map((k) => `[${k.kind}](#${anchor(k.kind)})`).join(", "),
  ];
  const sections = new Map<string, Section>();
  const roots = kinds.map((info) => ({ info, root: clone(info.schema) }));
  for (const { info, root } of roots) {
    parts.push("", kindSection(info, root));
    for (const child of Object.values(props(root))) collect(child, info.kind, sections);
  }
  parts.push("", "## Labels, annotations and finalizers", "", "| Key | Type | On | Meaning |", "| --- | --- | --- | --- |");
  for (const k of wellKnownKeys) parts.push(`| \`${k.key}\` | ${k.type} | ${k.on} | ${k.extension ? "(extension) " : ""}${cell(k.meaning)} |`);
  parts.push("", "## Types");
  for (const s of sections.values()) parts.push("", typeSection(s));
  return parts.join("\n") + "\n";
}
