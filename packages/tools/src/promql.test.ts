import { expect } from "chai";
import { labelNamesIn, metricNamesIn } from "./promql.ts";

describe("promql: names an expression uses", () => {
  it("finds metric names and skips functions, aggregations, keywords, numbers, strings and ranges", () => {
    const cases: Array<[string, string[]]> = [
      ["up", ["up"]],
      ["absent(dataprotection_leader)", ["dataprotection_leader"]],
      ["max(dataprotection_leader) < 1", ["dataprotection_leader"]],
      ['sum by (namespace, reason) (increase(a_total{namespace=~"$ns", reason!="x"}[$__rate_interval]))', ["a_total"]],
      ["histogram_quantile(0.9, sum by (le) (rate(d_seconds_bucket[5m])))", ["d_seconds_bucket"]],
      ["time() - max by (namespace, policy, type) (b) > on (namespace, policy, type) group_left 2 * c", ["b", "c"]],
      ["a unless on (x) b or c and d", ["a", "b", "c", "d"]],
      ["count(x == 0) or vector(0)", ["x"]],
      ["x offset 5m + y @ 1609746000 + z @ start()", ["x", "y", "z"]],
      ['label_replace(m, "dst", "$1", "src", "(.*)")', ["m"]],
      ["1e3 * a + 0x1F - .5 + Inf - NaN", ["a"]],
      ["sum(a) by (le) / sum(b) without (instance)", ["a", "b"]],
      ["rate(ns:metric:rate5m[1h:5m])", ["ns:metric:rate5m"]],
      ["a # a comment naming not_a_metric\n+ b", ["a", "b"]],
      ["a / ignoring (outcome) group_right (policy) b", ["a", "b"]],
    ];
    for (const [expr, want] of cases) expect(metricNamesIn(expr), expr).to.deep.equal(want);
  });

  it("finds the label names in matchers and grouping lists", () => {
    expect(labelNamesIn('sum by (namespace, reason) (a{namespace=~"$ns", reason!="x,y", le="+Inf"}) / on (namespace) group_left (policy) b')).to.deep.equal(["namespace", "reason", "le", "policy"]);
    expect(labelNamesIn("max(a)")).to.deep.equal([]);
  });
});
