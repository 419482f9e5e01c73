// I/O: the snapshot emulation. A snapshot is a `cp -a` of the claim's directory; its
// VolumeSnapshotContent points at the copy (snapshotHandle = path).
import { execFile } from "node:child_process";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { CoreV1Api, CustomObjectsApi, V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { errorMessage, isConflict, isNotFound } from "../node/errors.ts";
import {
  contentNameFor, contentsToDelete, decideSnapshot, defaultSnapshotClass, readyStatus, DRIVER,
} from "./decide.ts";
import { GROUP, VERSION } from "./crds.ts";
import type { ObjectList, VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent } from "./types.ts";

const run = promisify(execFile);

export class SnapshotController {
  readonly dir: string;

  constructor(
    private readonly custom: CustomObjectsApi,
    private readonly core: CoreV1Api,
    dataDir: string,
    private readonly log: (m: string) => void,
  ) {
    this.dir = join(dataDir, "snapshots");
  }

  async ensureDefaultClass(): Promise<void> {
    try {
      await this.custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "volumesnapshotclasses", body: defaultSnapshotClass() });
    } catch (err) {
      if (!isConflict(err)) throw err;
    }
  }

  private async list<T>(plural: string): Promise<T[]> {
    const l = (await this.custom.listClusterCustomObject({ group: GROUP, version: VERSION, plural })) as ObjectList<T>;
    return l.items;
  }

  async sync(): Promise<void> {
    const [snaps, classes, contents] = await Promise.all([
      this.list<VolumeSnapshot>("volumesnapshots"),
      this.list<VolumeSnapshotClass>("volumesnapshotclasses"),
      this.list<VolumeSnapshotContent>("volumesnapshotcontents"),
    ]);
    const byName = new Map(contents.map((c) => [c.metadata.name!, c]));
    for (const snap of snaps) {
      try {
        await this.syncOne(snap, classes, byName);
      } catch (err) {
        this.log(`snapshot ${snap.metadata.namespace}/${snap.metadata.name}: ${errorMessage(err)}`);
      }
    }
    const live = new Set(snaps.map((s) => s.metadata.uid!));
    for (const c of contentsToDelete(contents, live)) {
      const handle = c.status?.snapshotHandle;
      if (handle && handle.startsWith(this.dir + "/")) await rm(handle, { recursive: true, force: true });
      await this.custom.deleteClusterCustomObject({ group: GROUP, version: VERSION, plural: "volumesnapshotcontents", name: c.metadata.name! })
        .catch((err) => { if (!isNotFound(err)) throw err; });
    }
  }

  private async readClaim(namespace: string, name: string): Promise<{ pvc?: V1PersistentVolumeClaim; pv?: V1PersistentVolume }> {
    if (!name) return {};
    const pvc = await this.core.readNamespacedPersistentVolumeClaim({ name, namespace }).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    const pvName = pvc?.spec?.volumeName;
    const pv = pvName ? await this.core.readPersistentVolume({ name: pvName }).catch(() => undefined) : undefined;
    return { pvc, pv };
  }

  private async syncOne(snap: VolumeSnapshot, classes: VolumeSnapshotClass[], contents: Map<string, VolumeSnapshotContent>): Promise<void> {
    if (snap.status?.readyToUse && snap.status.boundVolumeSnapshotContentName) return;
    const contentName = snap.spec.source.volumeSnapshotContentName ?? contentNameFor(snap);
    const claim = snap.spec.source.volumeSnapshotContentName
      ? {}
      : await this.readClaim(snap.metadata.namespace!, snap.spec.source.persistentVolumeClaimName ?? "");
    const d = decideSnapshot({ snap, classes, content: contents.get(contentName), ...claim });
    if (d.kind === "skip") return;
    if (d.kind === "error") {
      if (snap.status?.error?.message === d.message) return;
      await this.writeStatus(snap, { ...snap.status, readyToUse: false, error: { message: d.message, time: new Date().toISOString() } });
      return;
    }
    if (d.kind === "bind") {
      await this.writeStatus(snap, readyStatus(d.content, d.restoreSize));
      return;
    }
    const copy = join(this.dir, d.contentName);
    const tmp = `${copy}.tmp`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    await run("cp", ["-a", `${d.sourcePath}/.`, `${tmp}/`]);
    await rm(copy, { recursive: true, force: true });
    await rename(tmp, copy);
    const du = await run("du", ["-sb", copy]);
    const bytes = Number(du.stdout.split(/\s/)[0]) || 0;
    const content: VolumeSnapshotContent = {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "VolumeSnapshotContent",
      metadata: { name: d.contentName },
      spec: {
        deletionPolicy: d.deletionPolicy,
        driver: DRIVER,
        source: { volumeHandle: d.volumeHandle },
        sourceVolumeMode: "Filesystem",
        volumeSnapshotClassName: d.className,
        volumeSnapshotRef: {
          apiVersion: `${GROUP}/${VERSION}`, kind: "VolumeSnapshot",
          name: snap.metadata.name, namespace: snap.metadata.namespace, uid: snap.metadata.uid,
        },
      },
    };
    let created: VolumeSnapshotContent;
    try {
      created = (await this.custom.createClusterCustomObject({ group: GROUP, version: VERSION, plural: "volumesnapshotcontents", body: content })) as VolumeSnapshotContent;
    } catch (err) {
      if (!isConflict(err)) throw err;
      created = (await this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: "volumesnapshotcontents", name: d.contentName })) as VolumeSnapshotContent;
    }
    created.status = { creationTime: Date.now() * 1e6, readyToUse: true, restoreSize: bytes, snapshotHandle: copy };
    const ready = (await this.custom.replaceClusterCustomObjectStatus({
      group: GROUP, version: VERSION, plural: "volumesnapshotcontents", name: d.contentName, body: created,
    })) as VolumeSnapshotContent;
    await this.writeStatus(snap, readyStatus(ready, d.restoreSize));
  }

  private async writeStatus(snap: VolumeSnapshot, status: NonNullable<VolumeSnapshot["status"]>): Promise<void> {
    await this.custom.replaceNamespacedCustomObjectStatus({
      group: GROUP, version: VERSION, plural: "volumesnapshots",
      namespace: snap.metadata.namespace!, name: snap.metadata.name!, body: { ...snap, status },
    });
  }

  /** The directory holding a ready snapshot's bytes, or why it cannot be used yet. */
  async sourcePath(namespace: string, name: string): Promise<{ path: string } | { waiting: string }> {
    let snap: VolumeSnapshot;
    try {
      snap = (await this.custom.getNamespacedCustomObject({ group: GROUP, version: VERSION, plural: "volumesnapshots", namespace, name })) as VolumeSnapshot;
    } catch (err) {
      if (isNotFound(err)) return { waiting: `VolumeSnapshot "${namespace}/${name}" not found` };
      throw err;
    }
    const contentName = snap.status?.boundVolumeSnapshotContentName;
    if (!snap.status?.readyToUse || !contentName) return { waiting: `VolumeSnapshot "${namespace}/${name}" is not ready to use` };
    const content = (await this.custom.getClusterCustomObject({ group: GROUP, version: VERSION, plural: "volumesnapshotcontents", name: contentName })) as VolumeSnapshotContent;
    const path = content.status?.snapshotHandle ?? content.spec.source.snapshotHandle;
    if (!path) return { waiting: `VolumeSnapshotContent "${contentName}" has no snapshotHandle` };
    return { path };
  }
}
