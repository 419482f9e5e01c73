// kubectl-dp: create Backups and RestoreJobs from the command line, follow them, list and
// describe what a namespace holds, and how its policies are doing. A kubectl plugin:
// `kubectl dp ...` runs it when it is on PATH. The I/O shell: every format is a pure function.
import { Argument, Command, CommanderError, Option } from "commander";
import { KubeConfig } from "@kubernetes/client-node";
import { DataProtectionAPIVersion, DataProtectionGroup, Kinds, type Backup, type BackupPolicy, type RestoreJob } from "@dataprotection/api";
import { KubeClient, isNotFound, type Kind } from "@dataprotection/runtime";
import { bashCompletion, completionSpec, zshCompletion } from "./completion.ts";
import { type DescribeKind, type EventLike, describeBackup, describeDocument, describePolicy, describeRestore, eventsOf, parseDescribeKind } from "./describe.ts";
import { ExitCode, NotFoundError, UsageError, exitFor } from "./exit.ts";
import { BACKUP_TYPES, type BackupType, backupObject, importObject, restoreJobObject } from "./objects.ts";
import { OUTPUT_FORMATS, type OutputFormat, listDocument, renderDocument } from "./output.ts";
import { Progress, type Progressing } from "./progress.ts";
import { statusRows, statusTable } from "./status.ts";
import { backupTable, byCreation, formatTable, isoTime, policyTable, restoreTable } from "./table.ts";
import { type Phased, parseDuration, waitForEnd } from "./wait.ts";

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
  now?: () => Date;
  /** Poll interval while waiting (tests make it short). */
  pollMs?: number;
  /** stdout is a terminal: --wait rewrites one progress line in place through write(). */
  tty?: boolean;
  /** Raw text to stdout, no newline added. */
  write?: (text: string) => void;
  /** The terminal's width (progress lines are cut to it). */
  columns?: number;
}

interface Globals {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

const BACKUP_DONE = ["Completed", "Failed"];
const RESTORE_DONE = ["Completed", "Failed"];

/** The name an object kind goes by in messages ("backuppolicy ns/x not found"). */
const KIND_WORD: Record<DescribeKind, { kind: Kind; word: string }> = {
  backup: { kind: Kinds.Backup, word: "backup" },
  policy: { kind: Kinds.BackupPolicy, word: "backuppolicy" },
  restore: { kind: Kinds.RestoreJob, word: "restorejob" },
};

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

const outputOption = (): Option => new Option("-o, --output <format>", "output format").choices(OUTPUT_FORMATS).default("table");

/** A read that names its object: 404 becomes "<word> ns/name not found" (exit code 3). */
async function getNamed<T>(client: KubeClient, kind: Kind, word: string, name: string, namespace: string | undefined): Promise<T & { metadata: { name: string; uid?: string } }> {
  try {
    return await client.get<T & { metadata: { name: string; uid?: string } }>(kind, name, namespace);
  } catch (err) {
    throw isNotFound(err) ? new NotFoundError(`${word} ${namespace ? `${namespace}/` : ""}${name} not found`) : err;
  }
}

/** Runs one command line; resolves with the exit code (README: 0 ok, 1 failed, 2 usage, 3 not found, 4 timed out). */
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
  const print = (lines: string[] | string): void => {
    for (const line of typeof lines === "string" ? lines.split("\n") : lines) io.out(line);
  };
  let code: number = ExitCode.Ok;

  /** Follows the object to its end with a progress line; a Failed end is exit code 1. */
  const follow = async <T extends Phased & Progressing>(kind: Kind, name: string, namespace: string, done: string[], timeoutMs: number, summary: (o: T) => string): Promise<void> => {
    const progress = new Progress({ out: io.out, write: io.write, tty: io.tty, columns: io.columns }, `${kind.kind.toLowerCase()}/${name}`, now().getTime());
    let obj: T;
    try {
      obj = await waitForEnd<T>(client!, kind, name, namespace, done, { timeoutMs, pollMs: io.pollMs, onPoll: (o) => progress.update(o as T, now().getTime()) });
    } finally {
      progress.end();
    }
    if (obj.status?.phase === "Failed") {
      io.err(`${kind.kind.toLowerCase()}/${name} failed: ${obj.status.failureReason ?? "no reason given"}`);
      code = ExitCode.Failed;
    } else io.out(summary(obj));
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
    .option("--timeout <duration>", "how long --wait waits (exit 4 when it runs out)", "1h")
    .action(async (policy: string, f: { name?: string; type: BackupType; parent?: string; toPvc?: boolean; wait?: boolean; timeout: string }) => {
      const timeoutMs = parseDuration(f.timeout);
      const { client: c, namespace } = ctx();
      const body = backupObject({ policy, name: f.name, type: f.type, parent: f.parent, toPvc: f.toPvc }, namespace, now());
      // A typo in the policy name would otherwise leave a Backup that fails later.
      await getNamed(c, Kinds.BackupPolicy, "backuppolicy", policy, namespace);
      const created = await c.create<Backup & { metadata: { name: string } }>(Kinds.Backup, body as Backup & { metadata: { name: string } });
      io.out(`backup.dataprotection.kubeblocks.io/${created.metadata.name} created`);
      if (f.wait) {
        await follow<Backup>(Kinds.Backup, created.metadata.name, namespace, BACKUP_DONE, timeoutMs, (b) =>
          `backup/${created.metadata.name}: ${b.status?.totalSize ?? "?"} in ${b.status?.duration ?? "?"}${b.status?.backupRepoName ? ` to repo ${b.status.backupRepoName}` : ""}`);
      }
    });

  program
    .command("import")
    .description("create a Backup that imports a backup another namespace or cluster wrote into a BackupRepo (verified, then restorable here)")
    .argument("<repo>", "the BackupRepo holding it")
    .argument("<path>", "its path in the repo: the original Backup's status.manifests.backupTool.filePath")
    .option("--name <name>", "the Backup's name (default: <last name of the path>-<yyyymmddhhmmss>)")
    .option("--policy <name>", "the BackupPolicy it is filed under (need not exist)", "imported")
    .option("--wait", "follow the Backup until it is Completed or Failed (exit 1 when Failed)")
    .option("--timeout <duration>", "how long --wait waits (exit 4 when it runs out)", "1h")
    .action(async (repo: string, path: string, f: { name?: string; policy: string; wait?: boolean; timeout: string }) => {
      const timeoutMs = parseDuration(f.timeout);
      const { client: c, namespace } = ctx();
      const body = importObject({ repo, path, name: f.name, policy: f.policy }, namespace, now());
      // A typo in the repo name would otherwise leave a Backup that fails later.
      await getNamed(c, Kinds.BackupRepo, "backuprepo", repo, undefined);
      const created = await c.create<Backup & { metadata: { name: string } }>(Kinds.Backup, body as Backup & { metadata: { name: string } });
      io.out(`backup.dataprotection.kubeblocks.io/${created.metadata.name} created`);
      if (f.wait) {
        await follow<Backup>(Kinds.Backup, created.metadata.name, namespace, BACKUP_DONE, timeoutMs, (b) =>
          `backup/${created.metadata.name}: imported ${b.status?.totalSize ?? "?"} of backup ${b.status?.manifests?.backupTool?.backupId ?? "?"} (tool ${b.status?.backupToolName ?? "?"}) from repo ${repo}`);
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
    .option("--timeout <duration>", "how long --wait waits (exit 4 when it runs out)", "1h")
    .action(async (backupName: string, f: { name?: string; selector?: string; secret?: string; volume: string[]; restoreTime?: string; onFailAttempted?: number; wait?: boolean; timeout: string }) => {
      const timeoutMs = parseDuration(f.timeout);
      const { client: c, namespace } = ctx();
      const backup = await getNamed<Backup>(c, Kinds.Backup, "backup", backupName, namespace);
      if (backup.status?.phase !== "Completed") throw new UsageError(`backup ${namespace}/${backupName} is ${backup.status?.phase ?? "not started"}: only a Completed backup can be restored`);
      const policy = await c.get<BackupPolicy & { metadata: { name: string } }>(Kinds.BackupPolicy, backup.spec.backupPolicyName, namespace).catch((err: unknown) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      const body = restoreJobObject({ backup: backupName, name: f.name, selector: f.selector, secret: f.secret, volumes: f.volume, restoreTime: f.restoreTime, onFailAttempted: f.onFailAttempted }, backup, policy, namespace, now());
      const created = await c.create<RestoreJob & { metadata: { name: string } }>(Kinds.RestoreJob, body as RestoreJob & { metadata: { name: string } });
      io.out(`restorejob.dataprotection.kubeblocks.io/${created.metadata.name} created`);
      if (f.wait) {
        await follow<RestoreJob>(Kinds.RestoreJob, created.metadata.name, namespace, RESTORE_DONE, timeoutMs, (r) =>
          `restorejob/${created.metadata.name}: restored backup ${backupName}${r.status?.completionTimestamp ? ` at ${String(r.status.completionTimestamp)}` : ""}`);
      }
    });

  program
    .command("list")
    .description("list backups, restores or policies")
    .addArgument(new Argument("[what]", "backups, restores or policies").choices(["backups", "restores", "policies"]).default("backups"))
    .option("-A, --all-namespaces", "every namespace")
    .addOption(outputOption())
    .action(async (what: "backups" | "restores" | "policies", f: { allNamespaces?: boolean; output: OutputFormat }) => {
      const { client: c, namespace } = ctx();
      const ns = f.allNamespaces ? undefined : namespace;
      const kind = what === "backups" ? Kinds.Backup : what === "restores" ? Kinds.RestoreJob : Kinds.BackupPolicy;
      const items = (await c.listAll(kind, { namespace: ns })).items;
      if (f.output !== "table") {
        print(renderDocument(f.output, listDocument(DataProtectionAPIVersion, kind.kind, [...items].sort(byCreation))));
        return;
      }
      if (items.length === 0) {
        io.err(f.allNamespaces ? `No ${what} found.` : `No ${what} found in ${namespace} namespace.`);
        return;
      }
      const all = !!f.allNamespaces;
      const t = what === "backups" ? backupTable(items as unknown as Backup[], all, now()) : what === "restores" ? restoreTable(items as unknown as RestoreJob[], all, now()) : policyTable(items as unknown as BackupPolicy[], all, now());
      print(formatTable(t.header, t.rows));
    });

  program
    .command("status")
    .description("one line per BackupPolicy: last success, age of the newest recovery point against the schedule's period, next tick, PITR window")
    .argument("[policy]", "only this BackupPolicy")
    .option("-A, --all-namespaces", "every namespace")
    .addOption(outputOption())
    .action(async (policyName: string | undefined, f: { allNamespaces?: boolean; output: OutputFormat }) => {
      if (policyName && f.allNamespaces) throw new UsageError("a policy cannot be named across all namespaces: drop -A or the name");
      const { client: c, namespace } = ctx();
      const ns = f.allNamespaces ? undefined : namespace;
      const policies = policyName
        ? [await getNamed<BackupPolicy>(c, Kinds.BackupPolicy, "backuppolicy", policyName, namespace)]
        : (await c.listAll<BackupPolicy & { metadata: { name: string } }>(Kinds.BackupPolicy, { namespace: ns })).items;
      const backups = policies.length ? (await c.listAll<Backup & { metadata: { name: string } }>(Kinds.Backup, { namespace: ns })).items : [];
      const at = now();
      const rows = statusRows(policies, backups, at);
      if (f.output !== "table") {
        print(renderDocument(f.output, { time: isoTime(at), items: rows }));
        return;
      }
      if (rows.length === 0) {
        io.err(f.allNamespaces ? "No policies found." : `No policies found in ${namespace} namespace.`);
        return;
      }
      const t = statusTable(rows, !!f.allNamespaces, at);
      print(formatTable(t.header, t.rows));
    });

  program
    .command("describe")
    .description("show a Backup, BackupPolicy or RestoreJob in detail: status, conditions, stored objects, recent Events")
    .argument("<kind>", "backup, policy or restore")
    .argument("<name>", "the object's name")
    .addOption(outputOption())
    .action(async (kindWord: string, name: string, f: { output: OutputFormat }) => {
      const which = parseDescribeKind(kindWord);
      const { client: c, namespace } = ctx();
      const { kind, word } = KIND_WORD[which];
      const obj = await getNamed<Backup | BackupPolicy | RestoreJob>(c, kind, word, name, namespace);
      let events: EventLike[] = [];
      try {
        const list = await c.listAll<EventLike & { metadata: { name: string } }>(Kinds.Event, { namespace, fieldSelector: `involvedObject.name=${name}` });
        events = eventsOf(list.items, kind.kind, name, obj.metadata.uid);
      } catch (err) {
        // kubectl describe shows the object even when its Events cannot be read.
        io.err(`warning: cannot list the Events of ${word} ${namespace}/${name}: ${err instanceof Error ? err.message : String(err)}`);
      }
      if (f.output !== "table") {
        print(renderDocument(f.output, describeDocument(obj, events)));
        return;
      }
      const at = now();
      if (which === "backup") print(describeBackup(obj as Backup, events, at));
      else if (which === "restore") print(describeRestore(obj as RestoreJob, events, at));
      else {
        const backups = (await c.listAll<Backup & { metadata: { name: string } }>(Kinds.Backup, { namespace })).items;
        print(describePolicy(obj as BackupPolicy, backups, events, at));
      }
    });

  program
    .command("completion")
    .description("print a shell completion script: source <(kubectl-dp completion bash)")
    .addArgument(new Argument("<shell>", "bash or zsh").choices(["bash", "zsh"]))
    .action((shell: "bash" | "zsh") => {
      const spec = completionSpec(program, {
        options: {
          "--kubeconfig": "files",
          "--context": "contexts",
          "--namespace": "namespaces",
          "--parent": { resource: `${Kinds.Backup.plural}.${DataProtectionGroup}` },
        },
        forKubectl: ["--kubeconfig", "--context", "--namespace"],
        args: {
          backup: [{ values: { resource: `${Kinds.BackupPolicy.plural}.${DataProtectionGroup}` } }],
          import: [{ values: { resource: `${Kinds.BackupRepo.plural}.${DataProtectionGroup}` } }],
          restore: [{ values: { resource: `${Kinds.Backup.plural}.${DataProtectionGroup}` } }],
          status: [{ values: { resource: `${Kinds.BackupPolicy.plural}.${DataProtectionGroup}` } }],
          describe: [
            { values: { choices: ["backup", "policy", "restore"] } },
            {
              byFirstArg: (["backup", "policy", "restore"] as const).map((k) => ({
                words: describeWords(k),
                values: { resource: `${KIND_WORD[k].kind.plural}.${DataProtectionGroup}` },
              })),
            },
          ],
        },
      });
      print((shell === "bash" ? bashCompletion(spec) : zshCompletion(spec)).replace(/\n$/, ""));
    });

  try {
    await program.parseAsync(argv, { from: "user" });
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? ExitCode.Ok : ExitCode.Usage;
    const e = exitFor(err);
    io.err(e.line);
    return e.code;
  } finally {
    client?.close();
  }
  return code;
}

/** Every word `describe` takes for this kind (for completion). */
function describeWords(k: DescribeKind): string[] {
  const words = ["backup", "backups", "policy", "policies", "backuppolicy", "backuppolicies", "restore", "restores", "restorejob", "restorejobs"];
  return words.filter((w) => parseDescribeKind(w) === k);
}
