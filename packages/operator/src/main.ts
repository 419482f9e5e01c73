// The operator's entry point (`npm start`).
// With KUBECONFIG or an in-cluster service account: run against that cluster, leader-elected.
// With neither: boot the embedded control plane + local node and a demo (see demo.ts).
import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "@dataprotection/runtime";
import { createOperator } from "./operator.ts";

function clusterConfig(): KubeConfig | undefined {
  const kc = new KubeConfig();
  if (process.env.KUBECONFIG && process.env.KUBECONFIG.split(":").some((p) => existsSync(p))) {
    kc.loadFromDefault();
    return kc;
  }
  if (process.env.KUBERNETES_SERVICE_HOST && existsSync("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    kc.loadFromCluster();
    return kc;
  }
  return undefined;
}

async function main(): Promise<void> {
  const logger = createLogger({ level: process.env.DP_LOG_LEVEL ?? "info" });
  const kc = clusterConfig();
  if (!kc) {
    // Only the embedded start imports testenv (and so needs the dev set-up).
    const { runEmbeddedDemo } = await import("./demo.ts");
    await runEmbeddedDemo(logger);
    return;
  }
  const operator = createOperator({
    kubeConfig: kc,
    logger,
    healthPort: Number(process.env.DP_METRICS_PORT ?? 8080),
    namespace: process.env.DP_WATCH_NAMESPACE || undefined,
    leaderElection: {
      leaseName: "dataprotection-operator",
      namespace: process.env.POD_NAMESPACE ?? "default",
    },
  });
  operator.manager.runUntilSignal();
  await operator.start();
  logger.info("operator started", { server: kc.getCurrentCluster()?.server });
}

main().catch((err: unknown) => {
  console.error(`dataprotection: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
