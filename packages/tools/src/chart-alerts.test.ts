// The chart's alert rules: promtool reads them and their unit tests pass, every alert is
// labelled and annotated and tested firing and silent, and every metric they read is one the
// operator exports.
import { expect } from "chai";
import { readFileSync } from "node:fs";
import { parse } from "yaml";
// The chart's alerts and dashboard must use the names the operator exports, read from the one
// list (@dataprotection/api metrics.ts), not from a copy kept here.
import { exportedSeriesNames, metricSpecs } from "@dataprotection/api";
import { CHART_ALERTS_PATH, CHART_ALERTS_TEST_PATH, promtool, promtoolBinary, readAlertGroups } from "./chart-observability.ts";
import { labelNamesIn, metricNamesIn } from "./promql.ts";

const exported = new Set(exportedSeriesNames());
const knownLabels = new Set([...metricSpecs.flatMap((m) => m.labels), "le"]);
const alerts = readAlertGroups().flatMap((g) => g.rules.filter((r) => r.alert));

interface RuleTest {
  name?: string;
  input_series: Array<{ series: string }>;
  alert_rule_test?: Array<{ alertname: string; exp_alerts?: unknown[] }>;
}

describe("chart: alerts (files/alerts.yaml)", function () {
  this.timeout(60_000);

  it("without promtool, fails saying how to install it (never skips)", () => {
    expect(() => promtoolBinary(["/nonexistent"])).to.throw("promtool is missing (Debian package prometheus): `npm run setup` installs it");
  });

  it("promtool check rules reads them", () => {
    const r = promtool(["check", "rules", "--lint-fatal", CHART_ALERTS_PATH]);
    expect(r.status, r.output).to.equal(0);
  });

  it("promtool test rules passes tests/alerts.test.yaml", () => {
    const r = promtool(["test", "rules", CHART_ALERTS_TEST_PATH]);
    expect(r.status, r.output).to.equal(0);
  });

  it("every alert has a unique name, a severity, a summary and a description", () => {
    expect(alerts.length).to.be.greaterThan(0);
    expect(new Set(alerts.map((a) => a.alert)).size).to.equal(alerts.length);
    for (const a of alerts) {
      expect(a.alert, a.alert).to.match(/^DataProtection[A-Z][A-Za-z]+$/);
      expect(["critical", "warning", "info"], `${a.alert} severity`).to.include(a.labels?.severity);
      expect(a.annotations?.summary, `${a.alert} summary`).to.be.a("string").and.not.equal("");
      expect(a.annotations?.description, `${a.alert} description`).to.be.a("string").and.not.equal("");
    }
  });

  it("reads only metrics the operator exports, by labels they have", () => {
    for (const a of alerts) {
      const names = metricNamesIn(a.expr);
      expect(names.length, `${a.alert} reads no metric`).to.be.greaterThan(0);
      for (const n of names) expect(exported.has(n), `${a.alert}: ${n} is not exported by the operator (packages/api/src/metrics.ts)`).to.equal(true);
      for (const l of labelNamesIn(a.expr)) expect(knownLabels.has(l), `${a.alert}: label ${l} is on no exported metric`).to.equal(true);
    }
  });

  it("every alert is tested firing and silent, on series the operator exports", () => {
    const file = parse(readFileSync(CHART_ALERTS_TEST_PATH, "utf8")) as { tests: RuleTest[] };
    const cases = file.tests.flatMap((t) => t.alert_rule_test ?? []);
    for (const a of alerts) {
      expect(cases.some((c) => c.alertname === a.alert && (c.exp_alerts ?? []).length > 0), `${a.alert} never tested firing`).to.equal(true);
      expect(cases.some((c) => c.alertname === a.alert && (c.exp_alerts ?? []).length === 0), `${a.alert} never tested silent`).to.equal(true);
    }
    // A misspelt input series would make a silent case pass for the wrong reason. (`up` stands for "some other target".)
    for (const t of file.tests) {
      for (const s of t.input_series) {
        const name = /^\s*([A-Za-z_:][A-Za-z0-9_:]*)/.exec(s.series)?.[1] ?? "";
        expect(exported.has(name) || name === "up", `${t.name}: input series ${s.series} is not an exported metric`).to.equal(true);
      }
    }
  });
});
