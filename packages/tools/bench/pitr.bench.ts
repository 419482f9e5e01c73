// npm run bench:pitr — point-in-time recovery with the tools against the same recovery done by
// hand, in one run, on real servers on loopback (Debian packages, each run as its own user).
//
// PostgreSQL 15 (postgres-pitr + postgres-basebackup):
//   source:  pgbench -i -s SCALE; the tool's archiver (POSTGRES_ARCHIVE_SCRIPT: pg_receivewal,
//            each segment pushed with dp-agent, the partial one re-pushed every ARCHIVE_INTERVAL)
//            and a plain `pg_receivewal -D DIR` with its own slot; the tool's base backup
//            (postgres-basebackup: pg_basebackup -Ft -X fetch | dp-agent push) and a reference
//            `pg_basebackup -Ft -X fetch -D DIR`; then TRAFFIC seconds of `pgbench -n -c 2`.
//   restore: A (the tools, run as exported, with sh and the env the operator gives): the
//            basebackup restore command, POSTGRES_RECOVERY_SCRIPT with KB_RECOVERY_TIME, start
//            postgres, until `select pg_is_in_recovery()` is f.
//            B (by hand, as the postgres user): tar -x of the reference base, the needed segments
//            copied from the pg_receivewal directory (the .partial one renamed), recovery.signal,
//            restore_command, recovery_target_time and promote; start, until read-write.
//            Both must return the pgbench_history row count the source's commit timestamps give
//            for the point (> 0), or the bench fails.
// MariaDB 10.11 (mariadb-binlog-pitr + mariadb-backup), the same shape: SCALE * 100000 accounts,
//   pgbench-like transactions (update an account, insert a history row) from a stored procedure
//   in CLIENTS sessions; the tool's archiver (MARIADB_BINLOG_ARCHIVE_SCRIPT) and a plain
//   `mariadb-binlog --read-from-remote-server --raw --stop-never`; the tool's base
//   (MARIADB_BACKUP_SCRIPT) and a reference `mariadb-backup --backup --stream=xbstream > FILE`.
//   A: MARIADB_BACKUP_RESTORE_SCRIPT, MARIADB_BINLOG_RECOVERY_SCRIPT, start mariadbd, until it
//   answers @@read_only = 0. B: mbstream -x, mariadb-backup --prepare, the binlogs copied, start
//   mariadbd, `mariadb-binlog --start-position --stop-datetime=T+1s | mariadb`. A and B must
//   return the same history row count (> 0).
// Both: the point is 60% through the traffic (whole seconds, as a RestoreJob's restoreTime);
//   RPO = when the traffic ends, its end time minus the newest push (manifest stopTime) of the
//   archive, and the worst of one sample a second over the last minute of traffic.
//
// BENCH_PITR_SCALE (30), BENCH_PITR_TRAFFIC_SECONDS (300), BENCH_PITR_INTERVAL (10, seconds),
// BENCH_PITR_CLIENTS (2), BENCH_PITR_ENGINES (postgres,mariadb), BENCH_REPS (3, medians),
// BENCH_DIR (/tmp/dp-bench-pitr), BENCH_KEEP=1 keeps the work dir. dp-agent: by default
// packages/agent/bin/dp-agent after `scripts/build.mjs dp-agent` rebuilt its bundle (what the image
// runs; the launcher falls back to tsx, ~1 s a start, whenever an edit makes the bundle older
// than the sources); BENCH_PITR_AGENT=repo runs it as it is. Writes the "pitr" section of docs/benchmarks.md unless
// BENCH_WRITE_DOCS=0. Every process it starts runs in its own process group and is stopped on
// success, failure and SIGINT/SIGTERM.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes, randomUUID } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { POSTGRES_ARCHIVE_SCRIPT, POSTGRES_RECOVERY_SCRIPT } from "../src/postgres-pitr.ts";
import { postgresBasebackupTool } from "../src/postgres.ts";
import { MARIADB_BACKUP_RESTORE_SCRIPT, MARIADB_BACKUP_SCRIPT, MARIADB_BINLOG_ARCHIVE_SCRIPT, MARIADB_BINLOG_RECOVERY_SCRIPT } from "../src/mariadb-physical.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const repoAgentBin = join(repoRoot, "packages/agent/bin");
const PGBIN = "/usr/lib/postgresql/15/bin";
const envNum = (name: string, dflt: number): number => {
  const v = Number(process.env[name] ?? dflt);
  if (!Number.isFinite(v) || v <= 0) throw new Error(`${name}=${process.env[name]} is not a positive number`);
  return v;
};
const scale = envNum("BENCH_PITR_SCALE", 30);
const trafficSeconds = envNum("BENCH_PITR_TRAFFIC_SECONDS", 300);
const interval = envNum("BENCH_PITR_INTERVAL", 10);
const clients = envNum("BENCH_PITR_CLIENTS", 2);
const reps = envNum("BENCH_REPS", 3);
const engines = (process.env.BENCH_PITR_ENGINES ?? "postgres,mariadb").split(",").map((s) => s.trim()).filter(Boolean);
const work = resolve(process.env.BENCH_DIR ?? "/tmp/dp-bench-pitr");
const keep = process.env.BENCH_KEEP === "1";
const POINT_FRACTION = 0.6;
const RATIO_GOAL = 1.15;
const rpoGoal = interval + 5;
const password = randomBytes(12).toString("hex");
const MARIADB_BINLOG_SIZE = "16M";
const mariadbTps = envNum("BENCH_PITR_MARIADB_TPS", 500);

// ---------------------------------------------------------------------------------------------
// Processes: each in its own group, tracked until stopped.

interface Proc {
  name: string;
  child: ChildProcess;
  /** The signal that stops it cleanly, sent to the leader only (the archivers' traps, the servers' fast shutdown). */
  stopSignal: NodeJS.Signals;
  exited: Promise<void>;
  log?: string;
  /** Servers are stopped after everything else (the archivers drop their slots on them). */
  server?: boolean;
}
const procs = new Set<Proc>();

function launch(name: string, cmd: string, args: string[], o: { env?: NodeJS.ProcessEnv; log?: string; stopSignal?: NodeJS.Signals; stdout?: "pipe"; server?: boolean } = {}): Proc {
  const fd = o.log ? openSync(o.log, "a") : "ignore";
  const child = spawn(cmd, args, { env: o.env ?? process.env, detached: true, stdio: ["ignore", o.stdout ?? fd, fd] });
  if (typeof fd === "number") closeSync(fd);
  const exited = new Promise<void>((r) => child.once("exit", () => r()));
  const p: Proc = { name, child, stopSignal: o.stopSignal ?? "SIGTERM", exited, log: o.log, server: o.server };
  procs.add(p);
  return p;
}

const alive = (p: Proc): boolean => p.child.exitCode === null && p.child.signalCode === null;

function killGroup(p: Proc, sig: NodeJS.Signals): void {
  try {
    if (p.child.pid) process.kill(-p.child.pid, sig);
  } catch {
    // the group is gone
  }
}

async function waitExit(p: Proc, ms: number): Promise<boolean> {
  if (!alive(p)) return true;
  let timer: NodeJS.Timeout | undefined;
  const done = await Promise.race([p.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), ms)))]);
  clearTimeout(timer);
  return done;
}

async function stop(p: Proc, ms = 60_000): Promise<void> {
  if (alive(p)) {
    p.child.kill(p.stopSignal);
    if (!(await waitExit(p, ms))) {
      console.error(`${p.name} did not stop on ${p.stopSignal} within ${ms / 1000} s: SIGQUIT, then SIGKILL`);
      killGroup(p, "SIGQUIT");
      if (!(await waitExit(p, 5000))) killGroup(p, "SIGKILL");
      await waitExit(p, 5000);
    }
  }
  killGroup(p, "SIGKILL"); // what is left in its group (the archivers' sleep)
  procs.delete(p);
}

async function stopAll(): Promise<void> {
  const order = [...procs].sort((a, b) => Number(!!a.server) - Number(!!b.server));
  for (const p of order) await stop(p, 30_000);
}

process.on("exit", () => {
  for (const p of procs) killGroup(p, "SIGKILL");
});
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.once(sig, () => {
    console.error(`${sig}: stopping everything the bench started`);
    void stopAll().finally(() => {
      if (!keep) rmSync(work, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Helpers (style of postgres.bench.ts).

const asUser = (user: string, args: string[]): string[] => ["setpriv", `--reuid=${user}`, `--regid=${user}`, "--init-groups", ...args];
const asPostgres = (args: string[]): string[] => asUser("postgres", args);
const asMysql = (args: string[]): string[] => asUser("mysql", args);
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const iso = (d: Date): string => d.toISOString().replace(/\.000Z$/, "Z");
const mib = (n: number): string => (n / 1048576).toFixed(0);
const sum = (xs: number[]): number => xs.reduce((s, x) => s + x, 0);

/** Runs a command to completion; throws with its stderr on failure. */
function run(what: string, cmd: string[], env: NodeJS.ProcessEnv = process.env, input?: string): { seconds: number; stdout: string } {
  const t = performance.now();
  const r = spawnSync(cmd[0]!, cmd.slice(1), { env, encoding: "utf8", maxBuffer: 1 << 26, input });
  const seconds = (performance.now() - t) / 1000;
  if (r.status !== 0) throw new Error(`bench step "${what}" failed (${r.status ?? r.signal}): ${cmd.join(" ").slice(0, 300)}\n${(r.stderr ?? "").slice(-4000)}${r.error ? String(r.error) : ""}`);
  return { seconds, stdout: r.stdout };
}

function settle(): void {
  spawnSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "1");
  } catch {
    // not root: the page cache stays
  }
}

/** A loopback port nothing listens on, from a random high base. */
async function freePort(avoid: number[]): Promise<number> {
  const base = 40000 + Math.floor(Math.random() * 20000);
  for (let port = base; port < base + 500; port++) {
    if (avoid.includes(port) || existsSync(`/tmp/.s.PGSQL.${port}`)) continue;
    const ok = await new Promise<boolean>((r) => {
      const s = createServer();
      s.once("error", () => r(false));
      s.listen(port, "127.0.0.1", () => s.close(() => r(true)));
    });
    if (ok) return port;
  }
  throw new Error("no free loopback port");
}

const tail = (file: string | undefined): string => (file && existsSync(file) ? readFileSync(file, "utf8").slice(-3000) : "");

/** Polls `check` every 0.1 s while `p` runs. */
async function waitFor(p: Proc, what: string, check: () => boolean, timeoutS: number): Promise<void> {
  const until = Date.now() + timeoutS * 1000;
  while (Date.now() < until) {
    if (!alive(p)) throw new Error(`${p.name} exited (${p.child.exitCode ?? p.child.signalCode}) before ${what}:\n${tail(p.log)}`);
    if (check()) return;
    await sleep(100);
  }
  throw new Error(`${p.name}: not ${what} within ${timeoutS} s:\n${tail(p.log)}`);
}

/** A BackupTool command list as the operator runs it (restorejob/job.ts shellCommand): a `sh -c` list as is, else lines for one `sh -c`. */
function shellArgv(commands: readonly string[]): string[] {
  if (commands.length >= 3 && /^(\/usr)?(\/bin\/)?(sh|bash|dash|ash)$/.test(commands[0]!) && commands[1] === "-c") return [...commands];
  return ["sh", "-c", commands.join("\n")];
}

interface ManifestFile {
  name: string;
  size: number;
  storedSize: number;
  startTime: string;
  stopTime: string;
}
interface Manifest {
  files: ManifestFile[];
}
interface Push {
  stop: number;
  start: number;
  name: string;
}

/** The newest push of a log object (the newest restorable point the archive claims). */
function newestPush(m: Manifest | undefined, prefix: string): Push | undefined {
  let best: Push | undefined;
  for (const f of m?.files ?? []) {
    if (!f.name.startsWith(prefix)) continue;
    const stop = Date.parse(f.stopTime);
    if (!best || stop > best.stop) best = { stop, start: Date.parse(f.startTime), name: f.name };
  }
  return best;
}

/** A backup's manifest.json as the filesystem repo holds it (the document `dp-agent ls --json` prints), read in-process. */
function readManifestFile(backupPath: string): Manifest | undefined {
  try {
    return JSON.parse(readFileSync(join(work, "repo", backupPath, "manifest.json"), "utf8")) as Manifest;
  } catch {
    return undefined;
  }
}

/** The archive as `dp-agent ls --json` shows it: finished log objects and partial ones, sizes. */
function archiveStats(agent: string, env: NodeJS.ProcessEnv, prefix: string): { files: number; bytes: number; stored: number; partials: number; partialBytes: number } {
  const ls = JSON.parse(run("dp-agent ls --json", [agent, "ls", "--json"], env).stdout) as { manifest: Manifest | null };
  const logs = (ls.manifest?.files ?? []).filter((f) => f.name.startsWith(prefix));
  const done = logs.filter((f) => !f.name.endsWith(".partial"));
  const partial = logs.filter((f) => f.name.endsWith(".partial"));
  return { files: done.length, bytes: sum(done.map((f) => f.size)), stored: sum(done.map((f) => f.storedSize)), partials: partial.length, partialBytes: sum(partial.map((f) => f.size)) };
}

/**
 * dp-agent for the run: packages/agent's bundle rebuilt by scripts/build.mjs from the current
 * sources (what the image runs), so packages/agent/bin/dp-agent runs it and not tsx. Returns the
 * directory to put first on PATH.
 */
function builtAgent(): string {
  const r = spawnSync(process.execPath, [join(repoRoot, "scripts/build.mjs"), "dp-agent"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building dp-agent failed: ${r.stderr}`);
  return repoAgentBin;
}

/** Which dp-agent packages/agent/bin/dp-agent runs: the bundle when it is current, else tsx. */
function repoAgentMode(): string {
  const script = `pkg=packages/agent; bundle="$pkg/dist/dp-agent.js"
if [ -f "$bundle" ] && { [ ! -f node_modules/tsx/dist/loader.mjs ] || [ -z "$(find "$pkg/src" packages/storage/src node_modules/.package-lock.json -newer "$bundle" ! -name '*.test.ts' -print -quit 2>/dev/null)" ]; }; then echo bundle; else echo tsx; fi`;
  return spawnSync("bash", ["-c", script], { cwd: repoRoot, encoding: "utf8" }).stdout.trim() === "bundle" ? "packages/agent/bin/dp-agent (its bundle)" : "packages/agent/bin/dp-agent (through tsx: its bundle is older than the sources)";
}

/** What every engine's tool containers get from the operator besides the database and backup (backuprepo/access.ts). */
interface Shared {
  agent: string;
  toolEnv: NodeJS.ProcessEnv;
}

// ---------------------------------------------------------------------------------------------
// Traffic, the point, and the RPO samples.

interface Traffic {
  start: number;
  end: number;
  point: Date;
  /** Ages (s) of the newest push, one a second over the last minute of traffic. */
  samples: number[];
  atEnd: Push;
  rpo: number;
  rpoByStart: number;
  rpoWorst: number;
  outputs: string[];
}

async function traffic(what: string, start: () => Proc[], logPath: string, prefix: string): Promise<Traffic> {
  const t0 = Date.now();
  const point = new Date(Math.round((t0 + POINT_FRACTION * trafficSeconds * 1000) / 1000) * 1000);
  const ps = start();
  const outputs = ps.map(() => "");
  ps.forEach((p, i) => p.child.stdout?.on("data", (d: Buffer) => (outputs[i] += d.toString())));
  const samples: number[] = [];
  const sampleFrom = t0 + Math.max(0, trafficSeconds - 60) * 1000;
  const sampler = setInterval(() => {
    const now = Date.now();
    if (now < sampleFrom) return;
    const n = newestPush(readManifestFile(logPath), prefix);
    if (n) samples.push((now - n.stop) / 1000);
  }, 1000);
  await Promise.all(ps.map((p) => p.exited));
  const end = Date.now();
  const atEnd = newestPush(readManifestFile(logPath), prefix);
  clearInterval(sampler);
  for (const p of ps) {
    procs.delete(p);
    if (p.child.exitCode !== 0) throw new Error(`${what} failed (${p.child.exitCode ?? p.child.signalCode}):\n${tail(p.log)}`);
  }
  if (!atEnd) throw new Error(`${what}: nothing was archived`);
  const rpo = (end - atEnd.stop) / 1000;
  return { start: t0, end, point, samples, atEnd, rpo, rpoByStart: (end - atEnd.start) / 1000, rpoWorst: Math.max(rpo, ...samples), outputs };
}

// ---------------------------------------------------------------------------------------------
// Restores, repeated, alternating which goes first; the report's common parts.

interface RestoreRun {
  total: number;
  base: number;
  log: number;
  replay: number;
  rows: number;
  logFiles: number;
}

async function restores(engine: string, a: () => Promise<RestoreRun>, b: () => Promise<RestoreRun>, expected?: number): Promise<{ A: RestoreRun[]; B: RestoreRun[] }> {
  const runs: { A: RestoreRun[]; B: RestoreRun[] } = { A: [], B: [] };
  for (let i = 0; i < reps; i++) {
    for (const k of i % 2 === 0 ? (["A", "B"] as const) : (["B", "A"] as const)) {
      const r = k === "A" ? await a() : await b();
      runs[k].push(r);
      console.log(`${engine} rep ${i + 1}/${reps} ${k === "A" ? "tool   " : "by hand"}: ${r.total.toFixed(2)} s (base ${r.base.toFixed(2)}, log ${r.log.toFixed(2)} [${r.logFiles} files], then ${r.replay.toFixed(2)}), ${r.rows} rows`);
      const other = k === "A" ? runs.B : runs.A;
      if (!(r.rows > 0) || (expected !== undefined && r.rows !== expected) || other.some((o) => o.rows !== r.rows)) {
        throw new Error(`${engine}: restore ${k} (rep ${i + 1}) returned ${r.rows} rows; ${expected !== undefined ? `the source committed ${expected} by the point; ` : ""}restore ${k === "A" ? "B" : "A"} returned ${other.map((o) => o.rows).join(", ") || "(not run yet)"}`);
      }
    }
  }
  return runs;
}

function restoreTable(runs: { A: RestoreRun[]; B: RestoreRun[] }, labels: { A: string; B: string }, phases: string): { lines: string[]; ratio: number } {
  const med = (k: "A" | "B", f: keyof RestoreRun): number => median(runs[k].map((r) => r[f]));
  const all = (k: "A" | "B"): string => runs[k].map((r) => r.total.toFixed(2)).join(", ");
  const row = (k: "A" | "B"): string => `| ${labels[k]} | ${med(k, "total").toFixed(2)} | ${all(k)} | ${med(k, "base").toFixed(2)} | ${med(k, "log").toFixed(2)}, ${med(k, "logFiles")} | ${med(k, "replay").toFixed(2)} |`;
  return {
    lines: [`| restore to the point, empty data dir to read-write | median s | all runs s | ${phases} |`, "|---|---:|---|---:|---:|---:|", row("A"), row("B")],
    ratio: med("A", "total") / med("B", "total"),
  };
}

const met = (ok: boolean): string => (ok ? "met" : "**not met**");

function rpoLine(t: Traffic): string {
  return `RPO (age of the newest restorable point, the newest push's manifest stopTime, when the traffic ended): ${t.rpo.toFixed(1)} s (${t.rpoByStart.toFixed(1)} s by that push's startTime); worst of ${t.samples.length} samples, one a second over the last ${Math.min(60, trafficSeconds)} s of traffic: ${t.rpoWorst.toFixed(1)} s. Goal <= interval + 5 s = ${rpoGoal} s: ${met(t.rpo <= rpoGoal)} at the end, ${met(t.rpoWorst <= rpoGoal)} at worst.`;
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL.

const PG_LOG_PATH = "bench/pg-log";
const PG_BASE_PATH = "bench/pg-base";
const pgEnv = (): NodeJS.ProcessEnv => ({ ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "5" });
const conn = (port: number): string[] => ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"];

function psql(port: number, sql: string): string {
  return run(`psql ${sql}`, [`${PGBIN}/psql`, ...conn(port), "-d", "postgres", "-XAtq", "-c", sql], pgEnv()).stdout.trim();
}

function pgStart(w: string, name: string, data: string, port: number): Proc {
  const [cmd, ...args] = asPostgres([
    `${PGBIN}/postgres`, "-D", data, "-p", String(port), "-k", join(w, "sock"),
    "-c", "listen_addresses=127.0.0.1",
    "-c", "wal_level=replica",
    "-c", "max_wal_senders=10",
    "-c", "max_replication_slots=10",
    "-c", "track_commit_timestamp=on",
  ]);
  return launch(`postgres ${name}`, cmd!, args, { log: join(w, "logs", `${name}.log`), stopSignal: "SIGINT", server: true });
}

const pgIsReady = (port: number) => (): boolean => spawnSync(`${PGBIN}/pg_isready`, ["-q", "-h", "127.0.0.1", "-p", String(port)]).status === 0;
const pgReadWrite = (port: number) => (): boolean => {
  const r = spawnSync(`${PGBIN}/psql`, [...conn(port), "-d", "postgres", "-XAtq", "-c", "select pg_is_in_recovery()"], { env: pgEnv(), encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() === "f";
};

function startSegment(data: string): string {
  const m = /^START WAL LOCATION: .* \(file ([0-9A-F]{24})\)$/m.exec(readFileSync(join(data, "backup_label"), "utf8"));
  if (!m) throw new Error(`${data}/backup_label names no start WAL file`);
  return m[1]!;
}

/**
 * By hand: the segments from the base's start segment up to the first one last written more than
 * a second after the target (`ls -l` in the pg_receivewal directory), or else all of them and the
 * .partial one under its plain name.
 */
function handWal(dir: string, start: string, target: Date): Array<{ from: string; to: string }> {
  const names = readdirSync(dir);
  const finished = names.filter((n) => /^[0-9A-F]{24}$/.test(n) && n.slice(8) >= start.slice(8)).sort();
  const out: Array<{ from: string; to: string }> = [];
  for (const n of finished) {
    out.push({ from: n, to: n });
    if (statSync(join(dir, n)).mtimeMs > target.getTime() + 1000) return out;
  }
  const partial = names.filter((n) => /^[0-9A-F]{24}\.partial$/.test(n)).sort().pop();
  if (partial) out.push({ from: partial, to: partial.slice(0, 24) });
  return out;
}

async function benchPostgres(shared: Shared): Promise<string> {
  const w = join(work, "pg");
  for (const d of ["sock", "logs", "src", "ref-base", "ref-wal", "rA", "rB"]) mkdirSync(join(w, d), { recursive: true });
  writeFileSync(join(w, "pwfile"), `${password}\n`);
  spawnSync("chown", ["-R", "postgres:postgres", w]);
  const src = join(w, "src", "pgdata");
  run("initdb", asPostgres([`${PGBIN}/initdb`, "-D", src, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", `--pwfile=${join(w, "pwfile")}`]));
  writeFileSync(join(src, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\nhost replication all 127.0.0.1/32 scram-sha-256\n");
  const srcPort = await freePort([]);
  const rPort = await freePort([srcPort]);
  const version = run("postgres --version", [`${PGBIN}/postgres`, "--version"]).stdout.trim();

  // The env the operator gives the tool containers (backup/env.ts, restorejob/job.ts).
  const db = { DB_HOST: "127.0.0.1", DB_PORT: String(srcPort), DB_USER: "postgres", DB_PASSWORD: password, DATA_DIR: "/data/pgdata" };
  const logEnv = { ...shared.toolEnv, ...db, BACKUP_NAME: "pg-log", BACKUP_DIR: join(work, "repo", PG_LOG_PATH), DP_BACKUP_PATH: PG_LOG_PATH, DP_BACKUP_ID: randomUUID(), DP_TOOL: "postgres-pitr", ARCHIVE_INTERVAL: `${interval}s` };
  const baseEnv = { ...shared.toolEnv, ...db, BACKUP_NAME: "pg-base", BACKUP_DIR: join(work, "repo", PG_BASE_PATH), DP_BACKUP_PATH: PG_BASE_PATH, DP_BACKUP_ID: randomUUID(), DP_TOOL: "postgres-basebackup" };

  const source = pgStart(w, "source", src, srcPort);
  await waitFor(source, "accepting connections", pgIsReady(srcPort), 120);
  console.log(`postgres: source on 127.0.0.1:${srcPort}; pgbench -i -s ${scale} ...`);
  const init = run("pgbench -i", [`${PGBIN}/pgbench`, ...conn(srcPort), "-i", "-q", "-s", String(scale), "postgres"], pgEnv());
  const dbBytes = Number(psql(srcPort, "select sum(pg_database_size(datname)) from pg_database"));

  // Archivers: the tool's and the reference pg_receivewal, each with its own slot.
  const archiver = launch("postgres-pitr archiver", "sh", ["-c", POSTGRES_ARCHIVE_SCRIPT], { env: logEnv, log: join(w, "logs", "archiver.log"), stopSignal: "SIGTERM" });
  const refSlot = "bench_ref";
  run("pg_receivewal --create-slot", asPostgres([`${PGBIN}/pg_receivewal`, ...conn(srcPort), "--create-slot", "-S", refSlot]), pgEnv());
  const [rcmd, ...rargs] = asPostgres([`${PGBIN}/pg_receivewal`, ...conn(srcPort), "-D", join(w, "ref-wal"), "-S", refSlot, "-n"]);
  const refRecv = launch("reference pg_receivewal", rcmd!, rargs, { env: pgEnv(), log: join(w, "logs", "ref-receivewal.log"), stopSignal: "SIGINT" });
  await waitFor(source, "streaming to both receivers", () => {
    if (!alive(archiver)) throw new Error(`the archiver exited:\n${tail(archiver.log)}`);
    if (!alive(refRecv)) throw new Error(`pg_receivewal exited:\n${tail(refRecv.log)}`);
    return psql(srcPort, "select count(*) from pg_replication_slots where active") === "2";
  }, 60);

  // Base backups, one after the other: the tool's, then the reference.
  const baseBackup = run("postgres-basebackup backup", shellArgv(postgresBasebackupTool.spec.backupCommands ?? []), baseEnv);
  const refBackup = run("pg_basebackup -D", asPostgres([`${PGBIN}/pg_basebackup`, ...conn(srcPort), "-Ft", "-X", "fetch", "-c", "fast", "-D", join(w, "ref-base")]), pgEnv());
  const baseTarBytes = statSync(join(w, "ref-base", "base.tar")).size;
  console.log(`postgres: base backups: tool ${baseBackup.seconds.toFixed(1)} s, reference ${refBackup.seconds.toFixed(1)} s`);

  const lsnBefore = psql(srcPort, "select pg_current_wal_lsn()");
  console.log(`postgres: pgbench -c ${clients} for ${trafficSeconds} s (archive interval ${interval} s) ...`);
  const t = await traffic("pgbench traffic", () => [
    launch("pgbench traffic", `${PGBIN}/pgbench`, [...conn(srcPort), "-n", "-c", String(clients), "-j", String(clients), "-T", String(trafficSeconds), "postgres"], { env: pgEnv(), log: join(w, "logs", "pgbench.log"), stdout: "pipe" }),
  ], PG_LOG_PATH, "wal/");
  const tps = Number(/tps = ([\d.]+)/.exec(t.outputs[0]!)?.[1] ?? NaN).toFixed(0);
  const txns = /number of transactions actually processed: (\d+)/.exec(t.outputs[0]!)?.[1] ?? "?";
  console.log(`postgres: traffic done: ${txns} transactions, ${tps} tps; newest push ${t.atEnd.name} ended ${t.rpo.toFixed(1)} s before the end (worst in the last minute ${t.rpoWorst.toFixed(1)} s)`);

  const walBytes = Number(psql(srcPort, `select pg_wal_lsn_diff(pg_current_wal_lsn(), '${lsnBefore}')`));
  const expected = Number(psql(srcPort, `select count(*) from pgbench_history where pg_xact_commit_timestamp(xmin) <= '${iso(t.point)}'`));
  const totalRows = Number(psql(srcPort, "select count(*) from pgbench_history"));
  if (!(expected > 0 && expected < totalRows)) throw new Error(`postgres: the point ${iso(t.point)} is not inside the traffic: ${expected} of ${totalRows} rows committed by then`);

  // Stop the archivers (the tool's drops its slot on SIGTERM), then the source.
  await stop(archiver);
  await stop(refRecv);
  run("pg_receivewal --drop-slot", asPostgres([`${PGBIN}/pg_receivewal`, ...conn(srcPort), "--drop-slot", "-S", refSlot]), pgEnv());
  const slotsLeft = psql(srcPort, "select count(*) from pg_replication_slots");
  await stop(source);
  const arch = archiveStats(shared.agent, logEnv, "wal/");
  const refWalFiles = readdirSync(join(w, "ref-wal")).filter((n) => /^[0-9A-F]{24}(\.partial)?$/.test(n)).length;

  const dA = join(w, "rA", "pgdata");
  const dB = join(w, "rB", "pgdata");
  // A restore step's env: no DB_HOST (no target pod), the point, the log's interval.
  const pitr = { KB_RECOVERY_TIME: iso(t.point), KB_RECOVERY_TIMESTAMP: String(Math.floor(t.point.getTime() / 1000)), DATA_DIR: dA, ARCHIVE_INTERVAL: `${interval}s`, DB_HOST: undefined, DB_PORT: undefined };
  const restoreA = async (): Promise<RestoreRun> => {
    rmSync(dA, { recursive: true, force: true });
    settle();
    const t0 = performance.now();
    run("postgres-basebackup restore", shellArgv(postgresBasebackupTool.spec.physical?.restoreCommands ?? []), { ...baseEnv, ...pitr, DP_RESTORE_STEP: "base" });
    const t1 = performance.now();
    const rec = run("postgres-pitr recovery", shellArgv([POSTGRES_RECOVERY_SCRIPT]), { ...logEnv, ...pitr, DP_RESTORE_STEP: "log" });
    const t2 = performance.now();
    const server = pgStart(w, "restore-A", dA, rPort);
    await waitFor(server, "read-write", pgReadWrite(rPort), 3600);
    const t3 = performance.now();
    const rows = Number(psql(rPort, "select count(*) from pgbench_history"));
    await stop(server);
    const logFiles = Number(/: (\d+) WAL files/.exec(rec.stdout)?.[1] ?? NaN);
    return { total: (t3 - t0) / 1000, base: (t1 - t0) / 1000, log: (t2 - t1) / 1000, replay: (t3 - t2) / 1000, rows, logFiles };
  };
  const restoreB = async (): Promise<RestoreRun> => {
    rmSync(dB, { recursive: true, force: true });
    settle();
    const t0 = performance.now();
    mkdirSync(dB, { mode: 0o700 });
    spawnSync("chown", ["postgres:postgres", dB]);
    run("tar -x base.tar", asPostgres(["tar", "-xf", join(w, "ref-base", "base.tar"), "-C", dB]));
    if (existsSync(join(w, "ref-base", "pg_wal.tar"))) run("tar -x pg_wal.tar", asPostgres(["tar", "-xf", join(w, "ref-base", "pg_wal.tar"), "-C", join(dB, "pg_wal")]));
    const t1 = performance.now();
    const wal = handWal(join(w, "ref-wal"), startSegment(dB), t.point);
    const script = [
      "set -e",
      `mkdir "${dB}/hand_wal"`,
      ...wal.map((x) => `cp "${join(w, "ref-wal", x.from)}" "${dB}/hand_wal/${x.to}"`),
      `cat >> "${dB}/postgresql.auto.conf" <<'EOF'`,
      "restore_command = 'cp hand_wal/%f \"%p\"'",
      `recovery_target_time = '${iso(t.point).replace("T", " ").replace(/Z$/, "+00")}'`,
      "recovery_target_action = 'promote'",
      "EOF",
      `touch "${dB}/recovery.signal"`,
    ].join("\n");
    run("copy WAL, recovery settings", asPostgres(["sh", "-c", script]));
    const t2 = performance.now();
    const server = pgStart(w, "restore-B", dB, rPort);
    await waitFor(server, "read-write", pgReadWrite(rPort), 3600);
    const t3 = performance.now();
    const rows = Number(psql(rPort, "select count(*) from pgbench_history"));
    await stop(server);
    return { total: (t3 - t0) / 1000, base: (t1 - t0) / 1000, log: (t2 - t1) / 1000, replay: (t3 - t2) / 1000, rows, logFiles: wal.length };
  };
  const runs = await restores("postgres", restoreA, restoreB, expected);
  const table = restoreTable(runs, {
    A: "A, the tools: postgres-basebackup restore, POSTGRES_RECOVERY_SCRIPT (dp-agent pull-log), start postgres",
    B: "B, by hand: tar -x base.tar, cp segments from pg_receivewal's dir, recovery settings, start postgres",
  }, "base (median s) | WAL (median s, files) | start, replay, promote (median s)");

  return [
    "### PostgreSQL (postgres-pitr + postgres-basebackup)",
    "",
    `${version}. Source: \`pgbench -i -s ${scale}\` (${init.seconds.toFixed(0)} s; ${mib(dbBytes)} MiB in databases, base.tar ${mib(baseTarBytes)} MiB), then ${trafficSeconds} s of \`pgbench -n -c ${clients} -j ${clients}\`: ${txns} transactions, ${tps} tps, ${mib(walBytes)} MiB of WAL written. Base backups before the traffic: tool ${baseBackup.seconds.toFixed(1)} s, reference ${refBackup.seconds.toFixed(1)} s.`,
    `Archived by the tool (ARCHIVE_INTERVAL=${interval}s): ${arch.files} finished segments, ${mib(arch.bytes)} MiB (${mib(arch.stored)} MiB stored) and ${arch.partials} partial (${mib(arch.partialBytes)} MiB); the reference pg_receivewal holds ${refWalFiles} files. Slots left on the source after both archivers stopped: ${slotsLeft}.`,
    `Point: ${iso(t.point)}, ${(POINT_FRACTION * 100).toFixed(0)}% through the traffic; the source's commit timestamps (track_commit_timestamp) give ${expected} of ${totalRows} pgbench_history rows by then, and every restore returned ${runs.A[0]!.rows}.`,
    "",
    ...table.lines,
    "",
    `Ratio A/B (medians): ${table.ratio.toFixed(2)}x, goal <= ${RATIO_GOAL}x: ${met(table.ratio <= RATIO_GOAL)}.`,
    rpoLine(t),
    "",
    "Method: the reference receiver is `pg_receivewal -D DIR -S slot` and the reference base `pg_basebackup -Ft -X fetch -c fast -D DIR`, taken right after the tool's; by hand, everything runs as the postgres user and the segments copied are those from backup_label's start segment up to the first one last modified more than 1 s after the point (else the .partial one, renamed). A ends when `select pg_is_in_recovery()` (polled every 0.1 s) returns f after the promotion, B too. Servers: PostgreSQL defaults except wal_level=replica, max_wal_senders=10, max_replication_slots=10, track_commit_timestamp=on; scram-sha-256 over TCP.",
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------
// MariaDB.

const MARIA_LOG_PATH = "bench/maria-log";
const MARIA_BASE_PATH = "bench/maria-base";
const myEnv = (): NodeJS.ProcessEnv => ({ ...process.env, MYSQL_PWD: password, TZ: "UTC" });
const myConn = (port: number): string[] => ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "-u", "admin"];

function mysql(port: number, sql: string): string {
  return run(`mariadb ${sql.slice(0, 60)}`, ["mariadb", ...myConn(port), "--connect-timeout=5", "-N", "-B", "-e", sql], myEnv()).stdout.trim();
}

function mariaStart(w: string, name: string, data: string, port: number): Proc {
  const rundir = join(w, `run-${name}`);
  mkdirSync(rundir, { recursive: true });
  spawnSync("chown", ["mysql:mysql", rundir]);
  const [cmd, ...args] = asMysql([
    "/usr/sbin/mariadbd", "--no-defaults", `--datadir=${data}`, `--socket=${rundir}/mysqld.sock`, `--pid-file=${rundir}/mysqld.pid`,
    `--port=${port}`, "--bind-address=127.0.0.1", "--skip-name-resolve",
    "--log-bin=mysql-bin", "--server-id=1", "--default-time-zone=+00:00", `--max-binlog-size=${MARIADB_BINLOG_SIZE}`,
  ]);
  return launch(`mariadbd ${name}`, cmd!, args, { log: join(w, "logs", `${name}.log`), stopSignal: "SIGTERM", server: true });
}

const mariaReadWrite = (port: number) => (): boolean => {
  const r = spawnSync("mariadb", [...myConn(port), "--connect-timeout=5", "-N", "-B", "-e", "SELECT @@read_only"], { env: myEnv(), encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() === "0";
};

/** The base's binlog file and position (mariadb-backup writes it into the backup). */
function binlogInfo(data: string): { file: string; pos: string } {
  for (const f of ["xtrabackup_binlog_info", "mariadb_backup_binlog_info"]) {
    const p = join(data, f);
    if (!existsSync(p)) continue;
    const [file, pos] = readFileSync(p, "utf8").trim().split(/\s+/);
    if (file && pos) return { file, pos };
  }
  throw new Error(`${data}: no binlog position in xtrabackup_binlog_info`);
}

/** By hand: the binlogs from the base's on, up to the first one last written more than a second after T + 1 s (the stop). */
function handBinlogs(dir: string, first: string, stopAt: Date): string[] {
  const all = readdirSync(dir).filter((n) => /\.[0-9]{6}$/.test(n) && n >= first).sort();
  const out: string[] = [];
  for (const n of all) {
    out.push(n);
    if (statSync(join(dir, n)).mtimeMs > stopAt.getTime() + 1000) break;
  }
  return out;
}

/**
 * One session's traffic: a pgbench-like transaction (update a random account, insert a history
 * row) every `period_us` microseconds on schedule (a rate, like `pgbench -R`), for `secs` seconds.
 * The pacing sleeps into a local variable: nothing of it reaches the binlog.
 */
const TRAFFIC_PROCEDURE = `DELIMITER //
CREATE PROCEDURE bench.traffic(secs INT, n INT, period_us BIGINT)
BEGIN
  DECLARE t0 DATETIME(6) DEFAULT SYSDATE(6);
  DECLARE stop_at DATETIME(6) DEFAULT t0 + INTERVAL secs SECOND;
  DECLARE k BIGINT DEFAULT 0;
  DECLARE a INT;
  DECLARE d INT;
  DECLARE pause DOUBLE;
  DECLARE z INT;
  WHILE SYSDATE(6) < stop_at DO
    SET a = FLOOR(1 + RAND() * n);
    SET d = FLOOR(RAND() * 10001) - 5000;
    START TRANSACTION;
    UPDATE bench.accounts SET abalance = abalance + d WHERE aid = a;
    INSERT INTO bench.history (aid, delta, mtime) VALUES (a, d, NOW(6));
    COMMIT;
    SET k = k + 1;
    SET pause = TIMESTAMPDIFF(MICROSECOND, SYSDATE(6), t0 + INTERVAL (k * period_us) MICROSECOND) / 1000000;
    IF pause > 0 THEN SET z = SLEEP(pause); END IF;
  END WHILE;
END //
DELIMITER ;
`;

async function benchMariadb(shared: Shared): Promise<string> {
  const w = join(work, "maria");
  for (const d of ["logs", "src", "ref-binlog", "rA", "rB", "tmp"]) mkdirSync(join(w, d), { recursive: true });
  spawnSync("chown", ["-R", "mysql:mysql", join(w, "src"), join(w, "rA"), join(w, "rB"), join(w, "logs")]);
  const src = join(w, "src", "mysql");
  run("mariadb-install-db", asMysql(["mariadb-install-db", "--no-defaults", `--datadir=${src}`, "--auth-root-authentication-method=socket", "--skip-test-db"]));
  const srcPort = await freePort([]);
  const rPort = await freePort([srcPort]);
  const version = `mariadbd ${/Ver (\S+)/.exec(run("mariadbd --version", ["/usr/sbin/mariadbd", "--version"]).stdout)?.[1] ?? "?"}`;
  const rows = scale * 100000;

  const db = { DB_HOST: "127.0.0.1", DB_PORT: String(srcPort), DB_USER: "admin", DB_PASSWORD: password, DATA_DIR: src };
  const logEnv = { ...shared.toolEnv, ...db, BACKUP_NAME: "maria-log", BACKUP_DIR: join(work, "repo", MARIA_LOG_PATH), DP_BACKUP_PATH: MARIA_LOG_PATH, DP_BACKUP_ID: randomUUID(), DP_TOOL: "mariadb-binlog-pitr", ARCHIVE_INTERVAL: `${interval}s` };
  const baseEnv = { ...shared.toolEnv, ...db, BACKUP_NAME: "maria-base", BACKUP_DIR: join(work, "repo", MARIA_BASE_PATH), DP_BACKUP_PATH: MARIA_BASE_PATH, DP_BACKUP_ID: randomUUID(), DP_TOOL: "mariadb-backup" };

  const source = mariaStart(w, "source", src, srcPort);
  const sock = join(w, "run-source", "mysqld.sock");
  await waitFor(source, "accepting connections", () => spawnSync("mariadb", ["--no-defaults", `--socket=${sock}`, "-u", "root", "-e", "SELECT 1"]).status === 0, 120);
  console.log(`mariadb: source on 127.0.0.1:${srcPort}; ${rows} accounts ...`);
  // Filled with the binlog off for the session, then a new binlog: the archive starts after the fill.
  const init = run("fill", ["mariadb", "--no-defaults", `--socket=${sock}`, "-u", "root"], process.env, [
    `CREATE USER admin@'%' IDENTIFIED BY '${password}';`,
    "GRANT ALL PRIVILEGES ON *.* TO admin@'%' WITH GRANT OPTION;",
    "SET SESSION sql_log_bin = 0;",
    "CREATE DATABASE bench;",
    "USE bench;",
    "CREATE TABLE bench.accounts (aid INT PRIMARY KEY, bid INT NOT NULL, abalance INT NOT NULL, filler CHAR(84) NOT NULL) ENGINE=InnoDB;",
    `INSERT INTO bench.accounts SELECT seq, (seq - 1) DIV 100000 + 1, 0, '' FROM seq_1_to_${rows};`,
    "CREATE TABLE bench.history (id BIGINT AUTO_INCREMENT PRIMARY KEY, aid INT NOT NULL, delta INT NOT NULL, mtime DATETIME(6) NOT NULL) ENGINE=InnoDB;",
    TRAFFIC_PROCEDURE,
    "ANALYZE TABLE bench.accounts;",
    "SET SESSION sql_log_bin = 1;",
    "FLUSH BINARY LOGS;",
  ].join("\n"));
  const dbBytes = Number(mysql(srcPort, "SELECT SUM(data_length + index_length) FROM information_schema.tables WHERE table_schema = 'bench'"));

  // Archivers: the tool's and a plain mariadb-binlog, each its own replica server id.
  const archiver = launch("mariadb-binlog-pitr archiver", "sh", ["-c", MARIADB_BINLOG_ARCHIVE_SCRIPT], { env: logEnv, log: join(w, "logs", "archiver.log"), stopSignal: "SIGTERM" });
  const first = mysql(srcPort, "SHOW MASTER STATUS").split("\t")[0]!;
  const refRecv = launch("reference mariadb-binlog", "mariadb-binlog", [...myConn(srcPort), "--read-from-remote-server", "--raw", "--stop-never", "--to-last-log", "--stop-never-slave-server-id=424242", `--result-file=${join(w, "ref-binlog")}/`, first], { env: myEnv(), log: join(w, "logs", "ref-binlog.log"), stopSignal: "SIGTERM" });
  await waitFor(source, "streaming to both receivers", () => {
    if (!alive(archiver)) throw new Error(`the archiver exited:\n${tail(archiver.log)}`);
    if (!alive(refRecv)) throw new Error(`mariadb-binlog exited:\n${tail(refRecv.log)}`);
    return Number(mysql(srcPort, "SELECT COUNT(*) FROM information_schema.processlist WHERE command LIKE 'Binlog Dump%'")) >= 2;
  }, 60);

  // Base backups: the tool's, then the reference (the same stream, into a file).
  const baseBackup = run("mariadb-backup backup", shellArgv(["sh", "-c", MARIADB_BACKUP_SCRIPT]), baseEnv);
  const refFile = join(w, "ref-base.xbstream");
  const refBackup = run("mariadb-backup --stream > FILE", ["sh", "-c", `mariadb-backup --no-defaults --backup --stream=xbstream --datadir="${src}" --target-dir="${join(w, "tmp")}" --protocol=tcp --host=127.0.0.1 --port=${srcPort} --user=admin > "${refFile}"`], myEnv());
  const baseBytes = statSync(refFile).size;
  console.log(`mariadb: base backups: tool ${baseBackup.seconds.toFixed(1)} s, reference ${refBackup.seconds.toFixed(1)} s`);

  console.log(`mariadb: ${clients} sessions of update + insert transactions, ${mariadbTps} a second in all, for ${trafficSeconds} s (archive interval ${interval} s) ...`);
  const t = await traffic("mariadb traffic", () => Array.from({ length: clients }, (_, i) =>
    launch(`mariadb traffic ${i + 1}`, "mariadb", [...myConn(srcPort), "-e", `CALL bench.traffic(${trafficSeconds}, ${rows}, ${Math.round((clients * 1e6) / mariadbTps)})`], { env: myEnv(), log: join(w, "logs", `traffic-${i + 1}.log`), stdout: "pipe" })), MARIA_LOG_PATH, "binlog/");
  const txns = Number(mysql(srcPort, "SELECT COUNT(*) FROM bench.history"));
  console.log(`mariadb: traffic done: ${txns} transactions; newest push ${t.atEnd.name} ended ${t.rpo.toFixed(1)} s before the end (worst in the last minute ${t.rpoWorst.toFixed(1)} s)`);
  // The stop: the first event stamped T + 1 s (mariadb-binlog --stop-datetime; see mariadb-physical.ts).
  const stopAt = new Date(t.point.getTime() + 1000);
  const stopText = iso(stopAt).replace("T", " ").replace(/Z$/, "");
  const expected = Number(mysql(srcPort, `SELECT COUNT(*) FROM bench.history WHERE mtime < '${stopText}'`));
  const binlogBytes = Number(mysql(srcPort, "SHOW BINARY LOGS").split("\n").map((l) => l.split("\t")).filter(([n]) => n! >= first).reduce((s, l) => s + Number(l[1]), 0));
  if (!(expected > 0 && expected < txns)) throw new Error(`mariadb: the point ${iso(t.point)} is not inside the traffic: ${expected} of ${txns} rows by then`);

  await stop(archiver);
  await stop(refRecv);
  await stop(source);
  const arch = archiveStats(shared.agent, logEnv, "binlog/");
  const refFiles = readdirSync(join(w, "ref-binlog")).filter((n) => /\.[0-9]{6}$/.test(n)).length;

  const dA = join(w, "rA", "mysql");
  const dB = join(w, "rB", "mysql");
  const pitr = { KB_RECOVERY_TIME: iso(t.point), KB_RECOVERY_TIMESTAMP: String(Math.floor(t.point.getTime() / 1000)), DATA_DIR: dA, ARCHIVE_INTERVAL: `${interval}s`, DB_HOST: undefined, DB_PORT: undefined };
  const restoreA = async (): Promise<RestoreRun> => {
    rmSync(dA, { recursive: true, force: true });
    rmSync(`${dA}.dp-binlog`, { recursive: true, force: true });
    settle();
    const t0 = performance.now();
    run("mariadb-backup restore", shellArgv([MARIADB_BACKUP_RESTORE_SCRIPT]), { ...baseEnv, ...pitr, DP_RESTORE_STEP: "base" });
    const t1 = performance.now();
    const rec = run("mariadb-binlog-pitr recovery", shellArgv([MARIADB_BINLOG_RECOVERY_SCRIPT]), { ...logEnv, ...pitr, DP_RESTORE_STEP: "log" });
    const t2 = performance.now();
    const server = mariaStart(w, "restore-A", dA, rPort);
    await waitFor(server, "read-write", mariaReadWrite(rPort), 600);
    const t3 = performance.now();
    const n = Number(mysql(rPort, "SELECT COUNT(*) FROM bench.history"));
    await stop(server);
    const logFiles = Number(/replaying (\d+) binlog/.exec(rec.stdout)?.[1] ?? NaN);
    // The log step's time includes its replay server (start, replay, clean shutdown): split as the tool reports it.
    return { total: (t3 - t0) / 1000, base: (t1 - t0) / 1000, log: (t2 - t1) / 1000, replay: (t3 - t2) / 1000, rows: n, logFiles };
  };
  const restoreB = async (): Promise<RestoreRun> => {
    rmSync(dB, { recursive: true, force: true });
    rmSync(`${dB}.binlog`, { recursive: true, force: true });
    settle();
    const t0 = performance.now();
    mkdirSync(dB);
    spawnSync("chown", ["mysql:mysql", dB]);
    run("mbstream -x, prepare", asMysql(["sh", "-c", `mbstream -x -C "${dB}" < "${refFile}" && mariadb-backup --no-defaults --prepare --target-dir="${dB}"`]));
    const t1 = performance.now();
    const info = binlogInfo(dB);
    const files = handBinlogs(join(w, "ref-binlog"), info.file, stopAt);
    run("copy binlogs", asMysql(["sh", "-c", [`mkdir "${dB}.binlog"`, ...files.map((f) => `cp "${join(w, "ref-binlog", f)}" "${dB}.binlog/"`)].join(" && ")]));
    const t2 = performance.now();
    const server = mariaStart(w, "restore-B", dB, rPort);
    await waitFor(server, "read-write", mariaReadWrite(rPort), 600);
    const rsock = join(w, "run-restore-B", "mysqld.sock");
    const replay = `mariadb-binlog --no-defaults --start-position=${info.pos} --stop-datetime="${stopText}" ${files.map((f) => `"${dB}.binlog/${f}"`).join(" ")} | mariadb --no-defaults --socket="${rsock}" -u root --binary-mode --max-allowed-packet=1G`;
    run("mariadb-binlog | mariadb", ["bash", "-o", "pipefail", "-c", replay], myEnv());
    const t3 = performance.now();
    const n = Number(mysql(rPort, "SELECT COUNT(*) FROM bench.history"));
    await stop(server);
    return { total: (t3 - t0) / 1000, base: (t1 - t0) / 1000, log: (t2 - t1) / 1000, replay: (t3 - t2) / 1000, rows: n, logFiles: files.length };
  };
  const runs = await restores("mariadb", restoreA, restoreB);
  const table = restoreTable(runs, {
    A: "A, the tools: mariadb-backup restore (pull, mbstream -x, --prepare), MARIADB_BINLOG_RECOVERY_SCRIPT (pull-log, replay server, mariadb-binlog --stop-datetime), start mariadbd",
    B: "B, by hand: mbstream -x, mariadb-backup --prepare, cp binlogs, start mariadbd, mariadb-binlog --stop-datetime \\| mariadb",
  }, "base (median s) | binlogs: A pull-log + replay server, B cp (median s, files) | start mariadbd, B: + replay (median s)");

  return [
    "### MariaDB (mariadb-binlog-pitr + mariadb-backup)",
    "",
    `${version}. Source: ${rows} accounts (pgbench -s ${scale}'s count; ${init.seconds.toFixed(0)} s; ${mib(dbBytes)} MiB of tables, base ${mib(baseBytes)} MiB as xbstream), then ${trafficSeconds} s of ${clients} sessions running pgbench-like transactions (update an account, insert a history row) from a stored procedure, paced to ${mariadbTps} a second in all (BENCH_PITR_MARIADB_TPS; unpaced, the replay of the traffic up to the point takes several times longer than its recording, A and B alike): ${txns} transactions, ${(txns / trafficSeconds).toFixed(0)} tps, ${mib(binlogBytes)} MiB of binlog (max_binlog_size ${MARIADB_BINLOG_SIZE}). Base backups before the traffic: tool ${baseBackup.seconds.toFixed(1)} s, reference ${refBackup.seconds.toFixed(1)} s.`,
    `Archived by the tool (ARCHIVE_INTERVAL=${interval}s): ${arch.files} finished binlogs, ${mib(arch.bytes)} MiB (${mib(arch.stored)} MiB stored) and ${arch.partials} partial (${mib(arch.partialBytes)} MiB); the reference mariadb-binlog holds ${refFiles} files.`,
    `Point: ${iso(t.point)}, ${(POINT_FRACTION * 100).toFixed(0)}% through the traffic; replay stops at the first event stamped ${stopText} (T + 1 s, as the tool does; by hand the same --stop-datetime). The source holds ${expected} of ${txns} history rows with mtime before that; every restore returned ${runs.A[0]!.rows} (A and B must agree; the two may differ from the mtime count by transactions committed across the second, see mariadb-physical.ts).`,
    "",
    ...table.lines,
    "",
    `Ratio A/B (medians): ${table.ratio.toFixed(2)}x, goal <= ${RATIO_GOAL}x: ${met(table.ratio <= RATIO_GOAL)}.`,
    rpoLine(t),
    "",
    `Method: the reference archiver is \`mariadb-binlog --read-from-remote-server --raw --stop-never\` from the same first binlog, the reference base \`mariadb-backup --backup --stream=xbstream > FILE\`, taken right after the tool's; by hand, the server-side steps run as the mysql user, the binlogs copied are those from the base's up to the first one last modified more than 1 s after the stop, and the replay goes into the restored server itself (started with the source's options, binary log on). A's log step (the tool's) includes its own replay server's start, replay and clean shutdown; A then ends when the restarted server answers @@read_only = 0, B when the replay pipe ends. Servers: --no-defaults with --log-bin, --server-id=1, --default-time-zone=+00:00, --max-binlog-size=${MARIADB_BINLOG_SIZE}; the client account over TCP with a password.`,
  ].join("\n");
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  if (work.split("/").filter(Boolean).length < 2 || work.startsWith(repoRoot)) throw new Error(`BENCH_DIR=${work}: give a directory of its own, e.g. /tmp/dp-bench-pitr`);
  for (const e of engines) if (e !== "postgres" && e !== "mariadb") throw new Error(`BENCH_PITR_ENGINES: unknown engine ${e} (postgres, mariadb)`);
  const startedAt = new Date();
  const loadBefore = loadavg();
  rmSync(work, { recursive: true, force: true });
  for (const d of ["tmp", "repo"]) mkdirSync(join(work, d), { recursive: true });
  chmodSync(join(work, "tmp"), 0o1777); // TMPDIR of the tool scripts, like a pod's /tmp (the replay server writes there as mysql)
  try {
    const keyFile = join(work, "key");
    writeFileSync(keyFile, randomBytes(32), { mode: 0o400 }); // a raw 32-byte key, as `head -c32 /dev/urandom`
    const ownAgent = process.env.BENCH_PITR_AGENT !== "repo";
    const agentBin = ownAgent ? builtAgent() : repoAgentBin;
    const agentUsed = repoAgentMode();
    // The repo part of the env the operator gives every tool container (backuprepo/access.ts).
    const toolEnv: NodeJS.ProcessEnv = {
      ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("PG") && !k.startsWith("DP_") && !k.startsWith("MYSQL"))),
      PATH: `${agentBin}:${PGBIN}:/usr/sbin:${process.env.PATH ?? "/usr/bin:/bin"}`,
      TMPDIR: join(work, "tmp"),
      DP_REPO_KIND: "filesystem",
      DP_REPO_PATH: join(work, "repo"),
      DP_ENCRYPTION_KEY_FILE: keyFile,
      DP_TERMINATION_MESSAGE_PATH: join(work, "termination"),
    };
    const shared: Shared = { agent: join(agentBin, "dp-agent"), toolEnv };
    const sections: string[] = [];
    for (const e of engines) sections.push(e === "postgres" ? await benchPostgres(shared) : await benchMariadb(shared));
    if (!engines.includes("postgres")) sections.unshift(keptSection("### PostgreSQL"));
    if (!engines.includes("mariadb")) sections.push(keptSection("### MariaDB"));

    const c = cpus();
    const report = [
      `Machine (read by the bench): ${c.length} cores (${c[0]?.model.trim() ?? "?"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, load ${loadBefore.map((l) => l.toFixed(1)).join(" ")} at the start and ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end. dp-agent: ${agentUsed}.`,
      "",
      `Common method: the tools' scripts are imported from packages/tools/src and run with \`sh -c\` as root, as their pods do, with the operator's env (DB_HOST/DB_PORT/DB_USER/DB_PASSWORD, BACKUP_NAME, DP_REPO_KIND=filesystem, DP_BACKUP_PATH, DP_BACKUP_ID, DP_ENCRYPTION_KEY_FILE holding a random raw 32-byte key as a BackupRepo with spec.encryption gives it: AES-256-GCM, default zstd; restore steps also KB_RECOVERY_TIME, KB_RECOVERY_TIMESTAMP, ARCHIVE_INTERVAL, DATA_DIR, and no DB_HOST). Each restore starts from an empty data directory after \`sync\` and a dropped page cache; ${reps} repetitions, A and B alternating which goes first, medians. The ratio's goal (<= ${RATIO_GOAL}x) and the RPO's (<= the archive interval + 5 s) are the issue's.`,
      "",
      ...sections.flatMap((s) => [s, ""]),
    ].join("\n").trimEnd();
    console.log(`\n${report}`);
    if (process.env.BENCH_WRITE_DOCS !== "0") writeDocs(report, startedAt);
  } finally {
    await stopAll();
    if (!keep) rmSync(work, { recursive: true, force: true });
  }
}

/**
 * An engine this run did not measure (BENCH_PITR_ENGINES): its subsection from docs/benchmarks.md
 * as the last run that measured it wrote it, said to be that, so one engine can be re-measured
 * without losing the other's figures.
 */
function keptSection(title: string): string {
  const file = join(repoRoot, "docs/benchmarks.md");
  const doc = existsSync(file) ? readFileSync(file, "utf8") : "";
  const section = doc.slice(doc.indexOf("<!-- pitr:begin -->"), doc.indexOf("<!-- pitr:end -->"));
  const at = section.indexOf(`${title} `);
  if (at < 0) return `${title}\n\nNot measured in this run (BENCH_PITR_ENGINES), nor in the run before.`;
  const rest = section.slice(at);
  const end = rest.indexOf("\n### ", 1);
  const body = (end < 0 ? rest : rest.slice(0, end)).trimEnd();
  const [head, ...lines] = body.split("\n");
  const kept = /^Kept from /.test(lines.find((l) => l.trim() !== "") ?? "") ? lines.join("\n").trim() : `Kept from the run of ${/\), (\d{4}-\d\d-\d\d \d\d:\d\d UTC)\./.exec(section)?.[1] ?? "an earlier date"}, which measured it (this run did not: BENCH_PITR_ENGINES):\n\n${lines.join("\n").trim()}`;
  return `${head}\n\n${kept}`;
}

// Replace only the pitr section of docs/benchmarks.md; other sections belong to other suites.
function writeDocs(report: string, startedAt: Date): void {
  const file = join(repoRoot, "docs/benchmarks.md");
  const begin = "<!-- pitr:begin -->";
  const end = "<!-- pitr:end -->";
  const params = `\`BENCH_PITR_SCALE=${scale}\`, \`BENCH_PITR_TRAFFIC_SECONDS=${trafficSeconds}\`, \`BENCH_PITR_INTERVAL=${interval}\`, \`BENCH_PITR_CLIENTS=${clients}\`, \`BENCH_REPS=${reps}\``;
  const section = `${begin}\n## pitr\n\n\`npm run bench:pitr\` (${params}), ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC. Written by the bench; the next run replaces this section.\n\n${report}\n${end}`;
  let doc = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, doc);
}

await main();
