// The local node: registers a Node, runs the pods bound to it as processes, provisions
// local-path PVs and emulates CSI snapshots. Level-based: every sync re-lists.
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { cpus, tmpdir, totalmem } from "node:os";
import { join } from "node:path";
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, StorageV1Api, type V1Pod } from "@kubernetes/client-node";
import type { ControlPlane } from "../types.ts";
import { installCrds } from "../crds.ts";
import { kubernetesVersion } from "../controlplane/binaries.ts";
import { snapshotCrds } from "../snapshot/crds.ts";
import { SnapshotController } from "../snapshot/controller.ts";
import type { NodeContext } from "./context.ts";
import { errorMessage, isNotFound } from "./errors.ts";
import { EventRecorder } from "./events.ts";
import { NodeHeartbeat } from "./heartbeat.ts";
import { Resync, WatchKicker } from "./kicker.ts";
import { startKubeletServer } from "./kubelet-server.ts";
import { findLogFile } from "./logs.ts";
import { nodeCapacity, type NodeShape } from "./node-object.ts";
import { PodWorker } from "./pod-worker.ts";
import { ProcessTable } from "./processes.ts";
import { reapOrphans, releaseWatchdog, startWatchdog } from "./reaper.ts";
import { LocalPathProvisioner } from "./provisioner.ts";
import type { LocalNode, LocalNodeOptions } from "./types.ts";


/** How long stop() lets containers handle SIGTERM. */
const STOP_GRACE_SECONDS = 2;

/** Waits for `p`, but at most `ms`. */
async function bounded(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([p, new Promise((r) => (timer = setTimeout(r, ms)))]);
  clearTimeout(timer);
}

function graceOf(pod: V1Pod): number {
  return pod.metadata?.deletionGracePeriodSeconds ?? pod.spec?.terminationGracePeriodSeconds ?? 30;
}

export async function startLocalNode(cp: ControlPlane, opts: LocalNodeOptions = {}): Promise<LocalNode> {
  const name = opts.name ?? "local-node-0";
  const ownsDir = !opts.dataDir;
  const dataDir = opts.dataDir ?? (await mkdtemp(join(tmpdir(), "dp-node-")));
  const log = opts.log ?? (() => undefined);
  // What an earlier, killed run left (its owner gone) goes first; what this run starts ends with it.
  const reaped = await reapOrphans();
  if (reaped.length) console.error(`[${name}] killed ${reaped.length} process(es) left by a run that was itself killed: ${reaped.join(" ")}`);
  startWatchdog();
  const kc = cp.kubeConfig;
  const core = kc.makeApiClient(CoreV1Api);
  const workers = new Map<string, PodWorker>();
  const kubelet = await startKubeletServer({
    dataDir, nodeName: name,
    running: (ns, pod, container) => [...workers.values()].some((w) => w.namespace === ns && w.name === pod && w.isRunning(container)),
  });
  const shape: NodeShape = {
    name, ip: "127.0.0.1", cpus: cpus().length, memoryBytes: totalmem(), pods: 110,
    kubeletVersion: kubernetesVersion(), kubeletPort: kubelet.port, zone: opts.zone,
  };
  const capacity = nodeCapacity(shape);
  const apiUrl = new URL(cp.server);
  const procs = new ProcessTable();
  const events = new EventRecorder(core, "kubelet", name, log);
  const ctx: NodeContext = {
    core, dataDir, caPem: cp.caPem, apiHost: apiUrl.hostname, apiPort: apiUrl.port || "443", procs, events, log, images: opts.images ?? [],
    privateRoots: opts.privateRoots ?? process.env.DP_NODE_PRIVATE_ROOTS !== "0",
    facts: { nodeName: name, ip: shape.ip, allocatable: { cpu: capacity.cpu, memory: capacity.memory, "ephemeral-storage": capacity["ephemeral-storage"] } },
  };

  /** Pods already handed to deletion, so the delete is issued once. */
  const finishing = new Set<string>();
  const kicker = new WatchKicker(kc, () => podSync.kick());

  const forceDelete = async (pod: V1Pod): Promise<void> => {
    const md = pod.metadata!;
    await core.deleteNamespacedPod({ name: md.name!, namespace: md.namespace!, gracePeriodSeconds: 0, body: { gracePeriodSeconds: 0, preconditions: { uid: md.uid } } })
      .catch((err) => { if (!isNotFound(err)) log(`delete pod ${md.namespace}/${md.name}: ${errorMessage(err)}`); });
  };

  const syncPods = async (): Promise<void> => {
    const list = await core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${name}` });
    const seen = new Set<string>();
    for (const pod of list.items) {
      const uid = pod.metadata!.uid!;
      seen.add(uid);
      let w = workers.get(uid);
      w?.update(pod);
      if (pod.metadata?.deletionTimestamp) {
        if (finishing.has(uid)) continue;
        finishing.add(uid);
        // Kubelet removes a gracefully deleted pod once its containers are gone.
        void (w ? w.terminate(graceOf(pod)) : Promise.resolve()).then(() => forceDelete(pod));
        continue;
      }
      if (!w) {
        const phase = pod.status?.phase;
        if (phase === "Succeeded" || phase === "Failed") continue; // finished before this node started
        w = new PodWorker(ctx, pod);
        workers.set(uid, w);
        w.start();
      }
    }
    for (const [uid, w] of workers) {
      if (seen.has(uid)) continue;
      workers.delete(uid);
      finishing.delete(uid);
      void w.terminate(0).then(() => rm(join(w.dir, "volumes"), { recursive: true, force: true }));
    }
  };
  const podSync = new Resync(syncPods, 2000, (e) => log(`pod sync: ${errorMessage(e)}`));

  let storageSync: Resync | undefined;
  let storageKicker: WatchKicker | undefined;
  let registered = false;
  const heartbeat = new NodeHeartbeat(core, kc.makeApiClient(CoordinationV1Api), shape, log);
  let stopping: Promise<void> | undefined;
  const stop = (how: { keepNode?: boolean } = {}): Promise<void> => {
    // API calls may hang when the control plane is going down too (Ctrl-C reaches every
    // process of the group): bound every step that talks to it; killing is local.
    stopping ??= (async () => {
      if (how.keepNode) {
        // Dies as a node does: every process at once, and nothing more written about its pods.
        ctx.dead = true;
        await procs.killAll(0);
      }
      kicker.stop();
      storageKicker?.stop();
      await bounded(podSync.stop(), 2000);
      await bounded(storageSync?.stop(), 2000);
      await bounded(Promise.all([...workers.values()].map((w) => w.terminate(STOP_GRACE_SECONDS))), (STOP_GRACE_SECONDS + 3) * 1000);
      await procs.killAll(0); // anything still running, whatever the API did
      await bounded(heartbeat.stop(), 2000);
      await kubelet.close();
      if (registered && (opts.deleteNodeOnStop ?? true) && !how.keepNode) {
        await bounded(heartbeat.deleteNode().catch((e) => log(`delete node: ${errorMessage(e)}`)), 3000);
      }
      if (ownsDir) await rm(dataDir, { recursive: true, force: true });
      releaseWatchdog();
    })();
    return stopping;
  };

  try {
    if (opts.storage ?? true) {
      const custom = kc.makeApiClient(CustomObjectsApi);
      await installCrds(kc, snapshotCrds());
      const snapshots = new SnapshotController(custom, core, dataDir, log);
      const provisioner = new LocalPathProvisioner(core, kc.makeApiClient(StorageV1Api), dataDir, name, snapshots, events, log);
      await provisioner.ensureDefaultClass();
      await snapshots.ensureDefaultClass();
      storageSync = new Resync(async () => {
        await snapshots.sync();
        await provisioner.sync();
      }, 3000, (e) => log(`storage sync: ${errorMessage(e)}`));
      storageKicker = new WatchKicker(kc, () => storageSync!.kick());
      storageKicker.watch("/api/v1/persistentvolumeclaims");
      storageKicker.watch("/api/v1/persistentvolumes");
      storageKicker.watch("/apis/snapshot.storage.k8s.io/v1/volumesnapshots");
    } else {
      // Claims of the local-path-wffc class the scheduler placed here: provisioned on this node.
      const provisioner = new LocalPathProvisioner(core, kc.makeApiClient(StorageV1Api), dataDir, name, undefined, events, log, false);
      storageSync = new Resync(() => provisioner.sync(), 3000, (e) => log(`storage sync: ${errorMessage(e)}`));
      storageKicker = new WatchKicker(kc, () => storageSync!.kick());
      storageKicker.watch("/api/v1/persistentvolumeclaims");
      storageKicker.watch("/api/v1/persistentvolumes");
    }

    await heartbeat.register();
    registered = true;
    heartbeat.start();
    kicker.watch("/api/v1/pods", { fieldSelector: `spec.nodeName=${name}` });
    podSync.start();
    storageSync?.start();
  } catch (err) {
    await stop();
    throw err;
  }

  const logs = async (namespace: string, pod: string, container: string): Promise<string> => {
    const file = await findLogFile(dataDir, namespace, pod, container);
    if (!file) throw new Error(`no pod ${namespace}/${pod} ran on node ${name}`);
    return readFile(file, "utf8").catch(() => "");
  };

  return { name, dataDir, logs, pids: () => procs.pids(), stop };
}
