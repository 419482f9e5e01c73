// Pure: how one container process is started. The node runs
//   unshare -m --propagation private -- sh -c SCRIPT sh COMMAND ARGS...
// In the new (private) mount namespace SCRIPT gives the container a root of its own (LaunchPlan
// root): an overlay over the host's "/" whose upper layer is the container's own directory, so
// the container sees the host's files (and runs its binaries) but what it writes outside its
// volumes lands in that layer, which the node removes when the container ends; /proc, /sys and
// /dev are bound in, then the volumes, then it changes root, enters workingDir and execs the
// command, as the requested uid/gid when set. Every mount vanishes with the namespace.
export interface BindMount {
  /** Host path (file or directory). */
  source: string;
  /** Path the container sees. */
  target: string;
  readOnly: boolean;
  /** Whether source is a directory (decides mkdir vs touch for the mount point). */
  isDir: boolean;
}

export interface LaunchPlan {
  mounts: BindMount[];
  command: string[];
  workingDir?: string;
  uid?: number;
  gid?: number;
  /** Supplementary groups (fsGroup, supplementalGroups). */
  groups?: number[];
  /**
   * A host directory holding empty `upper`, `work` and `root` (LAYER_DIRS, made by the node) to
   * build the container's private root on: an overlay of the host's / whose upper layer the node
   * removes when the container ends. Unset: the container shares the host's root, and what it
   * writes outside its volumes stays on the host.
   */
  root?: string;
  /** A host directory where the node writes the mount tables (launchTables) before the start. */
  tablesDir?: string;
}

/** POSIX single-quote quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** What the node makes in LaunchPlan.root before the start (and removes after the end). */
export const LAYER_DIRS = ["upper", "work", "root"];

/** The host paths a private root gets from the host as they are (submounts of "/" an overlay of "/" does not show). */
export const HOST_MOUNTS = ["/proc", "/sys", "/dev"];

/** A path as an fstab field: space, tab, newline and backslash octal-escaped. */
export function fstabPath(p: string): string {
  return p.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, "0")}`);
}

interface Batches {
  /** The overlay, host mounts and directory volumes. */
  dirs: string[];
  /** File volumes, bound after their placeholder files are made. */
  files: string[];
  /** Lines run between dirs and files: make each file volume's placeholder. */
  placeholders: string[];
}

function batches(plan: LaunchPlan): Batches {
  const inRoot = (target: string) => (plan.root ? `${plan.root}/root${target === "/" ? "" : target}` : target);
  const b: Batches = { dirs: [], files: [], placeholders: [] };
  if (plan.root) {
    const r = plan.root;
    b.dirs.push(`dp-root ${fstabPath(inRoot("/"))} overlay lowerdir=/,upperdir=${fstabPath(`${r}/upper`)},workdir=${fstabPath(`${r}/work`)} 0 0`);
    for (const h of HOST_MOUNTS) b.dirs.push(`${h} ${fstabPath(inRoot(h))} none rbind 0 0`);
  }
  // Parents before children, so a volume mounted inside another stays visible; files last.
  const mounts = [...plan.mounts].sort((x, y) => x.target.split("/").length - y.target.split("/").length);
  const bind = (m: BindMount, mkdir: boolean) => `${fstabPath(m.source)} ${fstabPath(inRoot(m.target))} none bind${mkdir ? ",X-mount.mkdir" : ""}${m.readOnly ? ",ro" : ""} 0 0`;
  for (const m of mounts) {
    if (m.isDir) {
      b.dirs.push(bind(m, true));
      continue;
    }
    b.files.push(bind(m, false));
    // Shell built-ins only, unless the parent directory is missing.
    const t = inRoot(m.target);
    const parent = t.slice(0, t.lastIndexOf("/")) || "/";
    b.placeholders.push(`[ -d ${shQuote(parent)} ] || mkdir -p ${shQuote(parent)}`, `[ -e ${shQuote(t)} ] || : > ${shQuote(t)}`);
  }
  return b;
}

/**
 * The mount tables the script reads (`mount -a -T`, one process for a whole batch of mounts
 * instead of a mkdir and a mount or two per volume), for the node to write into
 * `plan.tablesDir` before it starts the container.
 */
export function launchTables(plan: LaunchPlan): Array<{ path: string; content: string }> {
  const b = batches(plan);
  const named: Array<[string, string[]]> = [["dirs", b.dirs], ["files", b.files]];
  return named.filter(([, e]) => e.length).map(([n, e]) => ({ path: tablePath(plan, n), content: `${e.join("\n")}\n` }));
}

function tablePath(plan: LaunchPlan, name: string): string {
  if (!plan.tablesDir) throw new Error("a launch plan with mounts needs tablesDir");
  return `${plan.tablesDir}/${name}.fstab`;
}

/** The shell script run inside the private mount namespace. */
export function buildLaunchScript(plan: LaunchPlan): string {
  const b = batches(plan);
  const mountAll = (name: string, entries: string[]) => (entries.length ? [`mount -a -T ${shQuote(tablePath(plan, name))}`] : []);
  const lines = ["set -e", ...mountAll("dirs", b.dirs), ...b.placeholders, ...mountAll("files", b.files)];
  const enter = buildEnterScript(plan);
  if (plan.root) lines.push(`exec chroot ${shQuote(`${plan.root}/root`)} sh -c ${shQuote(enter)} sh "$@"`);
  else lines.push(...enter.split("\n").slice(1));
  return lines.join("\n");
}

/**
 * Run where the container's root already is (after the change of root, or by an exec probe
 * entering it with nsenter -r): enters workingDir and execs "$@" as the container's user.
 */
export function buildEnterScript(plan: LaunchPlan): string {
  const lines = ["set -e"];
  if (plan.workingDir) lines.push(`mkdir -p ${shQuote(plan.workingDir)}`, `cd ${shQuote(plan.workingDir)}`);
  if (plan.uid !== undefined || plan.gid !== undefined || plan.groups?.length) {
    const ids = [
      plan.uid !== undefined ? `--reuid=${plan.uid}` : "",
      plan.gid !== undefined ? `--regid=${plan.gid}` : "",
      plan.groups?.length ? `--groups=${plan.groups.join(",")}` : "--clear-groups",
    ].filter(Boolean).join(" ");
    lines.push(`exec setpriv ${ids} -- "$@"`);
  } else {
    lines.push(`exec "$@"`);
  }
  return lines.join("\n");
}

/** argv for spawn(): the command is passed as positional parameters, so it needs no quoting. */
export function launchArgv(plan: LaunchPlan): { file: string; args: string[] } {
  return {
    file: "unshare",
    args: ["-m", "--propagation", "private", "--", "sh", "-c", buildLaunchScript(plan), "sh", ...plan.command],
  };
}

/** Effective uid/gid/groups: container securityContext over pod securityContext. */
export function effectiveIds(
  podSc: { runAsUser?: number; runAsGroup?: number; fsGroup?: number; supplementalGroups?: number[] } | undefined,
  cSc: { runAsUser?: number; runAsGroup?: number } | undefined,
): { uid?: number; gid?: number; groups?: number[] } {
  const uid = cSc?.runAsUser ?? podSc?.runAsUser;
  let gid = cSc?.runAsGroup ?? podSc?.runAsGroup;
  // As with container runtimes: a uid without a group runs with gid 0.
  if (uid !== undefined && gid === undefined) gid = 0;
  const groups = [...new Set([...(podSc?.fsGroup !== undefined ? [podSc.fsGroup] : []), ...(podSc?.supplementalGroups ?? [])])];
  return groups.length ? { uid, gid, groups } : { uid, gid };
}
