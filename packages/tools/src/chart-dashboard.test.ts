// The chart's Grafana dashboard: every panel query reads metrics the operator exports and
// parses as PromQL (promtool checks them as recording rules).
import { expect } from "chai";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
// The metric names come from the one list in @dataprotection/api (see chart-alerts.test.ts).
import { exportedSeriesNames, metricSpecs } from "@dataprotection/api";
import { dashboardQueries, promtool, readDashboard, substituteVariables, variableMetrics } from "./chart-observability.ts";
import { labelNamesIn, metricNamesIn } from "./promql.ts";

const exported = new Set(exportedSeriesNames());
const knownLabels = new Set([...metricSpecs.flatMap((m) => m.labels), "le"]);
const dashboard = readDashboard();
const queries = dashboardQueries(dashboard);
const variables = (dashboard.templating?.list ?? []).map((v) => v.name);

describe("chart: Grafana dashboard (files/dashboard.json)", function () {
  this.timeout(60_000);

  it("has a uid, a title, panel queries and unique panel ids", () => {
    expect(dashboard.uid).to.equal("dataprotection");
    expect(dashboard.title).to.be.a("string").and.not.equal("");
    expect(queries.length).to.be.greaterThan(10);
    const ids: number[] = [];
    const walk = (ps: Array<{ id?: number; panels?: unknown[] }>): void => ps.forEach((p) => (ids.push(p.id!), walk((p.panels ?? []) as typeof ps)));
    walk(dashboard.panels);
    expect(new Set(ids).size).to.equal(ids.length);
  });

  it("reads only metrics the operator exports, by labels they have", () => {
    for (const q of queries) {
      const names = metricNamesIn(q.expr);
      expect(names.length, `${q.where} reads no metric`).to.be.greaterThan(0);
      for (const n of names) expect(exported.has(n), `${q.where}: ${n} is not exported by the operator (packages/api/src/metrics.ts)`).to.equal(true);
      for (const l of labelNamesIn(q.expr)) expect(knownLabels.has(l), `${q.where}: label ${l} is on no exported metric`).to.equal(true);
    }
    for (const v of variableMetrics(dashboard)) expect(v.metric !== undefined && exported.has(v.metric), `variable ${v.variable} reads ${v.metric}`).to.equal(true);
  });

  it("every query parses (promtool check rules, each query as a recording rule)", () => {
    const dir = mkdtempSync(join(tmpdir(), "dp-dashboard-"));
    try {
      const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: substituteVariables(q.expr, variables) }));
      const file = join(dir, "dashboard-queries.yaml");
      writeFileSync(file, stringify({ groups: [{ name: "dashboard", rules }] }));
      const r = promtool(["check", "rules", file]);
      const where = queries.map((q, i) => `dashboard:query_${i} = ${q.where}`).join("\n");
      expect(r.status, `${r.output}\n${where}`).to.equal(0);
      expect(r.output).to.contain(`SUCCESS: ${queries.length} rules found`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a query that does not parse is caught, and only known variables are substituted", () => {
    const dir = mkdtempSync(join(tmpdir(), "dp-dashboard-"));
    try {
      const file = join(dir, "bad.yaml");
      writeFileSync(file, stringify({ groups: [{ name: "bad", rules: [{ record: "dashboard:bad", expr: "sum by (policy (dataprotection_leader)" }] }] }));
      expect(promtool(["check", "rules", file]).status).to.not.equal(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(substituteVariables('increase(a{namespace=~"$namespace"}[$__rate_interval])', ["namespace"])).to.equal('increase(a{namespace=~".*"}[5m])');
    expect(() => substituteVariables('a{x="$other"}', ["namespace"])).to.throw(/unknown Grafana variable \$other/);
  });
});
