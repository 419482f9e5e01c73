import { expect } from "chai";
import { operatorSettings } from "./settings.ts";

describe("operatorSettings", () => {
  it("defaults to port 8080, the 3scale plugin on, the default namespace", () => {
    expect(operatorSettings({}, false)).to.deep.include({ metricsPort: 8080, threescale: true, podNamespace: "default", logLevel: "info", compiled: false });
  });
  it("reads what the chart's Deployment sets", () => {
    const s = operatorSettings({ DP_METRICS_PORT: "9102", DP_THREESCALE: "false", POD_NAMESPACE: "dp", DP_AGENT_IMAGE: "r/op:1", DP_THREESCALE_TOOL_CLUSTER_ROLE: "rel-threescale-tool", DP_LOG_LEVEL: "debug", POD_NAME: "rel-operator-abc" }, true);
    expect(s).to.deep.include({ metricsPort: 9102, threescale: false, podNamespace: "dp", agentImage: "r/op:1", threescaleToolClusterRole: "rel-threescale-tool", logLevel: "debug", compiled: true, podName: "rel-operator-abc" });
  });
  it("refuses a bad port or switch with the variable named", () => {
    expect(() => operatorSettings({ DP_METRICS_PORT: "http" })).to.throw(/DP_METRICS_PORT=http/);
    expect(() => operatorSettings({ DP_THREESCALE: "yes" })).to.throw(/DP_THREESCALE=yes: want true or false/);
  });
});
