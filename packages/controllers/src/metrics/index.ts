// The operator's domain metrics on its manager's registry (served at /metrics), fed by the
// manager's cache: the one call operator.ts makes.
import type { Manager } from "@dataprotection/runtime";
import { cacheSource } from "./cache-source.ts";
import { registerMetrics, type DomainMetrics } from "./register.ts";

export { Metrics, metricNames, metricSpecs, exportedSeriesNames, type MetricSpec } from "@dataprotection/api";

/** Call after the controllers are registered, so their informer options (optional kinds) come first. */
export function registerOperatorMetrics(manager: Manager): DomainMetrics {
  const source = cacheSource(manager.cache, () => manager.isLeader, (metric, error) => manager.logger.warn("metrics: deriving gauges failed", { metric, error: String(error) }));
  return registerMetrics(manager.metrics.registry, source);
}
