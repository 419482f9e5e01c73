// The chart's RBAC (charts/dataprotection/templates/rbac.yaml) rendered for one release, and the
// audit that keeps it least-privilege. The e2e suites apply the rendered objects and run the
// operator with the ServiceAccount's token, so the rules are proven by use, not only read.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";

export const CHART_RBAC_PATH = fileURLToPath(new URL("../../../charts/dataprotection/templates/rbac.yaml", import.meta.url));

export interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  resourceNames?: string[];
  verbs: string[];
  nonResourceURLs?: string[];
}

export interface RbacObject {
  apiVersion: string;
  kind: "ServiceAccount" | "ClusterRole" | "ClusterRoleBinding" | "Role" | "RoleBinding";
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { apiGroup: string; kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace?: string }>;
}

/**
 * Renders the template for `release` installed in `namespace`. It uses only `.Release.Name` and
 * `.Release.Namespace`; any other action fails here, so the file cannot grow logic that this
 * renderer (and the tests relying on it) would silently get wrong.
 */
export function renderChartRbac(release: string, namespace: string, text = readFileSync(CHART_RBAC_PATH, "utf8")): RbacObject[] {
  const rendered = text.replace(/\{\{-?\s*([^}]*?)\s*-?\}\}/g, (all, action: string) => {
    if (action === ".Release.Name") return release;
    if (action === ".Release.Namespace") return namespace;
    throw new Error(`rbac.yaml: unsupported template action ${all}: only .Release.Name and .Release.Namespace`);
  });
  return parseAllDocuments(rendered)
    .map((d) => d.toJS() as RbacObject | null)
    .filter((o): o is RbacObject => !!o);
}

const FORBIDDEN_VERBS = ["*", "bind", "escalate", "impersonate"];
/** Reads of these return their contents cluster-wide: only by name. */
const NO_LIST = ["secrets"];

/** Every way a rule of `objects` breaks the operator's least-privilege contract; empty when none. */
export function auditRbac(objects: readonly RbacObject[]): string[] {
  const findings: string[] = [];
  for (const o of objects) {
    for (const [i, r] of (o.rules ?? []).entries()) {
      const where = `${o.kind} ${o.metadata.name} rule ${i} (${(r.apiGroups ?? []).join(",") || "core"}: ${(r.resources ?? r.nonResourceURLs ?? []).join(",")})`;
      const groups = r.apiGroups ?? [];
      const resources = r.resources ?? [];
      if (groups.includes("*") || resources.includes("*") || resources.some((x) => x.endsWith("/*"))) findings.push(`${where}: wildcard group or resource`);
      for (const v of r.verbs.filter((v) => FORBIDDEN_VERBS.includes(v))) findings.push(`${where}: verb ${v}`);
      if (r.nonResourceURLs?.length) findings.push(`${where}: non-resource URLs`);
      const core = groups.includes("");
      if (core && resources.includes("pods/exec")) findings.push(`${where}: pods/exec`);
      if (core && resources.includes("pods/attach")) findings.push(`${where}: pods/attach`);
      if (core && resources.includes("namespaces") && r.verbs.some((v) => !["get", "list", "watch"].includes(v))) findings.push(`${where}: namespace writes (${r.verbs.join(",")})`);
      if (core && resources.some((x) => NO_LIST.includes(x)) && r.verbs.some((v) => v === "list" || v === "watch")) findings.push(`${where}: list/watch on Secrets`);
      if (groups.includes("rbac.authorization.k8s.io") && resources.some((x) => x === "roles" || x === "clusterroles" || x === "clusterrolebindings") && r.verbs.some((v) => v !== "get" && v !== "list" && v !== "watch")) {
        findings.push(`${where}: writes Roles or cluster-wide bindings`);
      }
    }
  }
  return findings;
}
