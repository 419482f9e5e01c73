// The operator under test of bench:schedule, in its own process so its CPU and RSS are its
// own: only the backuppolicy controller, real clock, one namespace. Prints "ready" once synced.
import { KubeConfig } from "@kubernetes/client-node";
import { createLogger } from "@dataprotection/runtime";
import { createOperator } from "../src/index.ts";

const [kubeconfigPath, namespace] = process.argv.slice(2);
const kubeConfig = new KubeConfig();
kubeConfig.loadFromFile(kubeconfigPath);
const logger = createLogger({ level: "error" });
const op = createOperator({ kubeConfig, namespace, logger, controllers: ["backuppolicy"] });
await op.start();
process.stdout.write("ready\n");
process.once("SIGTERM", () => {
  void op.stop().then(() => process.exit(0));
});
