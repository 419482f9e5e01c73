// npm run bench:agent — dp-agent push-dir/pull-dir against tar|zstd and restic on the
// standard dataset, in one run. DP_BENCH_GIB (default 2) sets the dataset size.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../../..");
const agentBin = join(repoRoot, "packages/agent/bin/dp-agent");
const gib = Number(process.env.DP_BENCH_GIB ?? "2");
const work = process.env.DP_BENCH_DIR ?? "/tmp/dp-bench";
const data = join(work, `data-${gib}`);
const key = "5f".repeat(32);

interface Run {
  seconds: number;
  rssMiB: number;
}

function sh(cmd: string, env: Record<string, string> = {}): Run {
  // GNU time reports the largest resident set of any process in the pipeline.
  const r = spawnSync("/usr/bin/time", ["-f", "%e %M", "bash", "-o", "pipefail", "-c", cmd], {
    env: { ...process.env, ...env },
    encoding: "utf8",
    maxBuffer: 1 << 26,
  });
  const last = r.stderr.trim().split("\n").pop() ?? "";
  if (r.status !== 0) throw new Error(`bench step failed (${r.status}): ${cmd}\n${r.stderr}`);
  const [s, kb] = last.split(" ").map(Number);
  return { seconds: s, rssMiB: kb / 1024 };
}

function need(bin: string): void {
  if (spawnSync("sh", ["-c", `command -v ${bin}`]).status !== 0) throw new Error(`${bin} is missing: run npm run setup`);
}

function main(): void {
  ["zstd", "tar", "restic", "python3", "/usr/bin/time"].forEach(need);
  mkdirSync(work, { recursive: true });
  if (!existsSync(join(data, ".done"))) {
    rmSync(data, { recursive: true, force: true });
    execFileSync("python3", [join(repoRoot, "../shared/bench/make-dataset.py"), data, String(gib)], { stdio: "inherit" });
    writeFileSync(join(data, ".done"), "");
  }
  const bytes = Number(execFileSync("du", ["-sb", "--exclude=.done", data], { encoding: "utf8" }).split("\t")[0]);
  sh(`cat ${data}/*/* > /dev/null`); // warm the page cache for every contender alike
  const out = (n: string): string => {
    const p = join(work, n);
    rmSync(p, { recursive: true, force: true });
    return p;
  };
  const env = { DP_REPO_PATH: out("repo"), DP_BACKUP_PATH: "bench/b1", DP_ENCRYPTION_KEY: key, DP_COMPRESSION: "zstd", DP_COMPRESSION_LEVEL: "3", DP_TERMINATION_MESSAGE_PATH: join(work, "termination") };
  mkdirSync(env.DP_REPO_PATH, { recursive: true });

  const tarFile = join(work, "ref.tar.zst");
  const refPush = sh(`tar -cf - -C ${data} . | zstd -q -3 -T0 > ${tarFile}`);
  const refDst = out("ref-restore");
  mkdirSync(refDst);
  const refPull = sh(`zstd -q -d < ${tarFile} | tar -xf - -C ${refDst}`);

  const agentPush = sh(`${agentBin} push-dir ${data}`, env);
  const agentDst = out("agent-restore");
  const agentPull = sh(`${agentBin} pull-dir ${agentDst}`, env);
  sh(`diff -r ${data} ${agentDst} > /dev/null`);
  const stored = (JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { totalSize: number }).totalSize;

  const resticRepo = out("restic");
  const renv = { RESTIC_REPOSITORY: resticRepo, RESTIC_PASSWORD: "bench-password", RESTIC_CACHE_DIR: join(work, "restic-cache") };
  sh(`restic init --repository-version 2 -q`, renv);
  const restic = sh(`restic backup -q --compression auto ${data}`, renv);

  const mbs = (r: Run): number => bytes / 1048576 / r.seconds;
  const rows = [
    ["dp-agent push-dir (zstd-3, AES-256-GCM, fsync)", agentPush],
    ["tar -cf - DIR | zstd -3 -T0 > FILE", refPush],
    ["restic backup (repo v2, compression auto)", restic],
    ["dp-agent pull-dir", agentPull],
    ["zstd -d < FILE | tar -x", refPull],
  ] as const;
  const lines = [
    `Dataset: make-dataset.py ${gib} GiB (${(bytes / 1048576).toFixed(0)} MiB), page cache warm, ${process.env.DP_BENCH_NOTE ?? "2 shared cores"}.`,
    `Stored: dp-agent ${(stored / 1048576).toFixed(0)} MiB, tar|zstd ${(Number(execFileSync("stat", ["-c", "%s", tarFile], { encoding: "utf8" })) / 1048576).toFixed(0)} MiB.`,
    "",
    "| run | seconds | MiB/s | peak RSS MiB |",
    "|---|---:|---:|---:|",
    ...rows.map(([n, r]) => `| ${n.replace(/\|/g, "\\|")} | ${r.seconds.toFixed(2)} | ${mbs(r).toFixed(0)} | ${r.rssMiB.toFixed(0)} |`),
    "",
    `Ratios: push vs tar|zstd ${(refPush.seconds / agentPush.seconds).toFixed(2)}x (goal >= 0.9), ` +
      `push vs restic ${(restic.seconds / agentPush.seconds).toFixed(2)}x (goal >= 2), ` +
      `pull vs zstd -d|tar -x ${(refPull.seconds / agentPull.seconds).toFixed(2)}x (goal >= 0.9), ` +
      `dp-agent peak RSS ${Math.max(agentPush.rssMiB, agentPull.rssMiB).toFixed(0)} MiB (goal < 150).`,
  ];
  const report = lines.join("\n");
  console.log(report);
  if (process.env.DP_BENCH_WRITE_DOCS !== "0") writeDocs(report);
}

// Replace only the agent section of docs/benchmarks.md; other sections belong to other suites.
function writeDocs(report: string): void {
  const file = join(repoRoot, "docs/benchmarks.md");
  const begin = "<!-- agent:begin -->";
  const end = "<!-- agent:end -->";
  const section = `${begin}\n## agent\n\n\`npm run bench:agent\` (\`DP_BENCH_GIB=${gib}\`), ${new Date().toISOString().slice(0, 10)}.\n\n${report}\n${end}`;
  let doc = existsSync(file) ? readFileSync(file, "utf8") : "# Benchmarks\n";
  const i = doc.indexOf(begin);
  const j = doc.indexOf(end);
  doc = i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n${section}\n`;
  writeFileSync(file, doc);
}

main();
