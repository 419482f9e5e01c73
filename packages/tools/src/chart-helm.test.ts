// The chart as Helm renders it (the real helm, built by the set-up): lint, a matrix of values,
// the schema refusing bad values with the key named, and the values reference kept in step.
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { isDeepStrictEqual } from "node:util";
import { parse, parseAllDocuments } from "yaml";
import { helmBinary } from "@dataprotection/testenv";
import { renderChartRbac } from "./chart-rbac.ts";
import { shippedTools } from "./index.ts";
import { CHART_VALUES_PATH, leaves, README_PATH, readSchema, withValuesTable } from "./chart-values.ts";

const chart = resolve(dirname(fileURLToPath(import.meta.url)), "../../../charts/dataprotection");

interface Rendered {
  kind: string;
  apiVersion: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  spec?: Record<string, unknown>;
  [k: string]: unknown;
}

function helm(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(helmBinary(), args, { encoding: "utf8" });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

function template(set: string[] = []): Rendered[] {
  const out = execFileSync(helmBinary(), ["template", "rel", chart, "-n", "dp", ...set.flatMap((s) => ["--set", s])], { encoding: "utf8" });
  return parseAllDocuments(out).map((d) => d.toJS() as Rendered | null).filter((o): o is Rendered => !!o);
}

const kinds = (objs: Rendered[]) => new Set(objs.map((o) => o.kind));
type Container = { image: string; command?: string[]; env?: Array<{ name: string; value?: string }> };
const operatorContainer = (objs: Rendered[]): Container => {
  const d = objs.find((o) => o.kind === "Deployment")!;
  return (d.spec as { template: { spec: { containers: Container[] } } }).template.spec.containers[0]!;
};
const envOf = (c: Container, name: string) => c.env?.find((e) => e.name === name)?.value;

describe("chart: rendered by helm", function () {
  this.timeout(60_000);

  it("passes helm lint with the default values and with every switch flipped", () => {
    for (const set of [[], ["builtinTools.enabled=false,flowSchema.enabled=false,threescale.enabled=false,alerts.enabled=true,dashboard.enabled=true,podMonitor.enabled=true"]]) {
      const r = helm(["lint", chart, "--strict", ...set.flatMap((s) => ["--set", s])]);
      expect(r.status, `${r.stdout}${r.stderr}`).to.equal(0);
    }
  });

  it("defaults: the operator's identity, the compiled operator, the built-in tools and the FlowSchema", () => {
    const objs = template();
    for (const k of ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding", "Deployment", "BackupTool", "FlowSchema"]) expect(kinds(objs), k).to.include(k);
    expect(kinds(objs)).to.not.include("PrometheusRule");
    const c = operatorContainer(objs);
    expect(c.command).to.deep.equal(["node", "--max-semi-space-size=4", "--heap-growing-percent=15", "/opt/dataprotection/packages/operator/dist/operator.js"]);
    expect(envOf(c, "DP_THREESCALE")).to.equal("true");
    expect(envOf(c, "DP_THREESCALE_TOOL_CLUSTER_ROLE")).to.equal("rel-threescale-tool");
    expect(objs.filter((o) => o.kind === "BackupTool").map((o) => o.metadata.name)).to.have.members(shippedTools.map((t) => t.metadata!.name!));
  });

  it("nodeOptions: the operator's Node flags, none, or others, always before the program", () => {
    const program = "/opt/dataprotection/packages/operator/dist/operator.js";
    expect(operatorContainer(template(["nodeOptions=null"])).command).to.deep.equal(["node", program]);
    const out = execFileSync(helmBinary(), ["template", "rel", chart, "--show-only", "templates/deployment.yaml", "--set-json", 'nodeOptions=["--max-old-space-size=96","--optimize-for-size"]'], { encoding: "utf8" });
    const d = parseAllDocuments(out)[0]!.toJS() as { spec: { template: { spec: { containers: Container[] } } } };
    expect(d.spec.template.spec.containers[0]!.command).to.deep.equal(["node", "--max-old-space-size=96", "--optimize-for-size", program]);
  });

  it("built-in tools off, FlowSchema off, 3scale off, one namespace watched", () => {
    const objs = template(["builtinTools.enabled=false", "flowSchema.enabled=false", "threescale.enabled=false", "watchNamespace=team-a"]);
    expect(kinds(objs)).to.not.include("BackupTool");
    expect(kinds(objs)).to.not.include("FlowSchema");
    const c = operatorContainer(objs);
    expect(envOf(c, "DP_THREESCALE")).to.equal("false");
    expect(envOf(c, "DP_WATCH_NAMESPACE")).to.equal("team-a");
  });

  it("metrics: alerts, the dashboard and the PodMonitor on", () => {
    const objs = template(["alerts.enabled=true", "alerts.labels.release=prom", "dashboard.enabled=true", "podMonitor.enabled=true"]);
    const monitor = objs.find((o) => o.kind === "PodMonitor");
    expect((monitor?.spec as { podMetricsEndpoints: unknown[] } | undefined)?.podMetricsEndpoints).to.deep.equal([{ port: "metrics", honorLabels: true }]);
    const rule = objs.find((o) => o.kind === "PrometheusRule");
    expect(rule, "PrometheusRule").to.not.equal(undefined);
    expect(rule!.metadata.labels).to.include({ release: "prom" });
    const groups = (rule!.spec as { groups: Array<{ rules: Array<{ alert?: string }> }> }).groups;
    expect(groups.flatMap((g) => g.rules).filter((r) => r.alert).length).to.be.greaterThan(0);
    const dash = objs.find((o) => o.kind === "ConfigMap" && o.metadata.labels?.grafana_dashboard === "1");
    expect(dash, "dashboard ConfigMap").to.not.equal(undefined);
    const json = Object.values((dash as unknown as { data: Record<string, string> }).data)[0]!;
    expect((JSON.parse(json) as { panels: unknown[] }).panels.length).to.be.greaterThan(0);
  });

  it("a custom image reaches the operator, dp-agent in tool pods and the built-in tools", () => {
    const objs = template(["image.repository=registry.example.com/dp", "image.tag=1.2.3"]);
    const c = operatorContainer(objs);
    expect(c.image).to.equal("registry.example.com/dp:1.2.3");
    expect(envOf(c, "DP_AGENT_IMAGE")).to.equal("registry.example.com/dp:1.2.3");
    const volume = objs.find((o) => o.kind === "BackupTool" && o.metadata.name === "volume")!;
    expect((volume.spec as { image: string }).image).to.equal("registry.example.com/dp:1.2.3");
  });

  it("renders the RBAC the e2e operator identity is made from (renderChartRbac) exactly as Helm does", () => {
    const byHelm = template().filter((o) => ["ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind));
    const byHand = renderChartRbac("rel", "dp");
    // Helm orders by kind; compare as sets of objects.
    const key = (o: { kind: string; metadata: { name: string } }) => `${o.kind}/${o.metadata.name}`;
    const sorted = (os: Array<{ kind: string; metadata: { name: string } }>) => [...os].sort((a, b) => key(a).localeCompare(key(b))).map((o) => JSON.parse(JSON.stringify(o)) as object);
    expect(sorted(byHelm)).to.deep.equal(sorted(byHand));
  });

  it("refuses bad values with the key named (values.schema.json)", () => {
    const cases: Array<[string, RegExp]> = [
      ["replicaCont=1", /additional properties 'replicaCont' not allowed/],
      ["logLevel=verbose", /\/logLevel': value must be one of 'error', 'warn', 'info', 'debug'/],
      ["metricsPort=http", /\/metricsPort': got string, want integer/],
      ["replicaCount=0", /\/replicaCount': minimum: got 0, want 1/],
      ["watchNamespace=Team_A", /\/watchNamespace': '.*' does not match pattern/],
      ["image.pullPolicy=Sometimes", /\/image\/pullPolicy': value must be one of/],
      // Only flags go before the program: nothing that would run something else.
      ["nodeOptions[0]=--require=/tmp/x.js;id", /\/nodeOptions\/0': '.*' does not match pattern/],
      ["nodeOptions[0]=-e", /\/nodeOptions\/0': '.*' does not match pattern/],
    ];
    for (const [set, message] of cases) {
      const r = helm(["template", "rel", chart, "--set", set]);
      expect(r.status, set).to.not.equal(0);
      expect(r.stderr, set).to.match(message);
    }
  });

  it("values.yaml and values.schema.json agree: every value has a schema entry whose default is the value", () => {
    const values = parse(readFileSync(CHART_VALUES_PATH, "utf8")) as Record<string, unknown>;
    const at = (key: string) => key.split(".").reduce<unknown>((o, k) => (o as Record<string, unknown> | undefined)?.[k], values);
    const schemaKeys = leaves(readSchema()).map((l) => l.key);
    const valueKeys = (o: Record<string, unknown>, p = ""): string[] =>
      Object.entries(o).flatMap(([k, v]) => {
        const key = p ? `${p}.${k}` : k;
        return v && typeof v === "object" && !Array.isArray(v) && schemaKeys.some((s) => s.startsWith(`${key}.`)) ? valueKeys(v as Record<string, unknown>, key) : [key];
      });
    expect(valueKeys(values).sort()).to.deep.equal([...schemaKeys].sort());
    for (const { key, node } of leaves(readSchema())) expect(isDeepStrictEqual(node.default, at(key)), `${key}: schema default ${JSON.stringify(node.default)}, values.yaml ${JSON.stringify(at(key))}`).to.equal(true);
  });

  it("README.md's values table is up to date (npm run gen)", () => {
    const readme = readFileSync(README_PATH, "utf8");
    expect(readme === withValuesTable(readme, readSchema()), "README.md's values table is stale: run npm run gen").to.equal(true);
  });
});
