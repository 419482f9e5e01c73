// Several nodes: a three-node cluster (its own control plane, so the shared one keeps one node)
// spreads a StatefulSet with required anti-affinity over the three nodes, each claim provisioned
// on its pod's node (local-path-wffc, PV node affinity). One node stopped: it goes NotReady, its
// pod's process is gone, and the claim stays bound to that node; started again on its data, the
// pod runs there again with its data.
import { expect } from "chai";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AppsV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { startControlPlane } from "../src/controlplane/start.ts";
import { nodeName, startLocalNodes, zoneOf } from "../src/node/nodes.ts";
import { processAlive } from "../src/node/processes.ts";
import { startLocalNode } from "../src/node/start.ts";
import { WFFC_CLASS } from "../src/node/provision.ts";
import type { LocalNode } from "../src/node/types.ts";
import { until } from "./node-helpers.ts";

const pidOf = (p: V1Pod) => Number(/^local:\/\/(\d+)$/.exec(p.status?.containerStatuses?.[0]?.containerID ?? "")?.[1]);

describe("several local nodes", function () {
  this.timeout(300_000);

  it("spreads a StatefulSet with anti-affinity over three nodes with node-local claims; a stopped node goes NotReady, its pod's process ends, its claim stays; restarted, the pod runs there again with its data", async () => {
    // Node failure is noticed within seconds, not the default 50 s.
    const cp = await startControlPlane({ controllerManagerArgs: ["--node-monitor-grace-period=12s", "--node-monitor-period=2s"] });
    const dirs = await Promise.all([0, 1, 2].map(() => mkdtemp(join(tmpdir(), "multi-node-"))));
    let nodes: LocalNode[] = [];
    let restarted: LocalNode | undefined;
    try {
      nodes = await startLocalNodes(cp, 1, { deleteNodeOnStop: false, dataDir: dirs[0] });
      for (const i of [1, 2]) nodes.push(await startLocalNode(cp, { name: nodeName(i), zone: zoneOf(i), storage: false, deleteNodeOnStop: false, dataDir: dirs[i] }));
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      const zones = (await core.listNode()).items.map((n) => [n.metadata!.name, n.metadata!.labels?.["topology.kubernetes.io/zone"]]);
      expect(zones.sort()).to.deep.equal([[nodeName(0), "zone-a"], [nodeName(1), "zone-b"], [nodeName(2), "zone-c"]]);

      const labels = { app: "spread" };
      await cp.kubeConfig.makeApiClient(AppsV1Api).createNamespacedStatefulSet({ namespace: "default", body: {
        metadata: { name: "spread" },
        spec: {
          replicas: 3, serviceName: "spread", selector: { matchLabels: labels },
          template: {
            metadata: { labels },
            spec: {
              terminationGracePeriodSeconds: 1,
              affinity: { podAntiAffinity: { requiredDuringSchedulingIgnoredDuringExecution: [{ labelSelector: { matchLabels: labels }, topologyKey: "kubernetes.io/hostname" }] } },
              containers: [{
                name: "main", image: "busybox", env: [{ name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } }],
                command: ["sh", "-c", 'echo "$NODE" >> /data/where; exec sleep 3600'], volumeMounts: [{ name: "data", mountPath: "/data" }],
              }],
            },
          },
          volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { storageClassName: WFFC_CLASS, accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Mi" } } } }],
        },
      } });
      const running = await until("three spread pods running", async () => {
        const pods = (await core.listNamespacedPod({ namespace: "default", labelSelector: "app=spread" })).items;
        return pods.length === 3 && pods.every((p) => p.status?.phase === "Running" && pidOf(p) > 0) ? pods : undefined;
      }, 180_000, 500);
      expect(running.map((p) => p.spec?.nodeName).sort(), "one pod per node").to.deep.equal([nodeName(0), nodeName(1), nodeName(2)]);
      for (const p of running) {
        const pvc = await core.readNamespacedPersistentVolumeClaim({ name: `data-${p.metadata!.name}`, namespace: "default" });
        const pv = await core.readPersistentVolume({ name: pvc.spec!.volumeName! });
        expect(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values, `${p.metadata!.name}'s volume is local to its node`).to.deep.equal([p.spec!.nodeName]);
        expect(pv.spec?.hostPath?.path.startsWith(dirs[Number(p.spec!.nodeName!.slice(-1))]!)).to.equal(true);
      }

      // Node 2 stops (its process dies with its pods): NotReady, the pod's process gone, the claim kept.
      const victim = running.find((p) => p.spec?.nodeName === nodeName(2))!;
      const pid = pidOf(victim);
      await nodes[2]!.stop();
      expect(processAlive(pid), "the stopped node's pod process").to.equal(false);
      await until(`${nodeName(2)} NotReady`, async () => {
        const n = await core.readNode({ name: nodeName(2) });
        return n.status?.conditions?.find((c) => c.type === "Ready")?.status !== "True" ? true : undefined;
      }, 90_000, 500);
      const claim = await core.readNamespacedPersistentVolumeClaim({ name: `data-${victim.metadata!.name}`, namespace: "default" });
      expect(claim.status?.phase).to.equal("Bound");
      const pv = await core.readPersistentVolume({ name: claim.spec!.volumeName! });
      expect(pv.spec?.nodeAffinity?.required?.nodeSelectorTerms?.[0]?.matchExpressions?.[0]?.values).to.deep.equal([nodeName(2)]);

      // Started again on its data: Ready, and the pod runs there again with what it wrote.
      restarted = await startLocalNode(cp, { name: nodeName(2), zone: zoneOf(2), storage: false, deleteNodeOnStop: false, dataDir: dirs[2] });
      const again = await until("the pod running again on the restarted node", async () => {
        const p = await core.readNamespacedPod({ name: victim.metadata!.name!, namespace: "default" });
        return p.spec?.nodeName === nodeName(2) && p.status?.phase === "Running" && pidOf(p) > 0 && pidOf(p) !== pid && processAlive(pidOf(p)) ? p : undefined;
      }, 120_000, 500);
      expect(again.spec?.nodeName).to.equal(nodeName(2));
      const where = await until("the restarted pod's second line", async () => {
        const lines = (await readFile(join(pv.spec!.hostPath!.path, "where"), "utf8")).trim().split("\n");
        return lines.length >= 2 ? lines : undefined;
      }, 30_000, 500);
      expect(where.every((l) => l === nodeName(2)), "the data written before the stop is still there").to.equal(true);
    } finally {
      await restarted?.stop();
      for (const n of nodes) await n.stop();
      await cp.stop();
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    }
  });
});
