// threescale-dp: the commands of the threescale-apimanager BackupTool. Runs in the tool pod
// with the pod's own service account; see README.md for the env contract.
import { writeFile } from "node:fs/promises";
import { Command } from "commander";
import { KubeClient } from "@dataprotection/runtime";
import { runBackup, runBackupFiles } from "./tool/backup.ts";
import { kubeConfigFromEnv, namespaceFromEnv } from "./tool/kube.ts";
import { StepError } from "./tool/reasons.ts";
import { runRestore, runRestoreFiles } from "./tool/restore.ts";
import type { StepContext } from "./tool/steps.ts";
import { storeFromEnv } from "./tool/store.ts";

const env = process.env;
const log = (line: string) => process.stderr.write(`threescale-dp: ${line}\n`);
const terminationPath = env.DP_TERMINATION_MESSAGE_PATH || "/dev/termination-log";

function context(needsKube: boolean): StepContext {
  const store = storeFromEnv(env);
  const client = needsKube ? new KubeClient(kubeConfigFromEnv(env)) : (undefined as unknown as KubeClient);
  return { client, namespace: needsKube ? namespaceFromEnv(env) : "", store, env, log, pollMs: Number(env.THREESCALE_POLL_MS) || 2000 };
}

async function run(step: string, fn: (ctx: StepContext) => Promise<object | void>, needsKube = true): Promise<void> {
  try {
    const ctx = context(needsKube);
    const result = (await fn(ctx)) ?? {};
    const report = { ...ctx.store.report(), ...result };
    await writeFile(terminationPath, JSON.stringify(report).slice(0, 4096)).catch(() => undefined);
    log(`${step} done: ${JSON.stringify(result)}`);
    process.exit(0);
  } catch (e) {
    const reason = e instanceof StepError ? e.reason : "Error";
    const message = e instanceof Error ? e.message : String(e);
    await writeFile(terminationPath, JSON.stringify({ reason, message }).slice(0, 4096)).catch(() => undefined);
    log(`${step} failed: ${reason}: ${message}`);
    process.exit(1);
  }
}

const program = new Command("threescale-dp").description("Back up and restore a 3scale APIManager (upstream 3scale operator layout)");
program.command("backup").description("Secrets, ConfigMaps, the APIManager and System's FileStorage -> the store").action(() => run("backup", runBackup));
program.command("backup-files").description("(helper pod) the system-storage PVC at /system-storage -> the store").action(() => run("backup-files", (c) => runBackupFiles(c), false));
program.command("restore").description("the store -> Secrets, ConfigMaps, system-storage, the APIManager; then the routes resync").action(() => run("restore", runRestore));
program.command("restore-files").description("(helper pod) the store -> the system-storage PVC at /system-storage").action(() => run("restore-files", (c) => runRestoreFiles(c), false));
await program.parseAsync(process.argv);
