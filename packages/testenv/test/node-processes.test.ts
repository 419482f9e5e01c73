// Container processes end with their pods, and a stopped node leaves none behind.
import { expect } from "chai";
import { CoreV1Api } from "@kubernetes/client-node";
import { sharedCluster } from "../src/node/shared-cluster.ts";
import { startLocalNode } from "../src/node/start.ts";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { processAlive } from "../src/node/processes.ts";
import { testNamespace, until } from "./node-helpers.ts";

// Commands use $$$$: kubelet's $(VAR) expansion turns $$ into $, so the shell sees $$.
describe("local node processes", function () {
  this.timeout(180_000);

  it("ends a pod's processes when its namespace is deleted", async () => {
    const { controlPlane, node } = await sharedCluster();
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await testNamespace(controlPlane.kubeConfig, "node-nsdel");
    let cleaned = false;
    try {
      await core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: "sleeper" },
          spec: {
            terminationGracePeriodSeconds: 5,
            containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "sleep 1000 & echo $$$$ $!; wait"] }],
          },
        },
      });
      const pids = await until("sleeper pids in its log", async () => {
        const m = /^(\d+) (\d+)$/m.exec(await node.logs(ns.name, "sleeper", "main").catch(() => ""));
        return m ? [Number(m[1]), Number(m[2])] : undefined;
      }, 60_000);
      for (const pid of pids) expect(processAlive(pid), `pid ${pid} alive`).to.equal(true);
      expect(node.pids()).to.include(pids[0]);
      // The log line comes straight from the process; the Running/Ready status is written by the
      // node in the background and can trail it on a busy machine.
      const running = await until("sleeper Running and Ready", async () => {
        const p = await core.readNamespacedPod({ name: "sleeper", namespace: ns.name });
        if (p.status?.phase === "Running" && p.status.conditions?.find((c) => c.type === "Ready")?.status === "True") return p;
        throw new Error(`phase ${p.status?.phase}, conditions ${JSON.stringify(p.status?.conditions?.map((c) => `${c.type}=${c.status}`))}`);
      }, 60_000);
      expect(running.status?.phase).to.equal("Running");
      expect(running.status?.conditions?.find((c) => c.type === "Ready")?.status).to.equal("True");
      expect(running.status?.podIP).to.equal("127.0.0.1");

      await ns.cleanup(); // waits until the namespace (and so the pod) is gone
      cleaned = true;
      for (const pid of pids) expect(processAlive(pid), `pid ${pid} alive`).to.equal(false);
      expect(node.pids()).to.not.include(pids[0]);
    } finally {
      if (!cleaned) await ns.cleanup();
    }
  });

  it("ends a container's background children when its first process exits, before the container restarts", async () => {
    const { controlPlane, node } = await sharedCluster();
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await testNamespace(controlPlane.kubeConfig, "node-orphan");
    try {
      // The shell starts a child and fails: on a real node the child dies with the container's PID namespace.
      await core.createNamespacedPod({
        namespace: ns.name,
        body: { metadata: { name: "leaver" }, spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "sleep 1000 & echo $$$$ $!; sleep 1; exit 3"] }] } },
      });
      const pids = await until("leaver pids in its log", async () => {
        const m = /^(\d+) (\d+)$/m.exec(await node.logs(ns.name, "leaver", "main").catch(() => ""));
        return m ? [Number(m[1]), Number(m[2])] : undefined;
      }, 60_000);
      const pod = await until("leaver Failed", async () => {
        const p = await core.readNamespacedPod({ name: "leaver", namespace: ns.name });
        return p.status?.phase === "Failed" ? p : undefined;
      }, 60_000);
      expect(pod.status?.containerStatuses?.[0].state?.terminated?.exitCode).to.equal(3);
      for (const pid of pids) expect(processAlive(pid), `pid ${pid} alive after its container ended`).to.equal(false);
    } finally {
      await ns.cleanup();
    }
  });

  it("a SIGKILLed test process leaves nothing: its pods' processes end within seconds and the port is free; a node started later kills what a killed watchdog left", async () => {
    const { controlPlane } = await sharedCluster();
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await testNamespace(controlPlane.kubeConfig, "node-reap");
    const dir = await mkdtemp(join(tmpdir(), "node-reap-"));
    const info = join(dir, "control-plane.json");
    await writeFile(info, JSON.stringify({ kubeconfigPath: controlPlane.kubeconfigPath, server: controlPlane.server, caPem: controlPlane.caPem }));
    const owners: ChildProcess[] = [];
    const nodes = ["local-node-reap-a", "local-node-reap-b"];
    /** A child process running node `name` with one pod listening on a port; its pids once listening. */
    const ownerWithListener = async (name: string) => {
      const owner = spawn(process.execPath, ["--import", "tsx", join(fixtures, "node-owner.ts"), info, name], { stdio: ["ignore", "pipe", "inherit"] });
      owners.push(owner);
      let out = "";
      owner.stdout!.on("data", (d: Buffer) => (out += d.toString()));
      const started = await until(`${name}'s owner process started`, async () => (out.includes("\n") ? (JSON.parse(out.split("\n")[0]!) as { pid: number; watchdog: number }) : undefined), 60_000);
      const port = await freePort();
      const pidFile = join(dir, `${name}.pids`);
      await core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name },
          spec: {
            nodeName: name,
            volumes: [{ name: "out", hostPath: { path: dir } }],
            containers: [{
              name: "main", image: "python", volumeMounts: [{ name: "out", mountPath: "/out" }],
              command: ["sh", "-c", `python3 -m http.server --bind 127.0.0.1 ${port} & echo $$$$ $! > /out/${name}.pids; wait`],
            }],
          },
        },
      });
      const pids = await until(`${name}'s pod listening on ${port}`, async () => {
        const m = /^(\d+) (\d+)$/m.exec(await readFile(pidFile, "utf8").catch(() => ""));
        return m && (await listening(port)) ? [Number(m[1]), Number(m[2])] : undefined;
      }, 60_000);
      return { ...started, port, pids };
    };
    try {
      // 1. The owner is SIGKILLed: its watchdog kills the pod's processes, the port is free.
      const a = await ownerWithListener(nodes[0]!);
      for (const pid of a.pids) expect(processAlive(pid), `pid ${pid} alive`).to.equal(true);
      process.kill(a.pid, "SIGKILL");
      await until("the killed owner's pod processes gone and its port free", async () => (a.pids.every((p) => !processAlive(p)) && !(await listening(a.port)) ? true : undefined), 10_000, 200);
      expect(await canBind(a.port), `port ${a.port} free`).to.equal(true);

      // 2. Owner and watchdog SIGKILLed (kill -9 of a whole tree): the pod's processes stay until a node starts.
      const b = await ownerWithListener(nodes[1]!);
      process.kill(b.watchdog, "SIGKILL");
      process.kill(b.pid, "SIGKILL");
      await new Promise((r) => setTimeout(r, 2_000));
      for (const pid of b.pids) expect(processAlive(pid), `pid ${pid} left behind with no watchdog`).to.equal(true);
      const later = await startLocalNode(controlPlane, { name: "local-node-reap-c", storage: false });
      await later.stop();
      for (const pid of b.pids) expect(processAlive(pid), `pid ${pid} after a node started`).to.equal(false);
      expect(await canBind(b.port), `port ${b.port} free`).to.equal(true);
    } finally {
      for (const o of owners) o.kill("SIGKILL");
      for (const name of nodes) {
        await core.deleteNamespacedPod({ name, namespace: ns.name, gracePeriodSeconds: 0 }).catch(() => undefined);
        await core.deleteNode({ name }).catch(() => undefined);
      }
      await ns.cleanup();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("leaves no process behind after stop(), even one that ignores SIGTERM", async () => {
    const { controlPlane } = await sharedCluster();
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const node = await startLocalNode(controlPlane, { name: "local-node-stop", storage: false });
    const ns = await testNamespace(controlPlane.kubeConfig, "node-stop");
    try {
      await core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: "stubborn" },
          spec: {
            nodeName: node.name,
            containers: [
              { name: "a", image: "busybox", command: ["sh", "-c", 'trap "" TERM; sleep 1000 & echo $$$$ $!; wait'] },
              { name: "b", image: "busybox", command: ["sleep", "1000"] },
            ],
          },
        },
      });
      const pids = await until("stubborn pids", async () => {
        const m = /^(\d+) (\d+)$/m.exec(await node.logs(ns.name, "stubborn", "a").catch(() => ""));
        return m && node.pids().length === 2 ? [Number(m[1]), Number(m[2]), ...node.pids()] : undefined;
      }, 60_000);
      for (const pid of pids) expect(processAlive(pid), `pid ${pid} alive`).to.equal(true);
      await node.stop();
      for (const pid of pids) expect(processAlive(pid), `pid ${pid} alive after stop`).to.equal(false);
      expect(node.pids()).to.deep.equal([]);
      const nodes = await core.listNode();
      expect(nodes.items.map((n) => n.metadata?.name)).to.not.include(node.name);
    } finally {
      await node.stop();
      // The pod is bound to a node that no longer exists: remove it directly.
      await core.deleteNamespacedPod({ name: "stubborn", namespace: ns.name, gracePeriodSeconds: 0 }).catch(() => undefined);
      await ns.cleanup();
    }
  });

  it("finishes a pod's status after the API server restarts mid-run", async () => {
    const { controlPlane } = await sharedCluster();
    const core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    const ns = await testNamespace(controlPlane.kubeConfig, "node-apirestart");
    try {
      await core.createNamespacedPod({
        namespace: ns.name,
        // Runs long enough that the test sees it Running (statuses are written in the background)
        // before restarting the API server.
        body: { metadata: { name: "short" }, spec: { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["sleep", "6"] }] } },
      });
      await until("short running", async () => ((await core.readNamespacedPod({ name: "short", namespace: ns.name })).status?.phase === "Running" ? true : undefined));
      await controlPlane.restartApiServer();
      const pod = await until("short Succeeded", async () => {
        const p = await core.readNamespacedPod({ name: "short", namespace: ns.name });
        return p.status?.phase === "Succeeded" ? p : undefined;
      }, 60_000);
      expect(pod.status?.containerStatuses?.[0].state?.terminated?.reason).to.equal("Completed");
    } finally {
      await ns.cleanup();
    }
  });
});

const fixtures = join(dirname(fileURLToPath(import.meta.url)), "fixtures");

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect({ host: "127.0.0.1", port }, () => { c.destroy(); resolve(true); });
    c.on("error", () => resolve(false));
  });
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once("error", () => resolve(false));
    srv.listen(port, "127.0.0.1", () => srv.close(() => resolve(true)));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}
