// kubectl-dp: create Backups and RestoreJobs from the command line, follow them, and list
// what a namespace holds. A kubectl plugin: `kubectl dp ...` runs it when it is on PATH.
import { Command, CommanderError, Option } from "commander";
import { KubeConfig } from "@kubernetes/client-node";
import { Kinds, type Backup, type BackupPolicy, type RestoreJob } from "@dataprotection/api";
import { ApiError, KubeClient, isAlreadyExists, isNotFound } from "@dataprotection/runtime";
import { BACKUP_TYPES, type BackupType, UsageError, backupObject, restoreJobObject } from "./objects.ts";
import { backupTable, formatTable, policyTable, restoreTable } from "./table.ts";
import { type Phased, parseDuration, waitForEnd } from "./wait.ts";

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  now?: () => Date;
  /** Poll interval while waiting (tests make it short). */
  pollMs?: number;
}

interface Globals {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
}

const BACKUP_DONE = ["Completed", "Failed"];
const RESTORE_DONE = ["Completed", "Failed"];

function connect(g: Globals): { client: KubeClient; namespace: string } {
  const kc = new KubeConfig();
  const file = g.kubeconfig ?? process.env.KUBECONFIG?.split(":")[0];
  try {
    if (g.kubeconfig) kc.loadFromFile(g.kubeconfig);
    else kc.loadFromDefault();
  } catch (err) {
    throw new Error(`cannot load the kubeconfig${file ? ` ${file}` : ""}: ${(err as { code?: string }).code ?? (err instanceof Error ? err.message : String(err))}`);
  }
  if (g.context) {
    if (!kc.getContextObject(g.context)) throw new UsageError(`context "${g.context}" is not in the kubeconfig`);
    kc.setCurrentContext(g.context);
  }
  if (!kc.getCurrentCluster()) throw new Error("the kubeconfig has no current cluster: pass --kubeconfig or --context");
  const namespace = g.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
  return { client: new KubeClient(kc), namespace };
}

/** Runs one command line; resolves with the exit code (0 ok, 1 failed, 2 usage). */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  const now = io.now ?? (() => new Date());
  let client: KubeClient | undefined;
  const program = new Command("kubectl-dp")
    .description("Back up and restore with the dataprotection operator (Backups, RestoreJobs, BackupPolicies)")
    .option("--kubeconfig <file>", "kubeconfig file (default: $KUBECONFIG or ~/.kube/config)")
    .option("--context <name>", "kubeconfig context to use")
    .option("-n, --namespace <ns>", "namespace (default: the context's, else default)")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.trimEnd()), writeErr: (s) => io.err(s.trimEnd()) });
  const ctx = (): { client: KubeClient; namespace: string } => {
    const c = connect(program.opts<Globals>());
    client = c.client;
    return c;
  };
  let code = 0;
  const follow = async <T extends Phased>(kind: typeof Kinds.Backup, name: string, namespace: string, done: string[], timeout: string, describe: (o: T) => string): Promise<void> => {
    const obj = await waitForEnd<T>(client!, kind, name, namespace, done, {
      timeoutMs: parseDuration(timeout),
      pollMs: io.pollMs,
      onPhase: (phase) => io.out(`${kind.kind.toLowerCase()}/${name} ${phase}`),
    });
    if (obj.status?.phase === "Failed") {
      io.err(`${kind.kind.toLowerCase()}/${name} failed: ${obj.status.failureReason ?? "no reason given"}`);
      code = 1;
    } else io.out(describe(obj));
  };

  program
    .command("backup")
    .description("create a Backup from a BackupPolicy")
    .argument("<policy>", "the BackupPolicy")
    .option("--name <name>", "the Backup's name (default: <policy>-<yyyymmddhhmmss>)")
    .addOption(new Option("--type <type>", "backup type").choices([...BACKUP_TYPES]).default("datafile"))
    .option("--parent <backup>", "take an incremental backup on top of this one (datafile)")
    .option("--to-pvc", "write to the policy's persistentVolumeClaim even when a default BackupRepo exists")
    .option("--wait", "follow the Backup until it is Completed or Failed (exit 1 when Failed)")
    .option("--timeout <duration>", "how long --wait waits", "1h")
    .action(async (policy: string, f: { name?: string; type: BackupType; parent?: string; toPvc?: boolean; wait?: boolean; timeout: string }) => {
      const { client: c, namespace } = ctx();
      const body = backupObject({ policy, name: f.name, type: f.type, parent: f.parent, toPvc: f.toPvc }, namespace, now());
      // A typo in the policy name would otherwise leave a Backup that fails later.
      await c.get(Kinds.BackupPolicy, policy, namespace).catch((err: unknown) => {
        throw isNotFound(err) ? new UsageError(`backuppolicy ${namespace}/${policy} not found`) : err;
      });
      const created = await c.create<Backup & { metadata: { name: string } }>(Kinds.Backup, body as Backup & { metadata: { name: string } });
      io.out(`backup.dataprotection.kubeblocks.io/${created.metadata.name} created`);
      if (f.wait) {
        await follow<Backup>(Kinds.Backup, created.metadata.name, namespace, BACKUP_DONE, f.timeout, (b) =>
          `backup/${created.metadata.name}: ${b.status?.totalSize ?? "?"} in ${b.status?.duration ?? "?"}${b.status?.backupRepoName ? ` to repo ${b.status.backupRepoName}` : ""}`);
      }
    });

  program
    .command("restore")
    .description("create a RestoreJob for a Backup (by default to its policy's target pods)")
    .argument("<backup>", "the Backup to restore")
    .option("--name <name>", "the RestoreJob's name (default: <backup>-restore-<yyyymmddhhmmss>)")
    .option("--selector <k=v,...>", "restore to the pods with these labels instead of the policy's target")
    .option("--secret <name[:userKey:passwordKey]>", "credentials for the restore (default: the policy target's)")
    .option("--volume <name:claim:/mount/path>", "a volume the restore mounts (physical restores); repeatable", (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option("--restore-time <rfc3339>", "point-in-time restore to this time (needs logfile backups)")
    .option("--on-fail-attempted <n>", "retries before the RestoreJob fails", (v) => {
      if (!/^\d+$/.test(v)) throw new UsageError(`--on-fail-attempted ${v} is not a non-negative integer`);
      return Number(v);
    })
    .option("--wait", "follow the RestoreJob until it is Completed or Failed (exit 1 when Failed)")
    .option("--timeout <duration>", "how long --wait waits", "1h")
    .action(async (backupName: string, f: { name?: string; selector?: string; secret?: string; volume: string[]; restoreTime?: string; onFailAttempted?: number; wait?: boolean; timeout: string }) => {
      const { client: c, namespace } = ctx();
      const backup = await c.get<Backup & { metadata: { name: string } }>(Kinds.Backup, backupName, namespace).catch((err: unknown) => {
        throw isNotFound(err) ? new UsageError(`backup ${namespace}/${backupName} not found`) : err;
      });
      if (backup.status?.phase !== "Completed") throw new UsageError(`backup ${namespace}/${backupName} is ${backup.status?.phase ?? "not started"}: only a Completed backup can be restored`);
      const policy = await c.get<BackupPolicy & { metadata: { name: string } }>(Kinds.BackupPolicy, backup.spec.backupPolicyName, namespace).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      const body = restoreJobObject({ backup: backupName, name: f.name, selector: f.selector, secret: f.secret, volumes: f.volume, restoreTime: f.restoreTime, onFailAttempted: f.onFailAttempted }, backup, policy, namespace, now());
      const created = await c.create<RestoreJob & { metadata: { name: string } }>(Kinds.RestoreJob, body as RestoreJob & { metadata: { name: string } });
      io.out(`restorejob.dataprotection.kubeblocks.io/${created.metadata.name} created`);
      if (f.wait) {
        await follow<RestoreJob>(Kinds.RestoreJob, created.metadata.name, namespace, RESTORE_DONE, f.timeout, (r) =>
          `restorejob/${created.metadata.name}: restored backup ${backupName}${r.status?.completionTimestamp ? ` at ${String(r.status.completionTimestamp)}` : ""}`);
      }
    });

  program
    .command("list")
    .description("list backups, restores or policies")
    .addArgument(new Command().createArgument("[what]", "backups, restores or policies").choices(["backups", "restores", "policies"]).default("backups"))
    .option("-A, --all-namespaces", "every namespace")
    .action(async (what: "backups" | "restores" | "policies", f: { allNamespaces?: boolean }) => {
      const { client: c, namespace } = ctx();
      const ns = f.allNamespaces ? undefined : namespace;
      const kind = what === "backups" ? Kinds.Backup : what === "restores" ? Kinds.RestoreJob : Kinds.BackupPolicy;
      const items = (await c.listAll(kind, { namespace: ns })).items;
      if (items.length === 0) {
        io.err(f.allNamespaces ? `No ${what} found.` : `No ${what} found in ${namespace} namespace.`);
        return;
      }
      const all = !!f.allNamespaces;
      const t = what === "backups" ? backupTable(items as unknown as Backup[], all, now()) : what === "restores" ? restoreTable(items as unknown as RestoreJob[], all, now()) : policyTable(items as unknown as BackupPolicy[], all, now());
      for (const line of formatTable(t.header, t.rows).split("\n")) io.out(line);
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    if (err instanceof UsageError) {
      io.err(`error: ${err.message}`);
      return 2;
    }
    if (isAlreadyExists(err)) {
      io.err(`error: ${err instanceof Error ? err.message : String(err)} (choose another --name)`);
      return 1;
    }
    io.err(`error: ${err instanceof ApiError || err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    client?.close();
  }
  return code;
}
