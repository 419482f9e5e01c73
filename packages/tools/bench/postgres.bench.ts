// npm run bench:postgres — the postgres-basebackup tool's data path against pg_basebackup
// alone, in one run: a real PostgreSQL 15 on loopback (the Debian package, run as the postgres
// user) filled by `pgbench -i -s SCALE`, then
//   backup:  pg_basebackup -Ft -X fetch -D - | dp-agent push base.tar   (the tool: zstd-3, AES-256-GCM, fsync)
//            pg_basebackup -Ft -X fetch -D DIR                         (reference: an uncompressed tar)
//            pg_basebackup -Ft -X fetch -D - | zstd -3 -T0 > FILE      (reference: compressed)
//   restore: dp-agent pull base.tar | tar -x                          vs  zstd -d < FILE | tar -x
// BENCH_PG_SCALE (default 60, ~0.9 GiB) sets the size, BENCH_REPS (default 3) the repetitions
// (medians). Writes the "postgres" section of docs/benchmarks.md unless BENCH_WRITE_DOCS=0.
import { execFileSync, spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const agent = join(repoRoot, "packages/agent/bin/dp-agent");
const PGBIN = "/usr/lib/postgresql/15/bin";
const scale = Number(process.env.BENCH_PG_SCALE ?? "60");
const reps = Number(process.env.BENCH_REPS ?? "3");
const work = process.env.BENCH_DIR ?? "/tmp/dp-bench-pg";
const port = 55432;

function sh(cmd: string, env: Record<string, string> = {}): { seconds: number; rssMiB: number } {
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "bash", "-o", "pipefail", "-c", cmd], { env: { ...process.env, ...env }, encoding: "utf8", maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`bench step failed (${r.status}): ${cmd}\n${r.stderr}`);
  const [s, kb] = (r.stderr.trim().split("\n").pop() ?? "").split(" ").map(Number);
  return { seconds: s!, rssMiB: kb! / 1024 };
}

const asPostgres = (args: string[]): string[] => ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", ...args];
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

function settle(): void {
  spawnSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "1");
  } catch {
    // not root: the page cache stays
  }
}

async function startServer(data: string): Promise<ChildProcess> {
  const [cmd, ...args] = asPostgres([`${PGBIN}/postgres`, "-D", data, "-p", String(port), "-k", "/tmp", "-c", "listen_addresses=127.0.0.1", "-c", "max_wal_senders=4"]);
  const server = spawn(cmd!, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  server.stderr!.on("data", (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  for (let i = 0; i < 120; i++) {
    if (spawnSync(`${PGBIN}/pg_isready`, ["-h", "127.0.0.1", "-p", String(port)]).status === 0) return server;
    await new Promise((r) => setTimeout(r, 500));
  }
  server.kill("SIGINT");
  throw new Error(`postgres did not start:\n${log}`);
}

async function main(): Promise<void> {
  rmSync(work, { recursive: true, force: true });
  mkdirSync(work, { recursive: true });
  const data = join(work, "pgdata");
  mkdirSync(data);
  execFileSync("chown", ["-R", "postgres:postgres", work]);
  const [initdb, ...initArgs] = asPostgres([`${PGBIN}/initdb`, "-D", data, "-U", "postgres", "--auth=trust"]);
  execFileSync(initdb!, initArgs, { stdio: "ignore" });
  writeFileSync(join(data, "pg_hba.conf"), "local all all trust\nhost all all 127.0.0.1/32 trust\nhost replication all 127.0.0.1/32 trust\n");
  const server = await startServer(data);
  try {
    const conn = ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres"];
    console.log(`pgbench -i -s ${scale} ...`);
    execFileSync(`${PGBIN}/pgbench`, [...conn, "-i", "-q", "-s", String(scale), "postgres"], { stdio: "ignore" });
    const bytes = Number(execFileSync(`${PGBIN}/psql`, [...conn, "-At", "-c", "select sum(pg_database_size(datname)) from pg_database"], { encoding: "utf8" }).trim());
    const bb = `${PGBIN}/pg_basebackup ${conn.join(" ")} -Ft -X fetch -c fast -D`;
    const env = { DP_REPO_PATH: join(work, "repo"), DP_BACKUP_PATH: "pg/b1", DP_ENCRYPTION_KEY: "5f".repeat(32), DP_TERMINATION_MESSAGE_PATH: join(work, "term") };
    const runs: Record<string, number[]> = { tool: [], plain: [], zstd: [], toolRestore: [], zstdRestore: [] };
    let rss = 0;
    for (let i = 0; i < reps; i++) {
      rmSync(env.DP_REPO_PATH, { recursive: true, force: true });
      mkdirSync(env.DP_REPO_PATH);
      rmSync(join(work, "plain"), { recursive: true, force: true });
      settle();
      const t = sh(`${bb} - | ${agent} push base.tar`, env);
      runs.tool!.push(t.seconds);
      rss = Math.max(rss, t.rssMiB);
      settle();
      runs.plain!.push(sh(`${bb} ${join(work, "plain")}`).seconds);
      settle();
      runs.zstd!.push(sh(`${bb} - | zstd -q -3 -T0 > ${join(work, "base.tar.zst")}`).seconds);
      for (const [name, cmd, extra] of [
        ["toolRestore", `${agent} pull base.tar | tar -xf - -C ${join(work, "r-tool")}`, env],
        ["zstdRestore", `zstd -q -d < ${join(work, "base.tar.zst")} | tar -xf - -C ${join(work, "r-zstd")}`, {}],
      ] as const) {
        const dir = join(work, name === "toolRestore" ? "r-tool" : "r-zstd");
        rmSync(dir, { recursive: true, force: true });
        mkdirSync(dir);
        settle();
        runs[name]!.push(sh(cmd, extra).seconds);
      }
      console.log(`rep ${i + 1}/${reps}: ` + Object.entries(runs).map(([k, v]) => `${k} ${v[i]!.toFixed(2)}s`).join(", "));
    }
    const stored = JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { totalSize: number };
    const zstdSize = Number(execFileSync("stat", ["-c", "%s", join(work, "base.tar.zst")], { encoding: "utf8" }));
    const plainSize = Number(execFileSync("du", ["-sb", join(work, "plain")], { encoding: "utf8" }).split("\t")[0]);
    const m = Object.fromEntries(Object.entries(runs).map(([k, v]) => [k, median(v)])) as Record<keyof typeof runs, number>;
    const mib = (n: number): string => (n / 1048576).toFixed(0);
    const all = (k: string): string => runs[k]!.map((s) => s.toFixed(2)).join(", ");
    const report = [
      `PostgreSQL 15 filled by \`pgbench -i -s ${scale}\` (${mib(bytes)} MiB in databases; base backup ${mib(plainSize)} MiB), 2 shared cores, load ${loadavg().map((l) => l.toFixed(1)).join(" ")} at the end.`,
      `Method: ${reps} repetitions, median seconds; \`sync\` and a dropped page cache before each timed run. Stored: tool ${mib(stored.totalSize)} MiB, zstd ${mib(zstdSize)} MiB, plain ${mib(plainSize)} MiB.`,
      "",
      "| run | median s | all runs s |",
      "|---|---:|---|",
      `| postgres-basebackup tool: pg_basebackup -Ft -X fetch -D - \\| dp-agent push (zstd-3, AES-256-GCM, fsync) | ${m.tool.toFixed(2)} | ${all("tool")} |`,
      `| pg_basebackup -Ft -X fetch -D DIR (uncompressed) | ${m.plain.toFixed(2)} | ${all("plain")} |`,
      `| pg_basebackup -Ft -X fetch -D - \\| zstd -3 -T0 > FILE | ${m.zstd.toFixed(2)} | ${all("zstd")} |`,
      `| restore: dp-agent pull \\| tar -x | ${m.toolRestore.toFixed(2)} | ${all("toolRestore")} |`,
      `| restore: zstd -d \\| tar -x | ${m.zstdRestore.toFixed(2)} | ${all("zstdRestore")} |`,
      "",
      `Ratios (throughput, higher is better for the tool): backup vs plain pg_basebackup ${(m.plain / m.tool).toFixed(2)}x, vs pg_basebackup | zstd ${(m.zstd / m.tool).toFixed(2)}x; restore vs zstd -d | tar ${(m.zstdRestore / m.toolRestore).toFixed(2)}x. dp-agent peak RSS (with pg_basebackup) ${rss.toFixed(0)} MiB.`,
    ].join("\n");
    console.log(report);
    if (process.env.BENCH_WRITE_DOCS !== "0") writeDocs(report);
  } finally {
    server.kill("SIGINT");
    await new Promise((r) => server.once("exit", r));
    rmSync(work, { recursive: true, force: true });
  }
}

// Replace only the postgres section of docs/benchmarks.md; other sections belong to other suites.
function writeDocs(report: string): void {
  const file = join(repoRoot, "docs/benchmarks.md");
  const begin = "<!-- postgres:begin -->";
  const end = "<!-- postgres:end -->";
  const section = `${begin}\n## postgres\n\n\`npm run bench:postgres\` (\`BENCH_PG_SCALE=${scale}\`), ${new Date().toISOString().slice(0, 10)}.\n\n${report}\n${end}`;
  let doc = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, doc);
}

await main();
