import { spawn, type ChildProcess } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "chai";
import { sharedControlPlane } from "@dataprotection/testenv";
import { Kinds, KubeClient, Manager, type GenericObject, type KubeObject } from "../src/index.ts";
import { memoryLogger, testNamespace, waitFor } from "./helpers.ts";
import { MirrorReconciler, ParentLabel } from "./mirror.ts";

const fixture = join(dirname(fileURLToPath(import.meta.url)), "fixtures", "manager-process.ts");
const lease = { leaseDurationMs: 10_000, renewDeadlineMs: 7_000, retryPeriodMs: 500 };

interface LogLine {
  level: string;
  message: string;
  timestamp: string;
  [k: string]: unknown;
}

/** A manager child process whose stdout must be JSON lines only. */
class ManagerProcess {
  readonly logs: Array<LogLine & { at: number }> = [];
  readonly badLines: string[] = [];
  readonly proc: ChildProcess;
  exitCode?: number | null;
  readonly exited: Promise<number | null>;

  constructor(identity: string, kubeconfig: string, namespace: string) {
    this.proc = spawn(process.execPath, ["--import", "tsx", fixture], {
      env: { ...process.env, KUBECONFIG: kubeconfig, NAMESPACE: namespace, IDENTITY: identity, LEASE_MS: String(lease.leaseDurationMs), RENEW_MS: String(lease.renewDeadlineMs), RETRY_MS: String(lease.retryPeriodMs) },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let buf = "";
    this.proc.stdout!.on("data", (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          this.logs.push({ ...(JSON.parse(line) as LogLine), at: Date.now() });
        } catch {
          this.badLines.push(line);
        }
      }
    });
    this.exited = new Promise((r) => this.proc.on("exit", (code) => r((this.exitCode = code))));
  }

  has(message: string, extra: (l: LogLine) => boolean = () => true): boolean {
    return this.logs.some((l) => l.message === message && extra(l));
  }

  firstAt(message: string): number | undefined {
    return this.logs.find((l) => l.message === message)?.at;
  }

  reconciled(name: string): boolean {
    return this.has("reconciled", (l) => l.name === name);
  }
}

async function parent(client: KubeClient, ns: string, name: string): Promise<void> {
  await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name, namespace: ns, labels: ParentLabel }, data: { v: "1" } });
}

describe("runtime: leader election", function () {
  this.timeout(180_000);

  it("separate processes: only the leader reconciles; SIGKILL -> takeover after the lease expires; SIGTERM -> takeover at once", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-leader");
    const procs: ManagerProcess[] = [];
    const start = (id: string): ManagerProcess => {
      const p = new ManagerProcess(id, cp.kubeconfigPath, ns.name);
      procs.push(p);
      return p;
    };
    try {
      const a = start("a");
      await waitFor("a leads", () => a.has("became leader"), 60_000);
      const b = start("b");
      await waitFor("b waits", () => b.has("waiting for leadership"), 60_000);
      await parent(client, ns.name, "one");
      await waitFor("leader reconciles", () => a.reconciled("one"));
      await new Promise((r) => setTimeout(r, 1500));
      expect(b.has("reconciled"), "the standby reconciled").to.equal(false);

      const killedAt = Date.now();
      a.proc.kill("SIGKILL");
      await waitFor("b takes over", () => b.has("became leader"), 30_000);
      const killTakeover = b.firstAt("became leader")! - killedAt;
      // The earliest an expired lease can be taken: its last renewal may predate the kill by a retry period.
      const earliestExpiry = lease.leaseDurationMs - 2 * lease.retryPeriodMs - 500;
      expect(killTakeover, "not before the lease expired").to.be.at.least(earliestExpiry);
      // Slack for a busy machine: the takeover's lease write and its log line can each take seconds.
      expect(killTakeover, "within the lease duration (+ one retry and scheduling slack)").to.be.at.most(lease.leaseDurationMs + 2 * lease.retryPeriodMs + 5000);
      await parent(client, ns.name, "two");
      await waitFor("new leader reconciles", () => b.reconciled("two"));

      const c = start("c");
      await waitFor("c waits", () => c.has("waiting for leadership"), 60_000);
      const termAt = Date.now();
      b.proc.kill("SIGTERM");
      expect(await b.exited, "exit code after SIGTERM").to.equal(0);
      expect(b.has("released lease")).to.equal(true);
      await waitFor("c takes over", () => c.has("became leader"), 30_000);
      const termTakeover = c.firstAt("became leader")! - termAt;
      // termTakeover includes b's graceful shutdown (seconds of API calls on a busy machine): bound
      // it by the earliest moment an unreleased lease could have expired, which still proves c did
      // not wait for expiry.
      expect(termTakeover, "released lease: no wait for expiry").to.be.below(earliestExpiry);
      await parent(client, ns.name, "three");
      await waitFor("c reconciles", () => c.reconciled("three"));
      console.log(`      takeover after SIGKILL ${killTakeover} ms, after SIGTERM ${termTakeover} ms (lease ${lease.leaseDurationMs} ms)`);
      for (const p of procs) expect(p.badLines, "non-JSON log lines").to.deep.equal([]);
      for (const p of procs) for (const l of p.logs.filter((x) => x.message === "reconciled")) expect(l).to.include.keys("controller", "kind", "namespace", "name", "reconcileID");
    } finally {
      for (const p of procs) if (p.exitCode === undefined) p.proc.kill("SIGKILL");
      await Promise.all(procs.map((p) => p.exited));
      await ns.remove();
    }
  });

  it("two managers in one process: only the leader reconciles; a leader whose lease is taken stops at once", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-leader2");
    const le = { leaseName: "in-process", namespace: ns.name, leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200 };
    const make = (identity: string): { mgr: Manager; r: MirrorReconciler } => {
      const mgr = new Manager({ kubeConfig: cp.kubeConfig, namespace: ns.name, logger: memoryLogger().logger, leaderElection: { ...le, identity } });
      const r = new MirrorReconciler();
      mgr.controller("mirror").for(Kinds.ConfigMap).reconciler(r);
      return { mgr, r };
    };
    const one = make("one");
    const two = make("two");
    try {
      await one.mgr.start();
      await waitFor("one leads", () => one.mgr.isLeader);
      await two.mgr.start();
      await parent(client, ns.name, "p1");
      await waitFor("leader reconciles p1", () => one.r.lastSeen.has(`${ns.name}/p1`));
      await new Promise((r) => setTimeout(r, 800));
      expect(two.r.reconciles, "standby reconciles").to.equal(0);
      expect(two.mgr.isLeader).to.equal(false);

      // Someone else writes the lease: the leader must notice on its next renew and stop.
      const l = await client.get<KubeObject & { spec: Record<string, unknown> }>(Kinds.Lease, "in-process", ns.name);
      l.spec = { ...l.spec, holderIdentity: "thief", leaseDurationSeconds: 3600, renewTime: new Date().toISOString().replace("Z", "000Z") };
      await client.replace(Kinds.Lease, l);
      // "At once" is its next renew (every 200 ms); the bound only covers a slow API server.
      await waitFor("one steps down", () => !one.mgr.isLeader, 30_000, 20);
      const seen = one.r.reconciles;
      await parent(client, ns.name, "p2");
      await new Promise((r) => setTimeout(r, 1000));
      expect(one.r.reconciles, "reconciles after losing the lease").to.equal(seen);
      expect(two.r.reconciles).to.equal(0);

      // Give it back (expired) and stop one gracefully: two takes over and catches up.
      await client.delete(Kinds.Lease, "in-process", ns.name);
      await waitFor("someone leads", () => one.mgr.isLeader || two.mgr.isLeader, 60_000);
      const [leader, standby] = one.mgr.isLeader ? [one, two] : [two, one];
      await leader.mgr.stop();
      await waitFor("standby takes over", () => standby.mgr.isLeader, 60_000);
      await waitFor("standby reconciles p2", () => standby.r.lastSeen.get(`${ns.name}/p2`) === "1");
    } finally {
      await one.mgr.stop();
      await two.mgr.stop();
      await ns.remove();
    }
  });
});
