// The operator's entry point: the image's and the chart's command (compiled to dist/operator.js),
// and `npm start` (through tsx).
// With KUBECONFIG or an in-cluster service account: run against that cluster, leader-elected,
// with every core controller and the 3scale plugin (DP_THREESCALE=false leaves the plugin out).
// With neither: boot the embedded control plane + local node and a demo (see demo.ts).
import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { KubeConfig } from "@kubernetes/client-node";
import { createOperator } from "@dataprotection/controllers";
import { createLogger } from "@dataprotection/runtime";
import { threescaleControllers } from "@dataprotection/threescale";
import { operatorSettings } from "./settings.ts";

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
  const s = operatorSettings(process.env);
  const logger = createLogger({ level: s.logLevel });
  const kc = clusterConfig();
  if (!kc) {
    if (s.compiled) throw new Error("no cluster: set KUBECONFIG or run in a pod (the embedded demo runs from the sources: npm start)");
    // Only the embedded start imports testenv (and so needs the dev set-up); the path is built at
    // run time so the compiled bundle does not carry it.
    const demo = "./demo.ts";
    const { runEmbeddedDemo } = (await import(demo)) as typeof import("./demo.ts");
    await runEmbeddedDemo(logger);
    return;
  }
  const operator = createOperator({
    kubeConfig: kc,
    logger,
    healthPort: s.metricsPort,
    namespace: s.watchNamespace,
    // The Lease names the pod holding it (kubectl get lease shows which replica leads).
    leaderElection: { leaseName: "dataprotection-operator", namespace: s.podNamespace, ...(s.podName ? { identity: `${s.podName}_${randomBytes(3).toString("hex")}` } : {}) },
  }, s.threescale ? [threescaleControllers({ image: s.agentImage, toolClusterRole: s.threescaleToolClusterRole })] : []);
  operator.manager.runUntilSignal();
  await operator.start();
  logger.info("operator started", { server: kc.getCurrentCluster()?.server, threescale: s.threescale });
}

main().catch((err: unknown) => {
  console.error(`dataprotection: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
