// The chart's alerts (files/alerts.yaml, tests/alerts.test.yaml) and Grafana dashboard
// (files/dashboard.json) as the tests read them, and promtool (Debian package prometheus,
// installed by `npm run setup`) to check and unit-test them.
import { spawnSync } from "node:child_process";
import { accessSync, constants, readFileSync } from "node:fs";
import { delimiter, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";

const chartFile = (path: string): string => fileURLToPath(new URL(`../../../charts/dataprotection/${path}`, import.meta.url));
export const CHART_ALERTS_PATH = chartFile("files/alerts.yaml");
export const CHART_ALERTS_TEST_PATH = chartFile("tests/alerts.test.yaml");
export const CHART_DASHBOARD_PATH = chartFile("files/dashboard.json");

// --- promtool ---------------------------------------------------------------------------

/** promtool on PATH (Debian: /usr/bin/promtool); throws naming the fix when it is missing. */
export function promtoolBinary(dirs = [...(process.env.PATH ?? "").split(delimiter).filter(Boolean), "/usr/bin"]): string {
  for (const dir of dirs) {
    const bin = join(dir, "promtool");
    try {
      accessSync(bin, constants.X_OK);
      return bin;
    } catch {
      // not here
    }
  }
  throw new Error("promtool is missing (Debian package prometheus): `npm run setup` installs it");
}

export interface PromtoolResult {
  status: number | null;
  output: string;
}

export function promtool(args: string[]): PromtoolResult {
  const r = spawnSync(promtoolBinary(), args, { encoding: "utf8", timeout: 60_000 });
  if (r.error) throw r.error;
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

// --- alerts -----------------------------------------------------------------------------

export interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

export interface RuleGroup {
  name: string;
  rules: AlertRule[];
}

export function readAlertGroups(path = CHART_ALERTS_PATH): RuleGroup[] {
  return (parse(readFileSync(path, "utf8")) as { groups: RuleGroup[] }).groups;
}

// --- dashboard --------------------------------------------------------------------------

interface Target {
  expr?: string;
  refId?: string;
}

interface Panel {
  id?: number;
  title?: string;
  type?: string;
  targets?: Target[];
  panels?: Panel[];
}

export interface Dashboard {
  title: string;
  uid: string;
  panels: Panel[];
  templating?: { list: Array<{ name: string; type: string; query?: string | { query?: string }; definition?: string }> };
}

export function readDashboard(path = CHART_DASHBOARD_PATH): Dashboard {
  return JSON.parse(readFileSync(path, "utf8")) as Dashboard;
}

export interface PanelQuery {
  /** "<panel title> / <refId>", for messages. */
  where: string;
  expr: string;
}

/** Every PromQL expression of every panel, rows' nested panels included. */
export function dashboardQueries(d: Dashboard): PanelQuery[] {
  const walk = (panels: Panel[]): PanelQuery[] =>
    panels.flatMap((p) => [
      ...(p.targets ?? []).filter((t) => t.expr !== undefined).map((t) => ({ where: `${p.title ?? `panel ${p.id}`} / ${t.refId ?? "?"}`, expr: t.expr! })),
      ...walk(p.panels ?? []),
    ]);
  return walk(d.panels);
}

/** The metric each query variable reads: `label_values(metric{...}, label)`. */
export function variableMetrics(d: Dashboard): Array<{ variable: string; metric: string | undefined }> {
  return (d.templating?.list ?? [])
    .filter((v) => v.type === "query")
    .map((v) => {
      const q = typeof v.query === "string" ? v.query : (v.query?.query ?? v.definition ?? "");
      return { variable: v.name, metric: /^\s*label_values\(\s*([A-Za-z_:][A-Za-z0-9_:]*)/.exec(q)?.[1] };
    });
}

/** Grafana's built-in interval variables, as promtool-readable durations. */
const INTERVALS: Record<string, string> = { __rate_interval: "5m", __interval: "1m", __range: "1d" };

/**
 * A panel query as Prometheus receives it: interval variables become durations, the dashboard's
 * own variables (used in label matchers only) the regex ".*". Throws on any other variable.
 */
export function substituteVariables(expr: string, variables: readonly string[]): string {
  return expr.replace(/\$\{(\w+)\}|\$(\w+)/g, (all, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare!;
    if (INTERVALS[name]) return INTERVALS[name];
    if (variables.includes(name)) return ".*";
    throw new Error(`unknown Grafana variable ${all} in ${JSON.stringify(expr)}`);
  });
}
