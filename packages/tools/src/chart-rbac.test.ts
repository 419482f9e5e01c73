import { expect } from "chai";
import { readFileSync } from "node:fs";
import { CHART_RBAC_PATH, auditRbac, renderChartRbac, type PolicyRule, type RbacObject } from "./chart-rbac.ts";

const objects = renderChartRbac("dp", "dp-system");
const byName = (kind: string, name: string): RbacObject => {
  const o = objects.find((x) => x.kind === kind && x.metadata.name === name);
  if (!o) throw new Error(`${kind} ${name} not in the rendered chart`);
  return o;
};

/** Does `holder` allow `verb` on `group`/`resource` (no wildcards: the audit refuses them)? */
const allows = (holder: readonly PolicyRule[], group: string, resource: string, verb: string): boolean =>
  holder.some((r) => (r.apiGroups ?? []).includes(group) && (r.resources ?? []).includes(resource) && r.verbs.includes(verb) && !r.resourceNames?.length);

describe("chart: RBAC", () => {
  it("grants no wildcard, bind, escalate, impersonate, pods/exec, namespace write, Secret list/watch or Role write", () => {
    expect(auditRbac(objects)).to.deep.equal([]);
  });

  it("the audit catches each forbidden rule", () => {
    const role = (rules: PolicyRule[]): RbacObject[] => [{ apiVersion: "rbac.authorization.k8s.io/v1", kind: "ClusterRole", metadata: { name: "x" }, rules }];
    const bad: Array<[PolicyRule, RegExp]> = [
      [{ apiGroups: ["apps"], resources: ["*"], verbs: ["get"] }, /wildcard/],
      [{ apiGroups: ["*"], resources: ["jobs"], verbs: ["get"] }, /wildcard/],
      [{ apiGroups: ["batch"], resources: ["jobs"], verbs: ["*"] }, /verb \*/],
      [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["rolebindings"], verbs: ["bind"] }, /verb bind/],
      [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["clusterroles"], verbs: ["escalate"] }, /verb escalate/],
      [{ apiGroups: [""], resources: ["users"], verbs: ["impersonate"] }, /verb impersonate/],
      [{ apiGroups: [""], resources: ["pods/exec"], verbs: ["create"] }, /pods\/exec/],
      [{ apiGroups: [""], resources: ["namespaces"], verbs: ["get", "create"] }, /namespace writes/],
      [{ apiGroups: [""], resources: ["secrets"], verbs: ["get", "list"] }, /list\/watch on Secrets/],
      [{ apiGroups: ["rbac.authorization.k8s.io"], resources: ["roles"], verbs: ["create"] }, /writes Roles/],
    ];
    for (const [rule, want] of bad) expect(auditRbac(role([rule])).join("\n"), JSON.stringify(rule)).to.match(want);
  });

  it("every rule has a comment saying what needs it", () => {
    const lines = readFileSync(CHART_RBAC_PATH, "utf8").split("\n");
    const uncommented = lines.flatMap((l, i) => (/^\s+- apiGroups:/.test(l) && !/^\s*#/.test(lines[i - 1] ?? "") ? [`line ${i + 1}: ${l.trim()}`] : []));
    expect(uncommented).to.deep.equal([]);
  });

  it("the operator holds every rule of the 3scale tool's ClusterRole, so it can bind it without the bind verb", () => {
    const operator = byName("ClusterRole", "dp-operator").rules ?? [];
    const tool = byName("ClusterRole", "dp-threescale-tool").rules ?? [];
    const missing = tool.flatMap((r) => (r.apiGroups ?? []).flatMap((g) => (r.resources ?? []).flatMap((res) => r.verbs.filter((v) => !allows(operator, g, res, v)).map((v) => `${g || "core"}/${res} ${v}`))));
    expect(missing).to.deep.equal([]);
  });

  it("binds the ServiceAccount in the release namespace; leader election is a namespaced Role", () => {
    expect(byName("ServiceAccount", "dp-operator").metadata.namespace).to.equal("dp-system");
    expect(byName("ClusterRoleBinding", "dp-operator").subjects).to.deep.equal([{ kind: "ServiceAccount", name: "dp-operator", namespace: "dp-system" }]);
    const leader = byName("Role", "dp-operator-leader");
    expect(leader.metadata.namespace).to.equal("dp-system");
    expect(allows(leader.rules ?? [], "coordination.k8s.io", "leases", "update")).to.equal(true);
    expect(allows(byName("ClusterRole", "dp-operator").rules ?? [], "coordination.k8s.io", "leases", "update")).to.equal(false);
  });

  it("refuses a template action it cannot render", () => {
    expect(() => renderChartRbac("dp", "ns", "name: {{ .Values.x }}")).to.throw(/unsupported template action/);
  });
});
