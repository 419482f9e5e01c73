// What a pod sees on the local node: volumes, env, users, init containers, and the
// statuses and Events kubelet would give for the usual mistakes.
import { expect } from "chai";
import { CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { sharedCluster } from "../src/node/shared-cluster.ts";
import { containerTerminated, testNamespace, until } from "./node-helpers.ts";

const run = promisify(execFile);

describe("local node pods", function () {
  this.timeout(180_000);
  let core: CoreV1Api;
  let ns: { name: string; cleanup: () => Promise<void> };

  before(async () => {
    const { controlPlane } = await sharedCluster();
    core = controlPlane.kubeConfig.makeApiClient(CoreV1Api);
    ns = await testNamespace(controlPlane.kubeConfig, "node-pods");
  });
  after(async () => ns && (await ns.cleanup()));

  const create = (name: string, spec: V1Pod["spec"], labels?: Record<string, string>) =>
    core.createNamespacedPod({ namespace: ns.name, body: { metadata: { name, labels }, spec } });
  const read = (name: string) => core.readNamespacedPod({ name, namespace: ns.name });
  const terminated = (name: string, container = "main") =>
    until(`${name}/${container} terminated`, async () => containerTerminated(await read(name), container), 60_000);

  it("mounts secret, configMap (items, subPath), emptyDir and downwardAPI volumes and runs as the pod's user", async () => {
    await core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "creds" }, stringData: { password: "pw" } } });
    await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: "cfg" }, data: { "app.conf": "x=1", other: "y" } } });
    const script = "{ " + [
      "printf '%s|' \"$(id -u):$(id -g):$(id -G)\" \"$(cat /work/init-uid)\" \"$PASSWORD\" \"$(cat /etc/creds/password)\"",
      "printf '%s|' \"$(cat /etc/cfg/conf/app.conf)\" \"$(ls /etc/cfg)\" \"$(cat /etc/single.conf)\" \"$(cat /etc/podinfo/labels)\"",
      "printf '%s|' \"$(touch /etc/creds/x 2>/dev/null && echo rw || echo ro)\" \"$(pwd)\" \"$(stat -c %a:%g /etc/creds/password)\"",
    ].join("; ") + "; } > /dev/termination-log";
    await create("features", {
      restartPolicy: "Never",
      securityContext: { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000 },
      initContainers: [{ name: "init", image: "busybox", command: ["sh", "-c", "id -u > /work/init-uid"], securityContext: { runAsUser: 1001 }, volumeMounts: [{ name: "work", mountPath: "/work" }] }],
      containers: [{
        name: "main", image: "busybox", command: ["sh", "-c", script], workingDir: "/work",
        env: [{ name: "PASSWORD", valueFrom: { secretKeyRef: { name: "creds", key: "password" } } }],
        volumeMounts: [
          { name: "creds", mountPath: "/etc/creds", readOnly: true },
          { name: "cfg", mountPath: "/etc/cfg" },
          { name: "whole-cfg", mountPath: "/etc/single.conf", subPath: "app.conf" },
          { name: "work", mountPath: "/work" },
          { name: "podinfo", mountPath: "/etc/podinfo" },
        ],
      }],
      volumes: [
        { name: "creds", secret: { secretName: "creds", defaultMode: 0o440 } },
        { name: "cfg", configMap: { name: "cfg", items: [{ key: "app.conf", path: "conf/app.conf" }] } },
        { name: "whole-cfg", configMap: { name: "cfg" } },
        { name: "work", emptyDir: {} },
        { name: "podinfo", downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
      ],
    }, { app: "features" });
    const t = await terminated("features");
    expect(t.exitCode, t.message).to.equal(0);
    expect(t.message!.split("|").slice(0, -1)).to.deep.equal([
      "1000:3000:3000 2000", "1001", "pw", "pw", "x=1", "conf", "x=1", 'app="features"', "ro", "/work", "440:2000",
    ]);
    const pod = await read("features");
    expect(pod.status?.phase).to.equal("Succeeded");
    expect(pod.status?.initContainerStatuses?.[0].state?.terminated?.reason).to.equal("Completed");
  });

  it("fails a container without a command with ContainerCannotRun", async () => {
    await create("no-command", { restartPolicy: "Never", containers: [{ name: "main", image: "postgres:16" }] });
    const t = await terminated("no-command");
    expect(t.reason).to.equal("ContainerCannotRun");
    expect(t.message).to.contain("has no command");
    await until("no-command Failed", async () => ((await read("no-command")).status?.phase === "Failed" ? true : undefined));
  });

  it("uses the log tail as termination message with FallbackToLogsOnError", async () => {
    await create("fallback", {
      restartPolicy: "Never",
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "echo first; echo boom >&2; exit 7"], terminationMessagePolicy: "FallbackToLogsOnError" }],
    });
    const t = await terminated("fallback");
    expect(t).to.include({ exitCode: 7, reason: "Error", message: "first\nboom\n" });
  });

  it("waits with CreateContainerConfigError for a missing Secret and starts once it exists", async () => {
    await create("late-secret", {
      restartPolicy: "Never",
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", 'echo "$TOKEN" > /dev/termination-log'], env: [{ name: "TOKEN", valueFrom: { secretKeyRef: { name: "late", key: "token" } } }] }],
    });
    const waiting = await until("CreateContainerConfigError", async () => {
      const w = (await read("late-secret")).status?.containerStatuses?.[0]?.state?.waiting;
      return w?.reason === "CreateContainerConfigError" ? w : undefined;
    });
    expect(waiting.message).to.equal('secret "late" not found');
    expect((await read("late-secret")).status?.phase).to.equal("Pending");
    await core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "late" }, stringData: { token: "t0k" } } });
    const t = await terminated("late-secret");
    expect(t.message).to.equal("t0k\n");
  });

  it("reports a missing PVC with a FailedMount Event while the pod stays Pending", async () => {
    // The scheduler would hold the pod back (unknown claim), so bind it to the node directly.
    await create("no-claim", {
      nodeName: "local-node-0",
      containers: [{ name: "main", image: "busybox", command: ["true"], volumeMounts: [{ name: "d", mountPath: "/data" }] }],
      volumes: [{ name: "d", persistentVolumeClaim: { claimName: "absent" } }],
    });
    const ev = await until("FailedMount event", async () => {
      const evs = await core.listNamespacedEvent({ namespace: ns.name, fieldSelector: "involvedObject.name=no-claim" });
      return evs.items.find((e) => e.reason === "FailedMount");
    }, 60_000);
    expect(ev.message).to.contain('persistentvolumeclaim "absent" not found');
    // The node writes the Event and the pod's status separately, in the background: poll the status.
    const pod = await until("no-claim Pending with its container waiting", async () => {
      const p = await read("no-claim");
      if (p.status?.containerStatuses?.[0]?.state?.waiting) return p;
      throw new Error(`status ${JSON.stringify(p.status?.phase)} ${JSON.stringify(p.status?.containerStatuses)}`);
    }, 60_000);
    expect(pod.status?.phase).to.equal("Pending");
    expect(pod.status?.containerStatuses?.[0].state?.waiting?.reason).to.equal("ContainerCreating");
  });

  it("restarts a crashing container under restartPolicy OnFailure until it succeeds", async () => {
    await create("flaky", {
      restartPolicy: "OnFailure",
      containers: [{
        name: "main", image: "busybox", volumeMounts: [{ name: "w", mountPath: "/w" }],
        command: ["sh", "-c", "n=$(cat /w/n 2>/dev/null || echo 0); echo $((n+1)) > /w/n; [ $n -ge 1 ]"],
      }],
      volumes: [{ name: "w", emptyDir: {} }],
    });
    await until("flaky Succeeded", async () => ((await read("flaky")).status?.phase === "Succeeded" ? true : undefined), 60_000);
    const cs = (await read("flaky")).status!.containerStatuses![0];
    expect(cs.restartCount).to.equal(1);
    expect(cs.lastState?.terminated?.exitCode).to.equal(1);
    expect(cs.state?.terminated?.exitCode).to.equal(0);
  });

  it("gives each container a private root: writes outside volumes never reach the host or another pod, and a restarted container starts clean", async () => {
    const tag = `dp-root-${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
    const paths = [`/var/tmp/${tag}`, `/backupdata/${tag}`];
    // It writes both (neither has a volume), sees them, and reads a host file: the host's files are there.
    await create("writer", {
      restartPolicy: "Never",
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", `set -e; mkdir -p /backupdata; for p in ${paths.join(" ")}; do echo x > $p; cat $p; done; test -s /etc/os-release; echo wrote`] }],
    });
    expect(containerTerminated((await until("writer done", async () => ((await read("writer")).status?.phase === "Succeeded" ? read("writer") : undefined), 60_000)), "main")?.exitCode).to.equal(0);
    for (const p of paths) expect(existsSync(p), `${p} on the host`).to.equal(false);
    await create("reader", {
      restartPolicy: "Never",
      containers: [{ name: "main", image: "busybox", command: ["sh", "-c", `for p in ${paths.join(" ")}; do if [ -e $p ]; then echo "sees $p"; exit 1; fi; done; echo clean`] }],
    });
    await until("reader Succeeded", async () => ((await read("reader")).status?.phase === "Succeeded" ? true : undefined), 60_000);
    // A container restarted after a failure finds none of its first run's writes.
    await create("again", {
      restartPolicy: "OnFailure",
      volumes: [{ name: "w", emptyDir: {} }],
      containers: [{
        name: "main", image: "busybox", volumeMounts: [{ name: "w", mountPath: "/w" }],
        command: ["sh", "-c", `if [ -e /w/first ]; then [ ! -e /var/tmp/${tag}-run ]; else touch /w/first /var/tmp/${tag}-run; exit 1; fi`],
      }],
    });
    await until("again Succeeded on its second run", async () => ((await read("again")).status?.phase === "Succeeded" ? true : undefined), 60_000);
    expect((await read("again")).status!.containerStatuses![0]!.restartCount).to.equal(1);
    expect(existsSync(`/var/tmp/${tag}-run`)).to.equal(false);
  });

  it("serves container logs to kubectl through the API server", async () => {
    const { controlPlane } = await sharedCluster();
    await create("talker", { restartPolicy: "Never", containers: [{ name: "main", image: "busybox", command: ["sh", "-c", "echo one; echo two >&2; echo three"] }] });
    await terminated("talker");
    const all = await core.readNamespacedPodLog({ name: "talker", namespace: ns.name, container: "main" });
    expect(all).to.equal("one\ntwo\nthree\n");
    const { stdout } = await run(join(controlPlane.binDir, "kubectl"), ["--kubeconfig", controlPlane.kubeconfigPath, "logs", "-n", ns.name, "talker", "--tail=2"]);
    expect(stdout).to.equal("two\nthree\n");
  });

  it("holds Ready until the readiness probe passes and restarts a container whose liveness probe fails", async () => {
    await create("probed", {
      containers: [
        {
          // Not ready for 10 s: long enough that the first status showing it running (written in
          // the background, late on a busy machine) still comes before the probe passes.
          name: "main", image: "busybox", command: ["sh", "-c", "sleep 10; touch /w/ready; exec sleep 1000"],
          volumeMounts: [{ name: "w", mountPath: "/w" }],
          readinessProbe: { exec: { command: ["test", "-f", "/w/ready"] }, periodSeconds: 1 },
        },
        {
          name: "dies", image: "busybox", command: ["sleep", "1000"],
          livenessProbe: { tcpSocket: { port: 1 }, periodSeconds: 1, failureThreshold: 2 },
        },
      ],
      terminationGracePeriodSeconds: 1,
      volumes: [{ name: "w", emptyDir: {} }],
    });
    const early = await until("probed running", async () => {
      const p = await read("probed");
      return p.status?.containerStatuses?.find((c) => c.name === "main")?.state?.running ? p : undefined;
    });
    expect(early.status?.containerStatuses?.find((c) => c.name === "main")?.ready).to.equal(false);
    await until("main ready", async () =>
      (await read("probed")).status?.containerStatuses?.find((c) => c.name === "main")?.ready ? true : undefined, 60_000);
    await until("dies restarted", async () =>
      ((await read("probed")).status?.containerStatuses?.find((c) => c.name === "dies")?.restartCount ?? 0) >= 1 ? true : undefined, 60_000);
    // The node writes the Unhealthy Event in the background, next to the restart: poll for it.
    const reasons = await until("an Unhealthy Event about probed", async () => {
      const evs = await core.listNamespacedEvent({ namespace: ns.name, fieldSelector: "involvedObject.name=probed" });
      const r = evs.items.map((e) => e.reason);
      if (r.includes("Unhealthy")) return r;
      throw new Error(`Events seen: ${r.join(", ")}`);
    }, 60_000);
    expect(reasons).to.include("Unhealthy");
  });
});
