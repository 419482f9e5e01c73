import { Manager, realClock } from "@dataprotection/runtime";
import { defaultTimeouts, type ControllerName, type OperatorContext, type OperatorOptions } from "./options.ts";
import { registerBackupController } from "./backup/index.ts";
import { registerBackupPolicyController } from "./backuppolicy/index.ts";
import { LOG_KEEP_FROM_MARGIN_MS } from "./backuppolicy/log-retention.ts";
import { registerBackupRepoController } from "./backuprepo/index.ts";
import { registerBackupToolController } from "./backuptool/index.ts";
import { registerRestoreJobController } from "./restorejob/index.ts";
import { registerStorageProviderController } from "./storageprovider/index.ts";
import { registerOperatorMetrics } from "./metrics/index.ts";

type Register = (manager: Manager, ctx: OperatorContext) => void;

/** Every controller of the operator, by name. Plugins (3scale) register through `extraControllers`. */
const registry: Record<Exclude<ControllerName, "threescale">, Register> = {
  backup: registerBackupController,
  backuppolicy: registerBackupPolicyController,
  backuprepo: registerBackupRepoController,
  backuptool: registerBackupToolController,
  restorejob: registerRestoreJobController,
  storageprovider: registerStorageProviderController,
};

export interface Operator {
  manager: Manager;
  start(): Promise<void>;
  stop(): Promise<void>;
}

/** One manager with every controller (or the chosen ones); start() waits for cache sync. */
export function createOperator(o: OperatorOptions, extraControllers: Register[] = []): Operator {
  const clock = o.clock ?? realClock;
  const manager = new Manager({
    kubeConfig: o.kubeConfig,
    namespace: o.namespace,
    component: "dataprotection",
    logger: o.logger,
    clock,
    leaderElection: o.leaderElection,
    healthPort: o.healthPort,
  });
  const ctx: OperatorContext = {
    clock,
    agentImage: o.agentImage ?? process.env.DP_AGENT_IMAGE ?? "ghcr.io/dataprotection/operator:0.1.0",
    timeouts: { ...defaultTimeouts, ...o.timeouts },
    namespace: o.namespace,
    allowHostPathRestore: o.allowHostPathRestore ?? process.env.DP_ALLOW_HOSTPATH_RESTORE === "true",
    logKeepFromMarginMs: o.logKeepFromMarginMs ?? LOG_KEEP_FROM_MARGIN_MS,
  };
  const wanted = new Set(o.controllers ?? Object.keys(registry));
  for (const [name, register] of Object.entries(registry)) if (wanted.has(name)) register(manager, ctx);
  for (const register of extraControllers) register(manager, ctx);
  registerOperatorMetrics(manager);
  return { manager, start: () => manager.start(), stop: () => manager.stop() };
}
