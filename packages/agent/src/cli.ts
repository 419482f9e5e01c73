#!/usr/bin/env -S node --import tsx
// dp-agent: the data mover run inside tool pods. Configuration comes from env (README.md).
import { Command, CommanderError } from "commander";
import { EXIT_STORAGE_UNREACHABLE, isUnreachable } from "@dataprotection/storage";
import { Agent, type CommandResult, reportText } from "./commands.ts";
import { type DedupCommands, dedupEnv, dedupPrefix } from "./dedup/commands.ts";
import { configFromEnv } from "./env.ts";
import { AgentError } from "./errors.ts";
import { oneLine } from "./messages.ts";
import { verifyPlainFiles } from "./plain-files.ts";
import { writeTermination } from "./termination.ts";

// Keep stderr to our one line: the SDK's Node-version notice is not for tool pods' users.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

// A reader that goes away (`dp-agent ls | head`) ends us as SIGPIPE ends other tools: quietly,
// with status 141, not with a stack trace.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code !== "EPIPE") process.stderr.write(`dp-agent: cannot write to stdout: ${err.message}\n`);
  process.exit(err.code === "EPIPE" ? 141 : 1);
});

const DEFAULT_DIR_NAME = "dir.dpar";

async function main(argv: string[]): Promise<number> {
  let agent: Agent | undefined;
  let result: CommandResult = {};
  const run = (fn: (a: Agent) => Promise<CommandResult>) => async (): Promise<void> => {
    agent = new Agent(configFromEnv(process.env));
    result = await fn(agent);
  };
  const program = new Command("dp-agent")
    .description("stream backup data between a tool and a repo: compress, encrypt, checksum, manifest")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  program
    .command("push <name>")
    .description("store stdin as object <name>")
    .option("--stop-time <time>", "when the data ends (RFC 3339, or Unix seconds as `stat -c %Y` prints a finished log file's mtime); recorded as its stopTime instead of the push's end")
    .action((name: string, o: { stopTime?: string }) => run((a) => a.push(name, undefined, o.stopTime === undefined ? undefined : parseStopTime(o.stopTime)))());
  program
    .command("push-dir <dir>")
    .description("store a directory tree (modes, owners, mtimes, symlinks, sparse files)")
    .option("--name <name>", "object name", DEFAULT_DIR_NAME)
    .action((dir: string, o: { name: string }) => run((a) => a.pushDir(dir, o.name))());
  program.command("pull <name>").description("write object <name> to stdout, verifying every chunk first").action((name: string) => run((a) => a.pull(name))());
  program
    .command("pull-dir <dir>")
    .description("restore a directory stored with push-dir into <dir>")
    .option("--name <name>", "object name", DEFAULT_DIR_NAME)
    .action((dir: string, o: { name: string }) => run((a) => a.pullDir(dir, o.name))());
  program
    .command("pull-log <dir>")
    .description("write into <dir> the archived log files (WAL, binlogs) a recovery to --until needs, each verified")
    .requiredOption("--until <time>", "the recovery target (RFC 3339)")
    .option("--prefix <prefix>", "object name prefix of the log files", "wal/")
    .option("--from <file>", "the first log file the base backup needs")
    .option("--from-skip <n>", "characters of a file name --from does not compare (PostgreSQL: 8, the timeline)", "0")
    .option("--slack <seconds>", "the archive interval: how late a finished file may be pushed", "60")
    .action((dir: string, o: { until: string; prefix: string; from?: string; fromSkip: string; slack: string }) => run((a) => {
      const until = new Date(o.until);
      if (Number.isNaN(until.getTime())) throw new AgentError(`pull-log --until ${JSON.stringify(o.until)} is not an RFC 3339 time (e.g. 2026-05-01T12:00:00Z)`);
      const slack = Number(o.slack);
      if (!Number.isFinite(slack) || slack < 0) throw new AgentError(`pull-log --slack ${JSON.stringify(o.slack)} is not a number of seconds`);
      return a.pullLog(dir, { prefix: o.prefix, from: o.from, fromSkip: Number(o.fromSkip) || 0, until, slackMs: slack * 1000 });
    })());
  program
    .command("prune-log")
    .description("delete archived log files pushed before --before, or more than --older-than seconds ago (never the newest)")
    .option("--before <time>", "RFC 3339 time, e.g. the contents of $LOG_KEEP_FROM_FILE")
    .option("--older-than <seconds>", "age limit, e.g. $LOGFILE_TTL_SECOND")
    .option("--prefix <prefix>", "object name prefix of the log files", "wal/")
    .action((o: { before?: string; olderThan?: string; prefix: string }) => run((a) => {
      if ((o.before === undefined) === (o.olderThan === undefined)) throw new AgentError("prune-log needs exactly one of --before <time> and --older-than <seconds>");
      if (o.before !== undefined) {
        const before = new Date(o.before.trim());
        if (!/^\d{4}-\d\d-\d\dT/.test(o.before.trim()) || Number.isNaN(before.getTime())) throw new AgentError(`prune-log --before ${JSON.stringify(o.before)} is not an RFC 3339 time (e.g. 2026-05-01T12:00:00Z)`);
        return a.pruneLog(o.prefix, before);
      }
      const s = Number(o.olderThan);
      if (!Number.isFinite(s) || s <= 0) throw new AgentError(`prune-log --older-than ${JSON.stringify(o.olderThan)} is not a positive number of seconds`);
      return a.pruneLog(o.prefix, new Date(Date.now() - s * 1000));
    })());
  program
    .command("context")
    .description("the backup's user context: string entries recorded in its authenticated manifest.json and reported with it")
    .command("set <entries...>")
    .description("merge KEY=VALUE entries into the user context of the backup (after its objects were pushed)")
    .action((entries: string[]) => run((a) => a.setUserContext(parseEntries(entries)))());
  program.command("ls").description("list the backup's objects").option("--json", "print manifest.json and unlisted objects").action((o: { json?: boolean }) => run((a) => a.ls(!!o.json))());
  program
    .command("rm [names...]")
    .description("delete objects (or the whole backup with --all)")
    .option("--all", "delete every object of the backup")
    .action((names: string[], o: { all?: boolean }) => run((a) => a.rm(names, !!o.all))());
  program.command("verify [names...]").description("read and verify objects (default: all in manifest.json)").action((names: string[]) => run((a) => a.verify(names))());
  program
    .command("import")
    .description("verify a backup written elsewhere in this repo against its authenticated manifest and report it (for an imported Backup)")
    .action(() => run((a) => a.importBackup())());
  program
    .command("verify-files <dir>")
    .description("check plain files a tool wrote (KubeBlocks 0.6 style) against the checksum the Backup recorded; needs no repo")
    .requiredOption("--expect <checksum>", "sha256:<hex> from the Backup's status.manifests.backupTool.checksum")
    .action(async (dir: string, o: { expect: string }) => {
      const s = await verifyPlainFiles(dir, o.expect);
      process.stdout.write(`ok\t${s.files.length} files\t${s.totalSize} bytes\t${s.checksum}\n`);
    });
  program.command("probe").description("check the repo is reachable and writable").action(() => run(async (a) => (await a.backend.probe(), {}))());

  // The deduplicating repository (README.md, "Deduplicating repository"): under DP_DEDUP_PREFIX,
  // else <the backup path's parent>/.dedup, in the repo and with the key the other commands use.
  const runDedup = (fn: (d: DedupCommands) => Promise<unknown>) => async (): Promise<void> => {
    const env = dedupEnv(process.env);
    agent = new Agent(configFromEnv(env));
    await fn(agent.dedup(dedupPrefix(env, agent.config.backupPath)));
  };
  const dedup = program.command("dedup").description("a deduplicating repository: every backup a snapshot, every chunk stored once (under DP_DEDUP_PREFIX, else <backup path's parent>/.dedup)");
  dedup.command("init").description("create the repository (encrypted when a key is set)").action(() => runDedup((d) => d.init())());
  dedup
    .command("backup [dir]")
    .description("snapshot a directory tree, or stdin as one stream with --stdin --name N")
    .option("--stdin", "back up standard input")
    .option("--name <name>", "the stream's name (--stdin), or a label for the directory (default its absolute path)")
    .action((dir: string | undefined, o: { stdin?: boolean; name?: string }) => runDedup((d) => d.backup(dir, o))());
  dedup
    .command("restore <snapshot> [dir]")
    .description("restore a directory snapshot into <dir>, or a stream snapshot to stdout with --stdout (<snapshot>: an id, or latest)")
    .option("--stdout", "write the stream to standard output")
    .option("--name <name>", "with --stdout: the stream's name, when the snapshot has several")
    .action((snapshot: string, dir: string | undefined, o: { stdout?: boolean; name?: string }) => runDedup((d) => d.restore(snapshot, dir, o))());
  dedup.command("snapshots").description("list the snapshots (with DP_BACKUP_ID: that backup's)").option("--json", "print them as JSON").action((o: { json?: boolean }) => runDedup((d) => d.snapshots(!!o.json))());
  dedup.command("forget <snapshot>").description("delete a snapshot (its chunks go at the next prune)").action((snapshot: string) => runDedup((d) => d.forget(snapshot))());
  dedup
    .command("prune")
    .description("delete and repack what no snapshot needs (takes the repository to itself)")
    .option("--dry-run", "report what would be deleted and repacked, change nothing")
    .option("--repack-threshold <share>", "repack a pack when this share of it is unused", "0.2")
    .option("--skip-missing", "no repository there is nothing to prune, not an error (the operator's scheduled prune)")
    .action((o: { dryRun?: boolean; repackThreshold: string; skipMissing?: boolean }) => runDedup((d) => {
      const t = Number(o.repackThreshold);
      if (!Number.isFinite(t) || t < 0) throw new AgentError(`dedup prune --repack-threshold ${JSON.stringify(o.repackThreshold)} is not a share (0 to 1; above 1: never repack)`);
      return d.prune({ dryRun: !!o.dryRun, repackThreshold: t, skipMissing: !!o.skipMissing });
    })());
  dedup
    .command("check")
    .description("verify every snapshot's chunks are there and intact; leftovers (harmless, the next prune removes them) are listed apart")
    .option("--no-read-data", "do not read every chunk (structure and index only)")
    .action((o: { readData: boolean }) => runDedup((d) => d.check({ readData: o.readData }))());

  const path = process.env.DP_TERMINATION_MESSAGE_PATH || "/dev/termination-log";
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) return err.exitCode === 0 ? 0 : 2;
    const line = oneLine(err);
    process.stderr.write(`dp-agent: ${line}\n`);
    await writeTermination(path, `dp-agent: ${line}`);
    // The repo could not be reached: the data may be whole, so the caller may retry.
    return isUnreachable(err) ? EXIT_STORAGE_UNREACHABLE : 1;
  }
  const text = reportText(result);
  if (text && agent) await writeTermination(agent.config.terminationMessagePath, text);
  return 0;
}

process.exitCode = await main(process.argv);

/** `context set` arguments: KEY=VALUE each (the value may hold "="; a key given twice is an error). */
function parseEntries(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const arg of args) {
    const at = arg.indexOf("=");
    if (at <= 0) throw new AgentError(`context set: ${JSON.stringify(arg)} is not KEY=VALUE`);
    const k = arg.slice(0, at);
    if (Object.hasOwn(out, k)) throw new AgentError(`context set: key ${JSON.stringify(k)} is given twice`);
    Object.defineProperty(out, k, { value: arg.slice(at + 1), enumerable: true, writable: true, configurable: true });
  }
  return out;
}

/** A log file's end: RFC 3339 or Unix seconds, not in the future (a minute of clock skew allowed). */
function parseStopTime(v: string): Date {
  const t = v.trim();
  const d = /^\d{1,12}$/.test(t) ? new Date(Number(t) * 1000) : /^\d{4}-\d\d-\d\dT/.test(t) ? new Date(t) : new Date(NaN);
  if (Number.isNaN(d.getTime())) throw new AgentError(`push --stop-time ${JSON.stringify(v)} is neither an RFC 3339 time nor Unix seconds`);
  if (d.getTime() > Date.now() + 60_000) throw new AgentError(`push --stop-time ${t} is in the future: it says when the data ended`);
  return d;
}
