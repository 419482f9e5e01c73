// I/O: the `local-path` provisioner. PVs are directories under the node's data dir.
import { execFile } from "node:child_process";
import { chmod, mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { PatchStrategy, setHeaderOptions, type CoreV1Api, type StorageV1Api, type V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { SnapshotController } from "../snapshot/controller.ts";
import { errorMessage, isConflict, isNotFound } from "./errors.ts";
import type { EventRecorder } from "./events.ts";
import { buildPv, claimDataSource, claimsToProvision, defaultStorageClass, volumesToDelete, wffcStorageClass } from "./provision.ts";
import { ANN_REQUEUE, claimsToRequeue, newRequeueMemory } from "./requeue.ts";

const run = promisify(execFile);

export class LocalPathProvisioner {
  readonly dir: string;
  private readonly reported = new Set<string>();
  private readonly requeue = newRequeueMemory();

  constructor(
    private readonly core: CoreV1Api,
    private readonly storage: StorageV1Api,
    dataDir: string,
    private readonly nodeName: string,
    /** The storage node's: provisions from VolumeSnapshots. Other nodes provision only empty or cloned claims. */
    private readonly snapshots: SnapshotController | undefined,
    private readonly events: EventRecorder,
    private readonly log: (m: string) => void,
    /** Serves Immediate claims too (the storage node); otherwise only WaitForFirstConsumer ones placed here. */
    private readonly immediate = true,
  ) {
    this.dir = join(dataDir, "pvs");
  }

  async ensureDefaultClass(): Promise<void> {
    for (const body of [defaultStorageClass(), wffcStorageClass()]) {
      try {
        await this.storage.createStorageClass({ body });
      } catch (err) {
        if (!isConflict(err)) throw err;
      }
    }
  }

  async sync(): Promise<void> {
    const [pvcs, pvs, classes] = await Promise.all([
      this.core.listPersistentVolumeClaimForAllNamespaces(),
      this.core.listPersistentVolume(),
      this.storage.listStorageClass(),
    ]);
    const names = new Set(pvs.items.map((p) => p.metadata!.name!));
    for (const { pvc, sc } of claimsToProvision(pvcs.items, classes.items, names, this.nodeName, this.immediate)) {
      try {
        await this.provision(pvc, sc);
      } catch (err) {
        this.log(`provision ${pvc.metadata?.namespace}/${pvc.metadata?.name}: ${errorMessage(err)}`);
      }
    }
    if (this.immediate) await this.requeueStuckPods(pvcs.items);
    for (const pv of volumesToDelete(pvs.items)) {
      const path = pv.spec?.hostPath?.path;
      // Only ever remove what this provisioner created.
      if (!path?.startsWith(this.dir + "/")) continue;
      await rm(path, { recursive: true, force: true });
      await this.core.deletePersistentVolume({ name: pv.metadata!.name! }).catch((err) => {
        if (!isNotFound(err)) throw err;
      });
    }
  }

  /** Touches the claims of pods the scheduler parked although their claims are bound (see requeue.ts). */
  private async requeueStuckPods(pvcs: V1PersistentVolumeClaim[]): Promise<void> {
    const pods = await this.core.listPodForAllNamespaces({ fieldSelector: "spec.nodeName=,status.phase=Pending" });
    for (const key of claimsToRequeue(pods.items, pvcs, this.requeue, Date.now())) {
      const [namespace, name] = key.split("/") as [string, string];
      this.log(`scheduler requeue: touching claim ${key} of a pod left unschedulable after it bound`);
      await this.core.patchNamespacedPersistentVolumeClaim(
        { name, namespace, body: { metadata: { annotations: { [ANN_REQUEUE]: new Date().toISOString() } } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      ).catch((err) => { if (!isNotFound(err)) this.log(`requeue ${key}: ${errorMessage(err)}`); });
    }
  }

  private async report(pvc: V1PersistentVolumeClaim, message: string): Promise<void> {
    const key = `${pvc.metadata?.uid}:${message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    const md = pvc.metadata!;
    await this.events.record(
      { kind: "PersistentVolumeClaim", apiVersion: "v1", namespace: md.namespace, name: md.name, uid: md.uid },
      "Normal", "ExternalProvisioning", message,
    );
  }

  private async provision(pvc: V1PersistentVolumeClaim, sc: Parameters<typeof buildPv>[1]): Promise<void> {
    const ns = pvc.metadata!.namespace!;
    const source = claimDataSource(pvc);
    let from: string | undefined;
    if (source?.kind === "VolumeSnapshot") {
      if (!this.snapshots) return this.report(pvc, `node ${this.nodeName} cannot provision from a VolumeSnapshot: snapshots live on the storage node`);
      const r = await this.snapshots.sourcePath(ns, source.name);
      if ("waiting" in r) return this.report(pvc, `waiting for the data source: ${r.waiting}`);
      from = r.path;
    } else if (source?.kind === "PersistentVolumeClaim") {
      const src = await this.core.readNamespacedPersistentVolumeClaim({ name: source.name, namespace: ns }).catch(() => undefined);
      const pv = src?.spec?.volumeName ? await this.core.readPersistentVolume({ name: src.spec.volumeName }).catch(() => undefined) : undefined;
      from = pv?.spec?.hostPath?.path;
      if (!from) return this.report(pvc, `waiting for the data source: PersistentVolumeClaim "${ns}/${source.name}" is not bound`);
    }
    const pv = buildPv(pvc, sc, join(this.dir, `pvc-${pvc.metadata!.uid}`), this.nodeName);
    const path = pv.spec!.hostPath!.path;
    await rm(path, { recursive: true, force: true });
    await mkdir(path, { recursive: true });
    await chmod(path, 0o777); // pods may run as any uid
    if (from) await run("cp", ["-a", `${from}/.`, `${path}/`]);
    try {
      await this.core.createPersistentVolume({ body: pv });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
    this.log(`provisioned ${pv.metadata!.name} for ${ns}/${pvc.metadata!.name}${from ? ` from ${from}` : ""}`);
  }
}
