// npm run bench:agent — dp-agent push-dir/pull-dir against tar|zstd and restic on the
// standard dataset, in one run. DP_BENCH_GIB (default 2) sets the dataset size,
// DP_BENCH_REPS (default 3) the repetitions (the report gives medians).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { agentBin } from "../helpers.ts";
import { cacheDropped, median, settle } from "./settle.ts";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../../..");
// Importing the helpers builds the bundle when a source is newer: bin/dp-agent would otherwise
// run the TypeScript source through tsx (slower start, ~50 MiB more per thread).
const gib = Number(process.env.DP_BENCH_GIB ?? "2");
const work = process.env.DP_BENCH_DIR ?? "/tmp/dp-bench";
const data = join(work, `data-${gib}`);
const key = "5f".repeat(32);
const reps = Number(process.env.DP_BENCH_REPS ?? "3");

type Name = "agentPush" | "refPush" | "restic" | "agentPull" | "refPull" | "streamPush" | "streamPull";

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

const load = (): string => loadavg().map((l) => l.toFixed(1)).join(" ");

function main(): void {
  ["zstd", "tar", "restic", "python3", "/usr/bin/time"].forEach(need);
  mkdirSync(work, { recursive: true });
  if (!existsSync(join(data, ".done"))) {
    rmSync(data, { recursive: true, force: true });
    execFileSync("python3", [join(repoRoot, "../shared/bench/make-dataset.py"), data, String(gib)], { stdio: "inherit" });
    writeFileSync(join(data, ".done"), "");
  }
  const bytes = Number(execFileSync("du", ["-sb", "--exclude=.done", data], { encoding: "utf8" }).split("\t")[0]);
  const out = (n: string): string => {
    const p = join(work, n);
    rmSync(p, { recursive: true, force: true });
    return p;
  };
  const env = { DP_REPO_PATH: join(work, "repo"), DP_BACKUP_PATH: "bench/b1", DP_ENCRYPTION_KEY: key, DP_COMPRESSION: "zstd", DP_COMPRESSION_LEVEL: "3", DP_TERMINATION_MESSAGE_PATH: join(work, "termination") };
  const tarFile = join(work, "ref.tar.zst");
  const resticRepo = join(work, "restic");
  const renv = { RESTIC_REPOSITORY: resticRepo, RESTIC_PASSWORD: "bench-password", RESTIC_CACHE_DIR: join(work, "restic-cache") };
  const loadStart = load();
  const runs: Record<Name, Run[]> = { agentPush: [], refPush: [], restic: [], agentPull: [], refPull: [], streamPush: [], streamPull: [] };
  let stored = 0;
  for (let rep = 0; rep < reps; rep++) {
    // Alternate who goes first, so neither side always runs on the other's leftovers.
    const oursFirst = rep % 2 === 1;
    const pushes: [Name, () => Run][] = [
      ["refPush", () => (out("ref.tar.zst"), settle([data]), sh(`tar -cf - -C ${data} . | zstd -q -3 -T0 > ${tarFile}`))],
      ["agentPush", () => (out("repo"), mkdirSync(env.DP_REPO_PATH), settle([data]), sh(`${agentBin} push-dir ${data}`, env))],
    ];
    const pulls: [Name, () => Run][] = [
      ["refPull", () => (mkdirSync(out("ref-restore")), settle([tarFile]), sh(`zstd -q -d < ${tarFile} | tar -xf - -C ${join(work, "ref-restore")}`))],
      ["agentPull", () => (out("agent-restore"), settle([env.DP_REPO_PATH]), sh(`${agentBin} pull-dir ${join(work, "agent-restore")}`, env))],
    ];
    for (const [name, run] of oursFirst ? pushes.reverse() : pushes) runs[name].push(run());
    stored = (JSON.parse(readFileSync(env.DP_TERMINATION_MESSAGE_PATH, "utf8")) as { totalSize: number }).totalSize;
    for (const [name, run] of oursFirst ? pulls.reverse() : pulls) runs[name].push(run());
    if (rep === 0) sh(`diff -r ${data} ${join(work, "agent-restore")} > /dev/null`);
    // The stream commands a database tool pipes through (pg_dump | dp-agent push, dp-agent pull | psql).
    const senv = { ...env, DP_BACKUP_PATH: "bench/stream" };
    settle([data]);
    runs.streamPush.push(sh(`tar -cf - -C ${data} . | ${agentBin} push data.tar`, senv));
    mkdirSync(out("stream-restore"));
    settle([join(env.DP_REPO_PATH, "bench/stream")]);
    runs.streamPull.push(sh(`${agentBin} pull data.tar | tar -xf - -C ${join(work, "stream-restore")}`, senv));
    out("restic");
    sh(`restic init --repository-version 2 -q`, renv);
    settle([data]);
    runs.restic.push(sh(`restic backup -q --compression auto ${data}`, renv));
    console.log(`rep ${rep + 1}/${reps} (load ${load()}): ` + Object.entries(runs).map(([n, r]) => `${n} ${r[rep].seconds.toFixed(2)}s`).join(", "));
  }
  const loadEnd = load();
  const med = (n: Name): Run => ({ seconds: median(runs[n].map((r) => r.seconds)), rssMiB: Math.max(...runs[n].map((r) => r.rssMiB)) });
  const [agentPush, refPush, restic, agentPull, refPull, streamPush, streamPull] = (["agentPush", "refPush", "restic", "agentPull", "refPull", "streamPush", "streamPull"] as const).map(med);
  const mbs = (r: Run): number => bytes / 1048576 / r.seconds;
  const all = (n: Name): string => runs[n].map((r) => r.seconds.toFixed(2)).join(", ");
  const rows = [
    ["dp-agent push-dir (zstd-3, AES-256-GCM, fsync)", agentPush, "agentPush"],
    ["tar -cf - DIR | zstd -3 -T0 > FILE", refPush, "refPush"],
    ["restic backup (repo v2, compression auto)", restic, "restic"],
    ["dp-agent pull-dir", agentPull, "agentPull"],
    ["zstd -d < FILE | tar -x", refPull, "refPull"],
    ["tar -cf - DIR | dp-agent push (stdin)", streamPush, "streamPush"],
    ["dp-agent pull (stdout) | tar -x", streamPull, "streamPull"],
  ] as const;
  const lines = [
    `Dataset: make-dataset.py ${gib} GiB (${(bytes / 1048576).toFixed(0)} MiB), ${process.env.DP_BENCH_NOTE ?? "2 shared cores"}, load average ${loadStart} at start, ${loadEnd} at end (1/5/15 min).`,
    `Method: ${reps} repetitions, median seconds (peak RSS: the largest); before each timed run \`sync\`${cacheDropped() ? ", drop the page cache" : " (page cache not dropped: not root)"} and read that run's input once; who goes first alternates between repetitions.`,
    `Stored: dp-agent ${(stored / 1048576).toFixed(0)} MiB, tar|zstd ${(Number(execFileSync("stat", ["-c", "%s", tarFile], { encoding: "utf8" })) / 1048576).toFixed(0)} MiB.`,
    "",
    "| run | median s | MiB/s | peak RSS MiB | all runs s |",
    "|---|---:|---:|---:|---|",
    ...rows.map(([n, r, k]) => `| ${n.replace(/\|/g, "\\|")} | ${r.seconds.toFixed(2)} | ${mbs(r).toFixed(0)} | ${r.rssMiB.toFixed(0)} | ${all(k)} |`),
    "",
    `Ratios: push vs tar|zstd ${(refPush.seconds / agentPush.seconds).toFixed(2)}x (goal >= 0.9), ` +
      `push vs restic ${(restic.seconds / agentPush.seconds).toFixed(2)}x (goal >= 2), ` +
      `pull vs zstd -d|tar -x ${(refPull.seconds / agentPull.seconds).toFixed(2)}x (goal >= 0.9), ` +
      `dp-agent peak RSS ${Math.max(agentPush.rssMiB, agentPull.rssMiB, streamPush.rssMiB, streamPull.rssMiB).toFixed(0)} MiB over push-dir, pull-dir, push and pull (goal < 150).`,
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
