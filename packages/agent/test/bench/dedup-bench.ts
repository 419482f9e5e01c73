// npm run bench:dedup — dp-agent's deduplicating repository (`dp-agent dedup ...`) against
// tar|zstd and restic (repo v2) on the standard dataset, in one run: first backup, second backup
// after the standard "day 2" (mutate-dataset.py, 1%), restore of the second snapshot, peak RSS,
// and prune after forgetting 10 of 20 daily snapshots. Prints a goal table and writes its own
// section of docs/benchmarks.md. Work dirs live under a temp dir in /var/tmp (on disk, not
// tmpfs) and are removed at the end.
//   BENCH_DEDUP_GIB (default 2)          dataset size of the backup and restore measures
//   BENCH_DEDUP_PRUNE_GIB (default 0.5)  dataset size of the 20 daily snapshots the prune measure uses
//   BENCH_DEDUP_REPS (default 3)         repetitions of each timed run (medians are reported)
//   BENCH_DEDUP_TMP (default /var/tmp)   where the temp dir goes
//   BENCH_DEDUP_KEEP=1                   keep the temp dir (debugging)
//   BENCH_DEDUP_WRITE_DOCS=0             print only, do not write docs/benchmarks.md
// Goals are printed as pass/miss; only a failed step or wrong restored bytes fail the run.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, cpus, loadavg, totalmem } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
// Importing the helpers builds the bundle when a source is newer (bin/dp-agent then runs it, as pods do).
import { agentBin } from "../helpers.ts";
import { cacheDropped, median, settle } from "./settle.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../../..");
const shared = resolve(repoRoot, "../shared/bench");

function num(name: string, dflt: string, ok: (n: number) => boolean): number {
  const v = Number(process.env[name] ?? dflt);
  if (!ok(v)) throw new Error(`${name}=${process.env[name]} is not valid`);
  return v;
}
const gib = num("BENCH_DEDUP_GIB", "2", (n) => n > 0);
const pruneGib = num("BENCH_DEDUP_PRUNE_GIB", "0.5", (n) => n > 0);
const reps = num("BENCH_DEDUP_REPS", "3", (n) => Number.isInteger(n) && n >= 1);
const tmpBase = process.env.BENCH_DEDUP_TMP ?? "/var/tmp";
const DAYS = 20;
const FORGET = 10;
// Both tools get a passphrase: restic derives its key with scrypt at every open, dp-agent too
// (scrypt N=2^15 with the repo config's salt) when the key is not 64 hex digits.
const PASSPHRASE = "bench-dedup-passphrase";
const MiB = 1 << 20;

interface Run {
  seconds: number;
  /** User + system CPU seconds of the process and its descendants. */
  cpu: number;
  rssMiB: number;
  stdout: string;
}

let timeFile = "";

/** Run argv under GNU time (CPU time, and the peak RSS of the largest process); wall time from our clock. */
function timed(argv: string[], env: Record<string, string> = {}): Run {
  const t0 = process.hrtime.bigint();
  const r = spawnSync("/usr/bin/time", ["-f", "%M %U %S", "-o", timeFile, ...argv], { env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 1 << 28 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`bench step failed (${r.status ?? r.signal}): ${argv.join(" ")}\n${r.stderr}${r.stdout.slice(-4000)}`);
  const [kb, user, sys] = (readFileSync(timeFile, "utf8").trim().split("\n").pop() ?? "").split(" ").map(Number);
  return { seconds, cpu: user + sys, rssMiB: kb / 1024, stdout: r.stdout };
}

/** A shell pipeline (pipefail), timed; the RSS is the largest process's. */
const sh = (cmd: string, env: Record<string, string> = {}): Run => timed(["bash", "-o", "pipefail", "-c", cmd], env);

/** Untimed: run, fail loudly, return stdout. */
function run(argv: string[], env: Record<string, string> = {}): string {
  const r = spawnSync(argv[0], argv.slice(1), { env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 1 << 28 });
  if (r.status !== 0) throw new Error(`bench step failed (${r.status ?? r.signal}): ${argv.join(" ")}\n${r.stderr}${r.stdout.slice(-4000)}`);
  return r.stdout;
}

function need(bin: string): void {
  if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is missing`);
}

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(" ");
/** The 1-minute load average after each repetition, by phase (the machine is shared: it explains spreads). */
const loads: Record<string, string[]> = {};
const note = (phase: string): string => {
  (loads[phase] ??= []).push(loadavg()[0].toFixed(1));
  return load();
};
/** Bytes under a path as du -sb counts them (apparent sizes, directories included). */
const du = (p: string): number => Number(run(["du", "-sb", p]).split("\t")[0]);
const rm = (p: string): void => rmSync(p, { recursive: true, force: true });
const copy = (from: string, to: string): void => void (rm(to), run(["cp", "-a", from, to]));
const mib = (b: number): string => (b / MiB).toFixed(1);
/** The runs in a rotated order, so that no contender always goes first. */
const rotate = <T>(xs: T[], k: number): T[] => xs.slice(k % xs.length).concat(xs.slice(0, k % xs.length));

function makeDataset(dir: string, size: number): string {
  return run(["python3", join(shared, "make-dataset.py"), dir, String(size)]).trim();
}
function mutate(dir: string, seed: number): string {
  return run(["python3", join(shared, "mutate-dataset.py"), dir, "1", String(seed)]).trim();
}

interface Meta {
  type: string;
  size: number;
  mode: number;
  mtimeMs: number;
}
function listing(root: string): Map<string, Meta> {
  const out = new Map<string, Meta>();
  const walk = (rel: string): void => {
    const st = lstatSync(rel ? join(root, rel) : root);
    const type = st.isDirectory() ? "d" : st.isFile() ? "f" : st.isSymbolicLink() ? "l" : "o";
    out.set(rel || ".", { type, size: type === "f" ? st.size : 0, mode: st.mode & 0o7777, mtimeMs: st.mtimeMs });
    if (type === "d") for (const n of readdirSync(rel ? join(root, rel) : root)) walk(rel ? `${rel}/${n}` : n);
  };
  walk("");
  return out;
}

/** A restore must give back the very tree: contents (diff -r), names, types, sizes, modes, mtimes (to the ms dp-agent keeps). */
function verifyRestore(source: string, restored: string, what: string, mtimeSlackMs = 1.001): void {
  const r = spawnSync("diff", ["-r", "-q", source, restored], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`RESTORE IS WRONG: ${what}: diff -r ${source} ${restored}:\n${(r.stdout + r.stderr).slice(0, 4000)}`);
  const a = listing(source);
  const b = listing(restored);
  for (const [p, m] of a) {
    const n = b.get(p);
    if (!n || n.type !== m.type || n.size !== m.size || n.mode !== m.mode || Math.abs(n.mtimeMs - m.mtimeMs) >= mtimeSlackMs)
      throw new Error(`RESTORE IS WRONG: ${what}: ${p}: source ${JSON.stringify(m)}, restored ${JSON.stringify(n)}`);
  }
  if (b.size !== a.size) throw new Error(`RESTORE IS WRONG: ${what}: ${b.size} entries restored, ${a.size} in the source`);
}

interface Row {
  measure: string;
  value: number;
  shown: string;
  goal: string;
  pass: boolean;
}

function bench(work: string): string {
  const started = Date.now();
  const loadStart = load();
  timeFile = join(work, "time.out");
  const fsType = run(["df", "--output=fstype", work]).trim().split("\n").pop();
  const cpu = cpus();
  const resticVersion = run(["restic", "version"]).trim().split(" ").slice(0, 2).join(" ");

  // dp-agent: a filesystem repo at agentRoot, the dedup repository under its prefix "dedup".
  const agentEnv = (root: string): Record<string, string> => ({
    DP_REPO_PATH: root,
    DP_DEDUP_PREFIX: "dedup",
    DP_ENCRYPTION_KEY: PASSPHRASE,
    DP_TERMINATION_MESSAGE_PATH: join(work, "termination"),
  });
  // restic: a state dir holding the repo and its cache, copied together.
  const resticEnv = (state: string): Record<string, string> => ({
    RESTIC_REPOSITORY: join(state, "repo"),
    RESTIC_PASSWORD: PASSPHRASE,
    RESTIC_CACHE_DIR: join(state, "cache"),
  });
  const agentInit = (root: string): void => {
    rm(root);
    mkdirSync(root);
    run([agentBin, "dedup", "init"], agentEnv(root));
  };
  const resticInit = (state: string): void => {
    rm(state);
    mkdirSync(state);
    run(["restic", "init", "--repository-version", "2", "-q"], resticEnv(state));
  };
  const agentBackup = (root: string, dir: string): Run => timed([agentBin, "dedup", "backup", dir], agentEnv(root));
  const resticBackup = (state: string, dir: string): Run => timed(["restic", "backup", "-q", "--compression", "auto", dir], resticEnv(state));
  const agentRss: Record<string, number> = {};
  const resticRss: Record<string, number> = {};
  const peak = (rec: Record<string, number>, k: string, r: Run): void => void (rec[k] = Math.max(rec[k] ?? 0, r.rssMiB));

  // --- the dataset
  const data = join(work, "data");
  console.log(`dataset: ${makeDataset(data, gib)}`);
  const bytes = du(data);

  // --- first backup: tar|zstd, dp-agent, restic; each on an empty repo
  const agentRoot = join(work, "agent");
  const resticState = join(work, "restic");
  const tarFile = join(work, "day1.tar.zst");
  const first: Record<"tar" | "agent" | "restic", Run[]> = { tar: [], agent: [], restic: [] };
  let agentFirstStored = 0;
  let resticFirstStored = 0;
  for (let rep = 0; rep < reps; rep++) {
    const contenders: [keyof typeof first, () => Run][] = [
      ["tar", () => (rm(tarFile), settle([data]), sh(`tar -cf - -C ${data} . | zstd -q -3 -T0 > ${tarFile}`))],
      ["agent", () => (agentInit(agentRoot), settle([data]), agentBackup(agentRoot, data))],
      ["restic", () => (resticInit(resticState), settle([data]), resticBackup(resticState, data))],
    ];
    for (const [name, f] of rotate(contenders, rep)) first[name].push(f());
    agentFirstStored = du(agentRoot);
    resticFirstStored = du(join(resticState, "repo"));
    console.log(`first backup ${rep + 1}/${reps} (load ${note("first backup")}): ` + Object.entries(first).map(([n, r]) => `${n} ${r[rep].seconds.toFixed(2)}s`).join(", "));
  }
  first.agent.forEach((r) => peak(agentRss, "backup", r));
  first.restic.forEach((r) => peak(resticRss, "backup", r));
  const tarStored = du(tarFile);
  rm(tarFile);
  const agentDay1 = join(work, "agent-day1");
  const resticDay1 = join(work, "restic-day1");
  copy(agentRoot, agentDay1);
  copy(resticState, resticDay1);

  // --- day 2, second backup on a copy of each tool's state after the first
  const day2 = mutate(data, 1);
  console.log(`day 2: ${day2}`);
  const bytes2 = du(data);
  const second: Record<"agent" | "restic", Run[]> = { agent: [], restic: [] };
  const growth: Record<"agent" | "restic", number[]> = { agent: [], restic: [] };
  let agentLine = "";
  for (let rep = 0; rep < reps; rep++) {
    const contenders: [keyof typeof second, () => void][] = [
      [
        "agent",
        () => {
          copy(agentDay1, agentRoot);
          const base = du(agentRoot);
          settle([data]);
          const r = agentBackup(agentRoot, data);
          second.agent.push(r);
          growth.agent.push(du(agentRoot) - base);
          agentLine = r.stdout.trim();
        },
      ],
      [
        "restic",
        () => {
          copy(resticDay1, resticState);
          const base = du(join(resticState, "repo"));
          settle([data]);
          second.restic.push(resticBackup(resticState, data));
          growth.restic.push(du(join(resticState, "repo")) - base);
        },
      ],
    ];
    for (const [, f] of rotate(contenders, rep)) f();
    console.log(`second backup ${rep + 1}/${reps} (load ${note("second backup")}): agent ${second.agent[rep].seconds.toFixed(2)}s +${mib(growth.agent[rep])} MiB, restic ${second.restic[rep].seconds.toFixed(2)}s +${mib(growth.restic[rep])} MiB`);
  }
  second.agent.forEach((r) => peak(agentRss, "backup", r));
  second.restic.forEach((r) => peak(resticRss, "backup", r));
  rm(agentDay1);
  rm(resticDay1);
  // What dp-agent says it stored on day 2 (its snapshot's stats), beside what du saw.
  const snaps = JSON.parse(run([agentBin, "dedup", "snapshots", "--json"], agentEnv(agentRoot))) as { id: string; stats: { newChunks: number; newBytes: number; storedBytes: number; unchanged: number; files: number; patchedChunks?: number; patchedBytes?: number; patchBytes?: number } }[];
  const s1 = snaps[0].stats;
  const s2 = snaps[snaps.length - 1].stats;
  const pages = Number(/(\d+) pages rewritten/.exec(day2)?.[1] ?? NaN);

  // --- restore of the second snapshot: dp-agent, zstd -d | tar -x of the same tree, restic
  const tar2 = join(work, "day2.tar.zst");
  run(["bash", "-o", "pipefail", "-c", `tar -cf - -C ${data} . | zstd -q -3 -T0 > ${tar2}`]);
  const out = join(work, "restore");
  const restore: Record<"agent" | "ref" | "restic", Run[]> = { agent: [], ref: [], restic: [] };
  for (let rep = 0; rep < reps; rep++) {
    const contenders: [keyof typeof restore, () => void][] = [
      [
        "agent",
        () => {
          rm(out);
          settle([agentRoot]);
          restore.agent.push(timed([agentBin, "dedup", "restore", "latest", out], agentEnv(agentRoot)));
          verifyRestore(data, out, `dp-agent dedup restore, repetition ${rep + 1}`);
        },
      ],
      [
        "ref",
        () => {
          rm(out);
          mkdirSync(out);
          settle([tar2]);
          restore.ref.push(sh(`zstd -q -d < ${tar2} | tar -xf - -C ${out}`));
          if (rep === 0) verifyRestore(data, out, "zstd -d | tar -x", 1000); // tar keeps whole seconds
        },
      ],
      [
        "restic",
        () => {
          rm(out);
          settle([join(resticState, "repo")]);
          restore.restic.push(timed(["restic", "restore", "-q", "latest", "--target", out], resticEnv(resticState)));
          if (rep === 0 && spawnSync("diff", ["-r", "-q", data, join(out, data)]).status !== 0) console.log("note: restic's restore differs from the source");
        },
      ],
    ];
    for (const [, f] of rotate(contenders, rep)) f();
    rm(out);
    console.log(`restore ${rep + 1}/${reps} (load ${note("restore")}): ` + Object.entries(restore).map(([n, r]) => `${n} ${r[rep].seconds.toFixed(2)}s`).join(", "));
  }
  restore.agent.forEach((r) => peak(agentRss, "restore", r));
  restore.restic.forEach((r) => peak(resticRss, "restore", r));
  for (const p of [data, agentRoot, resticState, tar2]) rm(p);

  // --- prune: 20 daily snapshots (day 1 the dataset, day n: mutate-dataset.py DIR 1 n, cumulative), forget the 10 oldest, prune
  const pdata = join(work, "pdata");
  makeDataset(pdata, pruneGib);
  const pAgent = join(work, "p-agent");
  const pRestic = join(work, "p-restic");
  agentInit(pAgent);
  resticInit(pRestic);
  const daily: Record<"agent" | "restic", Run[]> = { agent: [], restic: [] };
  const dailyNew: Record<"agent" | "restic", number[]> = { agent: [], restic: [] };
  for (let day = 1; day <= DAYS; day++) {
    if (day > 1) mutate(pdata, day);
    const before = [du(pAgent), du(join(pRestic, "repo"))];
    daily.agent.push(agentBackup(pAgent, pdata));
    daily.restic.push(resticBackup(pRestic, pdata));
    dailyNew.agent.push(du(pAgent) - before[0]);
    dailyNew.restic.push(du(join(pRestic, "repo")) - before[1]);
    if (day % 5 === 0) console.log(`daily snapshots: ${day}/${DAYS} (load ${note("daily snapshots (every 5th day)")})`);
  }
  daily.agent.forEach((r) => peak(agentRss, "backup", r));
  const all = JSON.parse(run([agentBin, "dedup", "snapshots", "--json"], agentEnv(pAgent))) as { id: string }[];
  if (all.length !== DAYS) throw new Error(`dp-agent lists ${all.length} snapshots, not ${DAYS}`);
  let agentForget = 0;
  for (const s of all.slice(0, FORGET)) agentForget += timed([agentBin, "dedup", "forget", s.id], agentEnv(pAgent)).seconds;
  const resticForget = timed(["restic", "forget", "-q", "--keep-last", String(DAYS - FORGET)], resticEnv(pRestic)).seconds;
  const beforePrune = { agent: du(pAgent), restic: du(join(pRestic, "repo")) };
  const pAgentSaved = join(work, "p-agent-forgot");
  const pResticSaved = join(work, "p-restic-forgot");
  copy(pAgent, pAgentSaved);
  copy(pRestic, pResticSaved);
  const prune: Record<"agent" | "restic", Run[]> = { agent: [], restic: [] };
  const afterPrune = { agent: 0, restic: 0 };
  let agentPruneLine = "";
  for (let rep = 0; rep < reps; rep++) {
    const contenders: [keyof typeof prune, () => void][] = [
      [
        "agent",
        () => {
          copy(pAgentSaved, pAgent);
          settle([pAgent]);
          const r = timed([agentBin, "dedup", "prune"], agentEnv(pAgent));
          prune.agent.push(r);
          agentPruneLine = r.stdout.trim();
          afterPrune.agent = du(pAgent);
        },
      ],
      [
        "restic",
        () => {
          copy(pResticSaved, pRestic);
          settle([join(pRestic, "repo")]);
          prune.restic.push(timed(["restic", "prune", "-q"], resticEnv(pRestic)));
          afterPrune.restic = du(join(pRestic, "repo"));
        },
      ],
    ];
    for (const [, f] of rotate(contenders, rep)) f();
    console.log(`prune ${rep + 1}/${reps} (load ${note("prune")}): agent ${prune.agent[rep].seconds.toFixed(2)}s, restic ${prune.restic[rep].seconds.toFixed(2)}s`);
  }
  prune.agent.forEach((r) => peak(agentRss, "prune", r));
  prune.restic.forEach((r) => peak(resticRss, "prune", r));
  // The pruned repo must still be whole: check reads every chunk; the newest snapshot restores to the data.
  run([agentBin, "dedup", "check"], agentEnv(pAgent));
  const left = JSON.parse(run([agentBin, "dedup", "snapshots", "--json"], agentEnv(pAgent))) as unknown[];
  if (left.length !== DAYS - FORGET) throw new Error(`dp-agent lists ${left.length} snapshots after forget and prune, not ${DAYS - FORGET}`);
  const pout = join(work, "p-restore");
  run([agentBin, "dedup", "restore", "latest", pout], agentEnv(pAgent));
  verifyRestore(pdata, pout, "dp-agent dedup restore of the newest snapshot after prune");
  const pbytes = du(pdata);
  const loadEnd = load();

  // --- the report
  const med = (rs: Run[]): number => median(rs.map((r) => r.seconds));
  const allRuns = (rs: Run[]): string => rs.map((r) => r.seconds.toFixed(2)).join(", ");
  const maxRss = (rs: Run[]): number => Math.max(...rs.map((r) => r.rssMiB));
  const g = { agent: median(growth.agent), restic: median(growth.restic) };
  const agentPeak = Math.max(...Object.values(agentRss));
  const rows: Row[] = [];
  const row = (measure: string, value: number, goal: string, pass: boolean, shown = `${value.toFixed(2)}x`): void => void rows.push({ measure, value, shown, goal, pass });
  const r1 = med(first.tar) / med(first.agent);
  row("first backup throughput / `tar -cf - \\| zstd -3 -T0 > FILE`", r1, ">= 0.85", r1 >= 0.85);
  const r2 = med(first.restic) / med(first.agent);
  row("first backup throughput / restic first backup", r2, ">= 2.0", r2 >= 2.0);
  const r3 = g.agent / agentFirstStored;
  row("second backup: new bytes stored / first backup's stored bytes", r3, "<= 0.03", r3 <= 0.03, `${r3.toFixed(3)} (${mib(g.agent)} / ${mib(agentFirstStored)} MiB)`);
  const r4 = g.agent / g.restic;
  row("second backup: new bytes stored / restic's new bytes for the same change", r4, "<= 1.0", r4 <= 1.0, `${r4.toFixed(2)} (${mib(g.agent)} / ${mib(g.restic)} MiB)`);
  const r5 = med(second.agent) / med(second.restic);
  row("second backup wall time / restic second backup wall time", r5, "<= 1.0", r5 <= 1.0, `${r5.toFixed(2)} (${med(second.agent).toFixed(2)} / ${med(second.restic).toFixed(2)} s)`);
  const r6 = med(restore.ref) / med(restore.agent);
  row("restore of the second snapshot / `zstd -d \\| tar -x` of the same tree (throughput)", r6, ">= 0.9", r6 >= 0.9);
  row("peak RSS (backup, restore, prune)", agentPeak, "< 200 MiB", agentPeak < 200, `${agentPeak.toFixed(0)} MiB (backup ${agentRss.backup.toFixed(0)}, restore ${agentRss.restore.toFixed(0)}, prune ${agentRss.prune.toFixed(0)})`);
  const r8 = med(prune.agent) / med(prune.restic);
  row(`prune after deleting ${FORGET} of ${DAYS} daily snapshots: time / restic prune`, r8, "<= 1.0", r8 <= 1.0, `${r8.toFixed(2)} (${med(prune.agent).toFixed(2)} / ${med(prune.restic).toFixed(2)} s)`);

  const mbs = (b: number, rs: Run[]): string => (b / MiB / med(rs)).toFixed(0);
  const runRows: [string, Run[], number | undefined][] = [
    [`dp-agent dedup backup, first (${gib} GiB)`, first.agent, bytes],
    ["tar -cf - DIR \\| zstd -q -3 -T0 > FILE", first.tar, bytes],
    ["restic backup, first (repo v2, compression auto)", first.restic, bytes],
    ["dp-agent dedup backup, second (day 2)", second.agent, bytes2],
    ["restic backup, second (day 2)", second.restic, bytes2],
    ["dp-agent dedup restore latest DIR (second snapshot)", restore.agent, bytes2],
    ["zstd -q -d < FILE \\| tar -xf - (day 2's tree)", restore.ref, bytes2],
    ["restic restore latest --target DIR", restore.restic, bytes2],
    [`dp-agent dedup prune (${pruneGib} GiB series)`, prune.agent, undefined],
    [`restic prune (${pruneGib} GiB series)`, prune.restic, undefined],
  ];
  const minutes = (Date.now() - started) / 60000;
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  const lines = [
    `Machine (read by the bench): ${cpu.length} cores (${cpu[0]?.model.trim() ?? "unknown"}), ${(totalmem() / 2 ** 30).toFixed(0)} GiB, work dirs on ${fsType} under ${tmpBase}; load average ${loadStart} at the start, ${loadEnd} at the end (1/5/15 min). ${resticVersion}; dp-agent from ${agentBin.replace(`${repoRoot}/`, "")} (its bundle). The run took ${minutes.toFixed(1)} min. 1-min load after each repetition: ${Object.entries(loads).map(([k, v]) => `${k} ${v.join(", ")}`).join("; ")}.`,
    `Dataset: \`make-dataset.py DIR ${gib}\` (${mib(bytes)} MiB). Day 2: \`mutate-dataset.py DIR 1\` (seed 1): ${day2.replace(/^\S+: /, "")}.`,
    `Method: ${reps} repetition${reps === 1 ? "" : "s"} of every timed run, medians (peak RSS: the largest); before each timed run \`sync\`${cacheDropped() ? ", drop the page cache" : " (page cache not dropped: not root)"} and read that run's input once; the order of the contenders rotates between repetitions. Both tools use a passphrase (restic: RESTIC_PASSWORD; dp-agent: DP_ENCRYPTION_KEY, scrypt) and encrypt; dp-agent compresses with zstd 3 (its backups on ${Math.max(1, availableParallelism() - 1)} encoder thread${availableParallelism() > 2 ? "s" : ""} beside the main one: its default, every core but one), restic with \`--compression auto\` (its own defaults). The second backup runs on a copy of the tool's repository (and restic's cache) as the first left it, so every repetition stores the same change; the parent snapshot is found by each tool itself (unchanged files are not read). "New bytes stored" is the growth of \`du -sb\` of the repository directory. Restores go into an empty directory; every dp-agent restore is compared with the source (\`diff -r\`, and names, types, sizes, modes, mtimes): a wrong byte fails the run.`,
    "",
    "| measure | measured | goal | result |",
    "|---|---:|---|---|",
    ...rows.map((r) => `| ${r.measure} | ${r.shown} | ${r.goal} | ${r.pass ? "pass" : "**miss**"} |`),
    "",
    `Goals met: ${rows.filter((r) => r.pass).length} of ${rows.length}.`,
    "",
    "| run | median s | MiB/s | CPU s (user+sys, median) | peak RSS MiB | all runs s |",
    "|---|---:|---:|---:|---:|---|",
    ...runRows.map(([n, rs, b]) => `| ${n} | ${med(rs).toFixed(2)} | ${b === undefined ? "" : mbs(b, rs)} | ${median(rs.map((r) => r.cpu)).toFixed(2)} | ${maxRss(rs).toFixed(0)} | ${allRuns(rs)} |`),
    "",
    `Stored after the first backup: dp-agent ${mib(agentFirstStored)} MiB, restic ${mib(resticFirstStored)} MiB, tar|zstd ${mib(tarStored)} MiB. ` +
      `Second backup: dp-agent +${growth.agent.map(mib).join(", ")} MiB, restic +${growth.restic.map(mib).join(", ")} MiB (per repetition). ` +
      `dp-agent's own account of its second snapshot: ${s2.files} files, ${s2.unchanged} taken unchanged from the parent, ${s2.newChunks} new chunks of ${mib(s2.newBytes)} MiB plaintext (mean ${(s2.newBytes / Math.max(1, s2.newChunks) / 1024).toFixed(0)} KiB), ${mib(s2.storedBytes)} MiB stored; of the new chunks ${s2.patchedChunks ?? 0} were stored as patches of the parent's chunks (standing for ${mib(s2.patchedBytes ?? 0)} MiB of chunks, carrying ${mib(s2.patchBytes ?? 0)} MiB); its summary line: \`${agentLine.replace(/\t/g, " ")}\`. ` +
      `Mean chunk of the first snapshot: ${(s1.newBytes / Math.max(1, s1.newChunks) / 1024).toFixed(0)} KiB (${s1.newChunks} chunks); day 2 rewrote ${pages} pages of 8 KiB at random offsets of the random-data files: stored as whole chunks that would be up to ~${mib((pages * s1.newBytes) / Math.max(1, s1.newChunks))} MiB before compression (one chunk per page), where the 0.03 goal allows ${mib(0.03 * agentFirstStored)} MiB in all (${((0.03 * agentFirstStored) / pages / 1024).toFixed(0)} KiB per rewritten page).`,
    "",
    `Prune: ${DAYS} daily snapshots of \`make-dataset.py DIR ${pruneGib}\` (${mib(pbytes)} MiB at the end; day 1 the dataset, day n = day n-1 changed by \`mutate-dataset.py DIR 1 n\`), taken by both tools; ` +
      `new bytes per day (days 2-${DAYS}, mean): dp-agent ${mib(mean(dailyNew.agent.slice(1)))} MiB, restic ${mib(mean(dailyNew.restic.slice(1)))} MiB; ` +
      `daily backup time (days 2-${DAYS}, median): dp-agent ${median(daily.agent.slice(1).map((r) => r.seconds)).toFixed(2)} s, restic ${median(daily.restic.slice(1).map((r) => r.seconds)).toFixed(2)} s. ` +
      `The ${FORGET} oldest forgotten (dp-agent: \`dedup forget ID\` x ${FORGET}, ${agentForget.toFixed(2)} s in all; restic: \`forget --keep-last ${DAYS - FORGET}\`, ${resticForget.toFixed(2)} s; not in the ratio). ` +
      `Each prune runs on a copy of the repository as forget left it, with its defaults (dp-agent: repack packs >= 20% unused; restic: \`--max-unused 5%\`). ` +
      `Repository before/after prune: dp-agent ${mib(beforePrune.agent)}/${mib(afterPrune.agent)} MiB, restic ${mib(beforePrune.restic)}/${mib(afterPrune.restic)} MiB. ` +
      `dp-agent: \`${agentPruneLine.replace(/\t/g, " ")}\`; afterwards \`dedup check\` (every chunk read) passed and the newest snapshot restored identical to the data.`,
    `restic peak RSS (for comparison): backup ${resticRss.backup.toFixed(0)} MiB, restore ${resticRss.restore.toFixed(0)} MiB, prune ${resticRss.prune.toFixed(0)} MiB.`,
  ];
  return lines.join("\n");
}

// Replace only this bench's section of docs/benchmarks.md; other sections belong to other suites.
function writeDocs(report: string): void {
  const file = join(repoRoot, "docs/benchmarks.md");
  const begin = "<!-- dedup:begin -->";
  const end = "<!-- dedup:end -->";
  const env = `\`BENCH_DEDUP_GIB=${gib}\`, \`BENCH_DEDUP_PRUNE_GIB=${pruneGib}\`, \`BENCH_DEDUP_REPS=${reps}\``;
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const section = `${begin}\n## Deduplicating repository (bench:dedup)\n\n\`npm run bench:dedup\` (${env}), ${when} UTC. Written by the bench; the next run replaces this section.\n\n${report}\n${end}`;
  let doc = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, doc);
}

function main(): void {
  ["zstd", "tar", "restic", "python3", "diff", "/usr/bin/time"].forEach(need);
  mkdirSync(tmpBase, { recursive: true });
  const work = mkdtempSync(join(tmpBase, "dp-dedup-bench-"));
  const cleanup = (): void => {
    if (process.env.BENCH_DEDUP_KEEP === "1") console.log(`kept ${work}`);
    else rm(work);
  };
  for (const sig of ["SIGINT", "SIGTERM"] as const)
    process.once(sig, () => {
      cleanup();
      process.exit(130);
    });
  let report: string;
  try {
    report = bench(work);
  } finally {
    cleanup();
  }
  console.log(report);
  if (process.env.BENCH_DEDUP_WRITE_DOCS !== "0") writeDocs(report);
}

main();
