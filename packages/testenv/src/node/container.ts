// I/O around one container start: fetch env sources, resolve mounts, spawn, read the termination message.
import { chmod, chown, mkdir, open, readFile, realpath, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import type { NodeContext } from "./context.ts";
import { envReferences, expandCommand, resolveEnv, type EnvSources } from "./env.ts";
import { expandVars } from "./expand.ts";
import { imageMounts } from "./image-files.ts";
import { effectiveIds, LAYER_DIRS, launchArgv, launchTables, type BindMount, type LaunchPlan } from "./launch.ts";
import { isNotFound } from "./errors.ts";
import type { Tracked } from "./processes.ts";
import { safeRelative } from "./projection.ts";

/** The container cannot be configured yet (missing Secret/ConfigMap key...): CreateContainerConfigError. */
export class ContainerConfigError extends Error {}
/** The container can never run here (no command): ContainerCannotRun. */
export class ContainerCannotRun extends Error {}

export interface PreparedContainer {
  plan: LaunchPlan;
  env: Record<string, string>;
  terminationFile: string;
  logFile: string;
}

const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

async function fetchSources(ctx: NodeContext, namespace: string, c: V1Container): Promise<EnvSources> {
  const refs = envReferences(c);
  const sources: EnvSources = { secrets: new Map(), configMaps: new Map() };
  for (const name of refs.secrets) {
    try {
      const s = await ctx.core.readNamespacedSecret({ name, namespace });
      const data: Record<string, string> = {};
      for (const [k, v] of Object.entries(s.data ?? {})) data[k] = Buffer.from(v, "base64").toString();
      sources.secrets.set(name, data);
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  for (const name of refs.configMaps) {
    try {
      const cm = await ctx.core.readNamespacedConfigMap({ name, namespace });
      sources.configMaps.set(name, { ...(cm.data ?? {}) });
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  return sources;
}

export function containerDir(podDir: string, name: string): string {
  return join(podDir, "containers", name);
}

export function logFileOf(podDir: string, name: string): string {
  return join(podDir, "logs", `${name}.log`);
}

/** Everything needed to spawn the container; throws ContainerConfigError / ContainerCannotRun. */
export async function prepareContainer(
  ctx: NodeContext, pod: V1Pod, c: V1Container, podDir: string, volumes: Map<string, string>,
): Promise<PreparedContainer> {
  if (!c.command || c.command.length === 0) {
    throw new ContainerCannotRun(
      `container "${c.name}" has no command: the local node ignores images (${c.image ?? "none"}), so set command explicitly`,
    );
  }
  const base: Array<[string, string]> = [
    ["KUBERNETES_SERVICE_HOST", ctx.apiHost],
    ["KUBERNETES_SERVICE_PORT", ctx.apiPort],
    ["KUBERNETES_SERVICE_PORT_HTTPS", ctx.apiPort],
    ["KUBERNETES_PORT", `tcp://${ctx.apiHost}:${ctx.apiPort}`],
  ];
  const resolved = resolveEnv(pod, c, await fetchSources(ctx, pod.metadata!.namespace!, c), ctx.facts, base);
  if ("error" in resolved) throw new ContainerConfigError(resolved.error);
  const envMap = new Map(resolved.env);
  const ids = effectiveIds(pod.spec?.securityContext, c.securityContext);

  const mounts: BindMount[] = imageMounts(ctx.images, c.image);
  for (const m of c.volumeMounts ?? []) {
    const root = volumes.get(m.name);
    if (!root) throw new ContainerConfigError(`volumeMount "${m.name}" names no volume of the pod`);
    const sub = m.subPath || (m.subPathExpr ? expandVars(m.subPathExpr, (n) => envMap.get(n)) : "");
    if (sub && !safeRelative(sub)) throw new ContainerConfigError(`invalid subPath ${JSON.stringify(sub)}`);
    const source = sub ? join(root, sub) : root;
    let st = await stat(source).catch(() => undefined);
    if (!st) {
      await mkdir(source, { recursive: true, mode: 0o777 });
      st = await stat(source);
    }
    mounts.push({ source, target: m.mountPath, readOnly: m.readOnly ?? false, isDir: st.isDirectory() });
  }

  const dir = containerDir(podDir, c.name);
  await mkdir(dir, { recursive: true });
  await mkdir(join(podDir, "logs"), { recursive: true });
  const terminationFile = join(dir, "termination-log");
  await writeFile(terminationFile, "");
  await chmod(terminationFile, 0o666);
  if (ids.uid !== undefined) await chown(terminationFile, ids.uid, ids.gid ?? 0);
  mounts.push({ source: terminationFile, target: c.terminationMessagePath || "/dev/termination-log", readOnly: false, isDir: false });

  const env: Record<string, string> = {
    PATH: process.env.PATH ?? DEFAULT_PATH,
    HOME: ids.uid ? "/" : "/root",
    HOSTNAME: pod.metadata?.name ?? "",
    ...Object.fromEntries(resolved.env),
  };
  // A private root's lower layer is the host's /, so its symlinks are the host's: a target through
  // one (/var/run -> /run) is resolved against the root here, as runtimes do, or the bind would
  // follow the link out of the root before the change of root.
  if (ctx.privateRoots) for (const m of mounts) m.target = await resolveInRoot(m.target);
  return {
    plan: {
      mounts, command: expandCommand(c, resolved.env), workingDir: c.workingDir, uid: ids.uid, gid: ids.gid, groups: ids.groups,
      root: ctx.privateRoots ? join(podDir, "roots", c.name) : undefined,
      tablesDir: dir,
    },
    env,
    terminationFile,
    logFile: logFileOf(podDir, c.name),
  };
}

/** Starts the prepared container; stdout and stderr append to its log file. */
export async function startContainer(ctx: NodeContext, p: PreparedContainer): Promise<Tracked> {
  for (const t of launchTables(p.plan)) await writeFile(t.path, t.content);
  if (p.plan.root) {
    // Every run starts from an empty layer, as a restarted container does on a real node.
    await discardLayer(p);
    for (const d of LAYER_DIRS) await mkdir(join(p.plan.root, d), { recursive: true });
  }
  const fh = await open(p.logFile, "a");
  try {
    const { file, args } = launchArgv(p.plan);
    return ctx.procs.spawn(file, args, { env: p.env, stdio: ["ignore", fh.fd, fh.fd] });
  } finally {
    await fh.close(); // the child holds its own copy of the descriptor
  }
}

/** `target` with every symlink among its existing leading components resolved, as seen from /. */
export async function resolveInRoot(target: string): Promise<string> {
  const parts = target.split("/").filter(Boolean);
  for (let n = parts.length; n > 0; n--) {
    const head = `/${parts.slice(0, n).join("/")}`;
    const real = await realpath(head).catch(() => undefined);
    if (real !== undefined) return [real === "/" ? "" : real, ...parts.slice(n)].join("/") || "/";
  }
  return target;
}

/** Removes what the container wrote outside its volumes (its private root's upper layer). */
export async function discardLayer(p: PreparedContainer): Promise<void> {
  if (p.plan.root) await rm(p.plan.root, { recursive: true, force: true });
}

const MAX_MESSAGE = 4096;

/** The termination message, or the log tail for FallbackToLogsOnError on failure. */
export async function terminationMessage(
  p: PreparedContainer, c: V1Container, exitCode: number,
): Promise<string | undefined> {
  const msg = (await readFile(p.terminationFile).catch(() => Buffer.alloc(0))).subarray(0, MAX_MESSAGE).toString();
  if (msg) return msg;
  if (c.terminationMessagePolicy === "FallbackToLogsOnError" && exitCode !== 0) {
    const log = await readFile(p.logFile).catch(() => Buffer.alloc(0));
    const lines = log.toString().split("\n").slice(-80).join("\n");
    return lines.slice(-2048) || undefined;
  }
  return undefined;
}
