// Pure: the operator's settings from its environment (what the chart's Deployment sets).
export interface OperatorSettings {
  logLevel: string;
  metricsPort: number;
  watchNamespace?: string;
  podNamespace: string;
  /** The pod's name (downward API), the start of its leader-election identity. */
  podName?: string;
  agentImage?: string;
  threescale: boolean;
  threescaleToolClusterRole?: string;
  /** Running from the compiled bundle (dist/operator.js), not the sources. */
  compiled: boolean;
}

export function operatorSettings(env: Record<string, string | undefined>, compiled = !import.meta.url.endsWith(".ts")): OperatorSettings {
  const port = Number(env.DP_METRICS_PORT ?? 8080);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new Error(`DP_METRICS_PORT=${env.DP_METRICS_PORT}: want a port number (0-65535)`);
  const threescale = (env.DP_THREESCALE ?? "true").toLowerCase();
  if (threescale !== "true" && threescale !== "false") throw new Error(`DP_THREESCALE=${env.DP_THREESCALE}: want true or false`);
  return {
    logLevel: env.DP_LOG_LEVEL ?? "info",
    metricsPort: port,
    watchNamespace: env.DP_WATCH_NAMESPACE || undefined,
    podNamespace: env.POD_NAMESPACE ?? "default",
    podName: env.POD_NAME || undefined,
    agentImage: env.DP_AGENT_IMAGE || undefined,
    threescale: threescale === "true",
    threescaleToolClusterRole: env.DP_THREESCALE_TOOL_CLUSTER_ROLE || undefined,
    compiled,
  };
}
