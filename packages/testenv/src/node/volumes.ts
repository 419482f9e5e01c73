// I/O: makes each pod volume exist as a host path (files written, PVCs resolved to their PV dir).
import { chmod, chown, mkdir, rename, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { CoreV1Api, V1Pod, V1Volume, V1VolumeProjection } from "@kubernetes/client-node";
import type { NodeFacts } from "./fieldref.ts";
import { downwardFiles, keyFiles, safeRelative, type FileSpec } from "./projection.ts";
import { isNotFound, errorMessage } from "./errors.ts";

export interface VolumeContext {
  core: CoreV1Api;
  pod: V1Pod;
  podDir: string;
  facts: NodeFacts;
  caPem: string;
}

export interface VolumeSetup {
  /** Volume name -> host path. */
  paths: Map<string, string>;
  /** When the volumes should be rewritten: projected tokens at 80% of their lifetime, ConfigMaps every CONFIGMAP_SYNC_MS. */
  refreshAt?: Date;
}

/** A volume that cannot be set up yet (missing object, unbound claim); retried by the caller. */
export class VolumeNotReady extends Error {}

function decode(data: Record<string, string> | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v, "base64");
  return out;
}

function plain(data: Record<string, string> | undefined, binary?: Record<string, string>): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  for (const [k, v] of Object.entries(data ?? {})) out[k] = Buffer.from(v);
  for (const [k, v] of Object.entries(binary ?? {})) out[k] = Buffer.from(v, "base64");
  return out;
}

/** As kubelet with fsGroup: volume files belong to that group. */
async function writeFiles(dir: string, files: FileSpec[], fsGroup: number | undefined): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const f of files) {
    if (!safeRelative(f.path)) throw new VolumeNotReady(`invalid path ${JSON.stringify(f.path)} in volume`);
    const target = join(dir, f.path);
    await mkdir(dirname(target), { recursive: true });
    // Write then rename, so a reader never sees half a file (tokens are rewritten on refresh).
    const tmp = `${target}.tmp-${process.pid}`;
    await writeFile(tmp, f.content);
    await chmod(tmp, f.mode & 0o7777);
    if (fsGroup !== undefined) await chown(tmp, 0, fsGroup);
    await rename(tmp, target);
  }
}

function unwrap(r: FileSpec[] | { error: string }): FileSpec[] {
  if ("error" in r) throw new VolumeNotReady(r.error);
  return r;
}

async function readSecret(ctx: VolumeContext, name: string, optional: boolean): Promise<Record<string, Buffer> | undefined> {
  try {
    const s = await ctx.core.readNamespacedSecret({ name, namespace: ctx.pod.metadata!.namespace! });
    return decode(s.data);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    if (optional) return undefined;
    throw new VolumeNotReady(`secret "${name}" not found`);
  }
}

async function readConfigMap(ctx: VolumeContext, name: string, optional: boolean): Promise<Record<string, Buffer> | undefined> {
  try {
    const c = await ctx.core.readNamespacedConfigMap({ name, namespace: ctx.pod.metadata!.namespace! });
    return plain(c.data, c.binaryData);
  } catch (err) {
    if (!isNotFound(err)) throw err;
    if (optional) return undefined;
    throw new VolumeNotReady(`configmap "${name}" not found`);
  }
}

async function projectedFiles(ctx: VolumeContext, src: V1VolumeProjection, mode: number, expiries: Date[]): Promise<FileSpec[]> {
  const pod = ctx.pod;
  if (src.serviceAccountToken) {
    const p = src.serviceAccountToken;
    const expirationSeconds = p.expirationSeconds ?? 3600;
    const tr = await ctx.core.createNamespacedServiceAccountToken({
      name: pod.spec?.serviceAccountName ?? "default",
      namespace: pod.metadata!.namespace!,
      body: {
        spec: {
          audiences: p.audience ? [p.audience] : [],
          expirationSeconds,
          boundObjectRef: { apiVersion: "v1", kind: "Pod", name: pod.metadata!.name!, uid: pod.metadata!.uid! },
        },
      },
    });
    const exp = tr.status?.expirationTimestamp ? new Date(tr.status.expirationTimestamp) : new Date(Date.now() + expirationSeconds * 1000);
    expiries.push(new Date(Date.now() + (exp.getTime() - Date.now()) * 0.8));
    return [{ path: p.path, content: Buffer.from(tr.status?.token ?? ""), mode }];
  }
  if (src.configMap) {
    const cm = src.configMap;
    // The root CA is the control plane's own; do not depend on the publisher controller.
    const data = cm.name === "kube-root-ca.crt"
      ? { "ca.crt": Buffer.from(ctx.caPem) }
      : await readConfigMap(ctx, cm.name ?? "", cm.optional ?? false);
    if (!data) return [];
    return unwrap(keyFiles(`configmap "${cm.name}"`, data, cm.items, mode, cm.optional ?? false));
  }
  if (src.secret) {
    const data = await readSecret(ctx, src.secret.name ?? "", src.secret.optional ?? false);
    if (!data) return [];
    return unwrap(keyFiles(`secret "${src.secret.name}"`, data, src.secret.items, mode, src.secret.optional ?? false));
  }
  if (src.downwardAPI) return unwrap(downwardFiles(pod, src.downwardAPI.items, mode, ctx.facts));
  throw new VolumeNotReady("unsupported projected volume source (only serviceAccountToken, configMap, secret, downwardAPI)");
}

async function claimPath(ctx: VolumeContext, claimName: string): Promise<string> {
  const namespace = ctx.pod.metadata!.namespace!;
  let pvc;
  try {
    pvc = await ctx.core.readNamespacedPersistentVolumeClaim({ name: claimName, namespace });
  } catch (err) {
    if (isNotFound(err)) throw new VolumeNotReady(`persistentvolumeclaim "${claimName}" not found`);
    throw err;
  }
  if (pvc.status?.phase !== "Bound" || !pvc.spec?.volumeName) {
    throw new VolumeNotReady(`persistentvolumeclaim "${claimName}" is not bound (phase ${pvc.status?.phase ?? "Pending"})`);
  }
  const pv = await ctx.core.readPersistentVolume({ name: pvc.spec.volumeName });
  const path = pv.spec?.hostPath?.path ?? pv.spec?.local?.path;
  if (!path) {
    throw new VolumeNotReady(`persistentvolume "${pv.metadata?.name}" has no hostPath or local path; the local node mounts only those`);
  }
  await mkdir(path, { recursive: true });
  return path;
}

/** How often a pod's ConfigMap volumes are rewritten from the API (kubelet: about a minute). */
export const CONFIGMAP_SYNC_MS = 10_000;

async function setupVolume(ctx: VolumeContext, v: V1Volume, expiries: Date[]): Promise<string> {
  const dir = join(ctx.podDir, "volumes", v.name);
  const fsGroup = ctx.pod.spec?.securityContext?.fsGroup;
  if (v.emptyDir) {
    await mkdir(dir, { recursive: true });
    await chmod(dir, 0o777); // as kubelet: any uid in the pod may write
    if (fsGroup !== undefined) await chown(dir, 0, fsGroup);
    return dir;
  }
  if (v.hostPath) {
    const type = v.hostPath.type ?? "";
    if (type === "DirectoryOrCreate") await mkdir(v.hostPath.path, { recursive: true });
    else if (type === "FileOrCreate") {
      await mkdir(dirname(v.hostPath.path), { recursive: true });
      await writeFile(v.hostPath.path, "", { flag: "a" });
    } else {
      try {
        await stat(v.hostPath.path);
      } catch {
        if (type !== "") throw new VolumeNotReady(`hostPath ${v.hostPath.path} does not exist`);
        await mkdir(v.hostPath.path, { recursive: true });
      }
    }
    return v.hostPath.path;
  }
  if (v.persistentVolumeClaim) return claimPath(ctx, v.persistentVolumeClaim.claimName);
  if (v.ephemeral) return claimPath(ctx, `${ctx.pod.metadata!.name}-${v.name}`);
  if (v.secret) {
    const s = v.secret;
    const data = await readSecret(ctx, s.secretName ?? "", s.optional ?? false);
    await writeFiles(dir, data ? unwrap(keyFiles(`secret "${s.secretName}"`, data, s.items, s.defaultMode ?? 0o644, s.optional ?? false)) : [], fsGroup);
    return dir;
  }
  if (v.configMap) {
    const c = v.configMap;
    // Kubelet refreshes a ConfigMap volume within its sync period; so does this node, sooner.
    expiries.push(new Date(Date.now() + CONFIGMAP_SYNC_MS));
    const data = await readConfigMap(ctx, c.name ?? "", c.optional ?? false);
    await writeFiles(dir, data ? unwrap(keyFiles(`configmap "${c.name}"`, data, c.items, c.defaultMode ?? 0o644, c.optional ?? false)) : [], fsGroup);
    return dir;
  }
  if (v.downwardAPI) {
    await writeFiles(dir, unwrap(downwardFiles(ctx.pod, v.downwardAPI.items, v.downwardAPI.defaultMode ?? 0o644, ctx.facts)), fsGroup);
    return dir;
  }
  if (v.projected) {
    const files: FileSpec[] = [];
    for (const src of v.projected.sources ?? []) {
      files.push(...(await projectedFiles(ctx, src, v.projected.defaultMode ?? 0o644, expiries)));
    }
    await writeFiles(dir, files, fsGroup);
    return dir;
  }
  throw new VolumeNotReady(`volume "${v.name}": unsupported source; the local node supports emptyDir, hostPath, persistentVolumeClaim, ephemeral, secret, configMap, downwardAPI, projected`);
}

/** Sets up every volume of the pod; throws VolumeNotReady with a user-facing message. */
export async function setupVolumes(ctx: VolumeContext): Promise<VolumeSetup> {
  const paths = new Map<string, string>();
  const expiries: Date[] = [];
  for (const v of ctx.pod.spec?.volumes ?? []) {
    try {
      paths.set(v.name, await setupVolume(ctx, v, expiries));
    } catch (err) {
      if (err instanceof VolumeNotReady) throw new VolumeNotReady(`MountVolume.SetUp failed for volume "${v.name}": ${err.message}`);
      throw new VolumeNotReady(`MountVolume.SetUp failed for volume "${v.name}": ${errorMessage(err)}`);
    }
  }
  const refreshAt = expiries.length ? new Date(Math.min(...expiries.map((d) => d.getTime()))) : undefined;
  return { paths, refreshAt };
}
