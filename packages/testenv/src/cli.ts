// `npm run cluster`: a real control plane plus the local node in the foreground.
// Prints `ready` once kubectl can use it; Ctrl-C / SIGTERM stop everything it started.
import { Command } from "commander";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { startControlPlane } from "./controlplane/start.ts";
import { nodeCount, startLocalNodes } from "./node/nodes.ts";
import type { ControlPlane } from "./types.ts";
import type { LocalNode } from "./node/types.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

interface ClusterOptions {
  kubeconfig: string;
  dir?: string;
  verbose?: boolean;
  nodes: string;
}

async function cluster(opts: ClusterOptions): Promise<void> {
  let cp: ControlPlane | undefined;
  let nodes: LocalNode[] = [];
  let stopping: Promise<void> | undefined;
  const stop = (code: number): Promise<void> => {
    stopping ??= (async () => {
      for (const n of nodes) await n.stop().catch((e) => console.error(`stopping node ${n.name}: ${String(e)}`));
      await cp?.stop().catch((e) => console.error(`stopping the control plane: ${String(e)}`));
      console.log("stopped");
      process.exit(code);
    })();
    return stopping;
  };
  let started = false;
  const onSignal = (sig: NodeJS.Signals) => {
    console.log(`${sig}: stopping`);
    // During start-up the pieces may not exist yet; stop once they do.
    if (started) void stop(0);
    else pendingStop = true;
  };
  let pendingStop = false;
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);

  try {
    const kubeconfigPath = resolve(repoRoot, opts.kubeconfig);
    cp = await startControlPlane({ kubeconfigPath, dir: opts.dir ? resolve(opts.dir) : undefined, verbose: opts.verbose });
    if (pendingStop) return void (await stop(0));
    nodes = await startLocalNodes(cp, nodeCount({ DP_NODES: opts.nodes }), { log: opts.verbose ? (m) => console.error(`[node] ${m}`) : undefined });
    started = true;
    if (pendingStop) return void (await stop(0));
    console.log(`kubeconfig: ${kubeconfigPath}`);
    console.log(`server: ${cp.server}`);
    console.log(`nodes: ${nodes.map((n) => n.name).join(", ")}`);
    console.log(`kubectl: ${resolve(cp.binDir, "kubectl")} --kubeconfig ${kubeconfigPath}`);
    console.log("ready");
  } catch (err) {
    console.error(`cluster failed to start: ${err instanceof Error ? err.message : String(err)}`);
    await stop(1);
  }
}

const program = new Command("testenv");
program
  .command("cluster")
  .description("run a local control plane and node until interrupted")
  .option("--kubeconfig <path>", "where to write the admin kubeconfig (relative to the repo root)", ".dp/kubeconfig")
  .option("--dir <dir>", "state directory (default: a temp dir removed on exit)")
  .option("-v, --verbose", "print component and node output")
  .option("--nodes <n>", "how many local nodes (local-node-0 stores Immediate claims and snapshots)", process.env.DP_NODES ?? "1")
  .action((opts: ClusterOptions) => cluster(opts));

await program.parseAsync(process.argv);
