// `npm run cluster`: the CLI brings up a usable cluster, prints `ready`, and a SIGTERM
// stops it with exit code 0 and no process left behind.
import { expect } from "chai";
import { execFile, spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { defaultBinDir } from "../src/controlplane/binaries.ts";
import { processAlive } from "../src/node/processes.ts";
import { until } from "./node-helpers.ts";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const run = promisify(execFile);

/** Every live descendant of `root`, from /proc. */
async function descendants(root: number): Promise<number[]> {
  const parent = new Map<number, number>();
  for (const d of await readdir("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const stat = await readFile(`/proc/${d}/stat`, "utf8").catch(() => "");
    const m = /\) \S (\d+)/.exec(stat);
    if (m) parent.set(Number(d), Number(m[1]));
  }
  const out: number[] = [];
  const walk = (p: number) => {
    for (const [pid, pp] of parent) if (pp === p) { out.push(pid); walk(pid); }
  };
  walk(root);
  return out;
}

describe("npm run cluster", function () {
  this.timeout(180_000);

  it("is wired to the testenv CLI", async () => {
    const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { scripts: Record<string, string> };
    expect(pkg.scripts.cluster).to.equal("tsx packages/testenv/src/cli.ts cluster");
  });

  it("serves a Ready local-node-0 to kubectl and stops cleanly on SIGTERM", async () => {
    const dir = await mkdtemp(join(tmpdir(), "dp-cluster-test-"));
    const kubeconfig = join(dir, "kubeconfig"); // not .dp/kubeconfig: a developer's own cluster may be using it
    const child = spawn(process.execPath, ["--import", "tsx", "packages/testenv/src/cli.ts", "cluster", "--kubeconfig", kubeconfig], {
      cwd: repoRoot, stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    const exited = new Promise<{ code: number | null; signal: string | null }>((r) => child.on("exit", (code, signal) => r({ code, signal })));
    let pids: number[] = [];
    try {
      await until("cluster ready", async () => {
        if (child.exitCode !== null) throw new Error(`cluster exited early:\n${out}`);
        return /^ready$/m.test(out) ? true : undefined;
      }, 150_000, 200).catch((err) => { throw new Error(`${String(err)}\n${out}`); });
      pids = await descendants(child.pid!);
      expect(pids.length).to.be.greaterThan(3); // etcd, kube-apiserver, controller-manager, scheduler
      const { stdout } = await run(join(defaultBinDir(), "kubectl"), ["--kubeconfig", kubeconfig, "get", "nodes", "--no-headers"]);
      expect(stdout).to.match(/^local-node-0\s+Ready\s/m);
    } finally {
      child.kill("SIGTERM");
      const { code, signal } = await exited;
      await rm(dir, { recursive: true, force: true });
      expect({ code, signal }, out).to.deep.equal({ code: 0, signal: null });
    }
    expect(out).to.match(/^stopped$/m);
    for (const pid of pids) expect(processAlive(pid), `pid ${pid} left running`).to.equal(false);
  });
});
