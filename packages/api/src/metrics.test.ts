import { expect } from "chai";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { exportedSeriesNames, metricNames, metricSpecs } from "./metrics.ts";

const DOC = fileURLToPath(new URL("../../../docs/observability.md", import.meta.url));

// Labels whose values come from a closed set or from object names (bounded by what the cluster holds).
const BOUNDED_LABELS = new Set(["namespace", "policy", "type", "phase", "outcome", "reason", "repo"]);

describe("metrics: the catalog of what the operator exports", () => {
  it("names follow Prometheus conventions with the dataprotection_ prefix", () => {
    expect(new Set(metricNames).size).to.equal(metricNames.length);
    for (const m of metricSpecs) {
      expect(m.name, m.name).to.match(/^dataprotection_[a-z][a-z0-9_]*[a-z0-9]$/);
      if (m.type === "counter") expect(m.name, m.name).to.match(/_total$/);
      else expect(m.name, m.name).not.to.match(/_total$/);
      if (/timestamp/.test(m.name)) expect(m.name, m.name).to.match(/_timestamp_seconds$/);
      if (m.type === "histogram") expect(m.name, m.name).to.match(/_(seconds|bytes)$/);
      expect(m.help.length, m.name).to.be.greaterThan(20);
    }
  });

  it("uses bounded labels only", () => {
    for (const m of metricSpecs) for (const l of m.labels) expect(BOUNDED_LABELS.has(l), `${m.name}{${l}}`).to.equal(true);
  });

  it("lists a histogram's series as _bucket, _sum and _count", () => {
    const names = exportedSeriesNames();
    expect(names).to.include.members(["dataprotection_backup_duration_seconds_bucket", "dataprotection_backup_duration_seconds_sum", "dataprotection_backup_duration_seconds_count", "dataprotection_leader"]);
    expect(names).not.to.include("dataprotection_backup_duration_seconds");
  });

  it("docs/observability.md lists every metric with its labels, and no other", () => {
    const doc = readFileSync(DOC, "utf8");
    const rows = new Map([...doc.matchAll(/^\| `(dataprotection_[a-z0-9_]+)` \| (\w+) \| ([^|]*) \|/gm)].map((m) => [m[1], { type: m[2], labels: m[3].trim() }]));
    for (const m of metricSpecs) {
      expect(rows.get(m.name), `${m.name} is not in ${DOC}'s table`).to.deep.equal({ type: m.type, labels: m.labels.length ? m.labels.join(", ") : "(none)" });
    }
    expect([...rows.keys()].filter((n) => !metricNames.includes(n)), "documented but not exported").to.deep.equal([]);
  });
});
