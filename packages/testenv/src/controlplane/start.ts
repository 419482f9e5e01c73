import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { ControlPlane, ControlPlaneOptions } from "../types.ts";
import { checkBinaries, defaultBinDir } from "./binaries.ts";
import { generatePki } from "./certs.ts";
import { adminKubeconfigYaml } from "./kubeconfig.ts";
import { freePort } from "./ports.ts";
import { ManagedProcess } from "./process.ts";
import { httpsGet, waitFor, type TlsClient } from "./readiness.ts";

const STARTUP_TIMEOUT_MS = 90_000;

/**
 * Starts etcd, kube-apiserver (RBAC, ServiceAccount admission, SA token signing),
 * kube-controller-manager and kube-scheduler on free loopback ports.
 */
export async function startControlPlane(opts: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const binDir = opts.binDir ?? defaultBinDir();
  checkBinaries(binDir);
  const ownsDir = !opts.dir;
  const dir = opts.dir ?? (await mkdtemp(join(tmpdir(), "dp-testenv-")));
  const logs = join(dir, "logs");
  await mkdir(logs, { recursive: true });
  const pki = await generatePki(join(dir, "certs"));
  const [caPem, adminCert, adminKey] = await Promise.all([
    readFile(pki.caCert, "utf8"), readFile(pki.adminCert, "utf8"), readFile(pki.adminKey, "utf8"),
  ]);
  const tls: TlsClient = { ca: caPem, cert: adminCert, key: adminKey };
  const bin = (name: string) => join(binDir, name);
  const verbose = !!opts.verbose;
  const procs: ManagedProcess[] = [];

  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const server = `https://127.0.0.1:${apiPort}`;

  const etcdProcess = () => new ManagedProcess("etcd", bin("etcd"), [
    "--name=testenv", `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`, `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=testenv=http://127.0.0.1:${peerPort}`,
    "--unsafe-no-fsync=true", "--quota-backend-bytes=4294967296", "--log-level=warn",
  ], join(logs, "etcd.log"), verbose);
  let etcd = etcdProcess();

  const apiArgs = [
    `--etcd-servers=${etcdUrl}`, `--secure-port=${apiPort}`, "--bind-address=127.0.0.1",
    "--advertise-address=127.0.0.1", `--cert-dir=${join(dir, "certs")}`,
    `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`,
    `--client-ca-file=${pki.caCert}`, "--service-cluster-ip-range=10.0.0.0/24",
    "--allow-privileged=true", "--authorization-mode=RBAC",
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.saPub}`, `--service-account-signing-key-file=${pki.saKey}`,
    "--profiling=false", "--event-ttl=1h", "--v=1",
  ];
  let auditLogPath: string | undefined;
  if (opts.auditPolicy) {
    // JSON is YAML: kube-apiserver reads the policy file either way.
    const policyFile = join(dir, "audit-policy.json");
    await writeFile(policyFile, JSON.stringify(opts.auditPolicy));
    auditLogPath = join(logs, "audit.log");
    apiArgs.push(`--audit-policy-file=${policyFile}`, `--audit-log-path=${auditLogPath}`, "--audit-log-format=json", "--audit-log-mode=blocking");
  }
  const apiserver = () => new ManagedProcess("kube-apiserver", bin("kube-apiserver"), apiArgs, join(logs, "kube-apiserver.log"), verbose);
  let api = apiserver();

  const kubeconfigYaml = adminKubeconfigYaml(server, caPem, adminCert, adminKey);
  const kubeconfigPath = join(dir, "admin.kubeconfig");
  await writeFile(kubeconfigPath, kubeconfigYaml, { mode: 0o600 });
  if (opts.kubeconfigPath) {
    await mkdir(dirname(opts.kubeconfigPath), { recursive: true });
    await writeFile(opts.kubeconfigPath, kubeconfigYaml, { mode: 0o600 });
  }

  const waitApiReady = () =>
    waitFor("kube-apiserver /readyz", async () => {
      if (!api.running) throw new Error(`kube-apiserver exited; see ${join(logs, "kube-apiserver.log")}`);
      return (await httpsGet(`${server}/readyz`, tls)).status === 200;
    }, STARTUP_TIMEOUT_MS);

  const waitEtcdHealthy = () =>
    waitFor("etcd /health", async () => {
      if (!etcd.running) throw new Error(`etcd exited; see ${join(logs, "etcd.log")}`);
      const res = await fetch(`${etcdUrl}/health`);
      return res.ok;
    }, STARTUP_TIMEOUT_MS);

  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    // Clients first (in parallel), then the API server, etcd last.
    await Promise.all(procs.map((p) => p.stop()));
    await api.stop();
    await etcd.stop();
    if (ownsDir) await rm(dir, { recursive: true, force: true });
  };

  try {
    etcd.start();
    await waitEtcdHealthy();
    api.start();
    await waitApiReady();

    if (opts.controllerManager !== false) {
      const kcm = new ManagedProcess("kube-controller-manager", bin("kube-controller-manager"), [
        `--kubeconfig=${kubeconfigPath}`, "--leader-elect=false", "--secure-port=0",
        `--service-account-private-key-file=${pki.saKey}`, `--root-ca-file=${pki.caCert}`,
        "--use-service-account-credentials=true", "--controllers=*",
        `--cluster-signing-cert-file=${pki.caCert}`, `--cluster-signing-key-file=${pki.caKey}`,
        "--concurrent-job-syncs=10", "--v=1", ...(opts.controllerManagerArgs ?? []),
      ], join(logs, "kube-controller-manager.log"), verbose);
      procs.push(kcm);
      kcm.start();
    }
    if (opts.scheduler !== false) {
      const sched = new ManagedProcess("kube-scheduler", bin("kube-scheduler"), [
        `--kubeconfig=${kubeconfigPath}`, "--leader-elect=false", "--secure-port=0", "--v=1",
        // A second net under the node's claim touch (node/requeue.ts): a parked pod is retried
        // within ~50 s (the queue flushes every 30 s), not the default 5 minutes.
        "--pod-max-in-unschedulable-pods-duration=20s",
      ], join(logs, "kube-scheduler.log"), verbose);
      procs.push(sched);
      sched.start();
    }

    const kubeConfig = new KubeConfig();
    kubeConfig.loadFromString(kubeconfigYaml);
    if (opts.controllerManager !== false) {
      // Pods cannot be created before the service-account controller made `default`.
      const core = kubeConfig.makeApiClient(CoreV1Api);
      await waitFor("ServiceAccount default/default", async () => {
        await core.readNamespacedServiceAccount({ name: "default", namespace: "default" });
        return true;
      }, STARTUP_TIMEOUT_MS);
    }

    return {
      kubeConfig, kubeconfigPath, server, dir, binDir, caPem, etcdUrl, auditLogPath,
      async restartApiServer() {
        await api.kill();
        api = apiserver();
        api.start();
        await waitApiReady();
      },
      async restartEtcd() {
        await etcd.kill();
        etcd = etcdProcess();
        etcd.start();
        await waitEtcdHealthy();
        await waitApiReady();
      },
      async compactEtcd() {
        const range = await fetch(`${etcdUrl}/v3/kv/range`, {
          method: "POST", body: JSON.stringify({ key: Buffer.from("/").toString("base64") }),
        });
        const { header } = (await range.json()) as { header: { revision: string } };
        const res = await fetch(`${etcdUrl}/v3/kv/compaction`, {
          method: "POST", body: JSON.stringify({ revision: header.revision, physical: true }),
        });
        if (!res.ok) throw new Error(`etcd compaction failed: ${res.status} ${await res.text()}`);
      },
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}
