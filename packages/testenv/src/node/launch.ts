// Pure: how one container process is started. The node runs
//   unshare -m --propagation private -- sh -c SCRIPT sh COMMAND ARGS...
// In the new (private) mount namespace SCRIPT gives the container a root of its own (LaunchPlan
// root): a tmpfs holding the upper layer of an overlay over the host's "/", so the container
// sees the host's files (and runs its binaries) but what it writes outside its volumes lands in
// that layer and is discarded with the namespace; /proc, /sys and /dev are bound in, then the
// volumes, then it changes root, enters workingDir and execs the command, as the requested
// uid/gid when set. Every mount vanishes with the namespace, so nothing is left on the host.
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
   * A host directory (empty, the node's) to build the container's private root on. Unset: the
   * container shares the host's root, and what it writes outside its volumes stays on the host.
   */
  root?: string;
}

/** POSIX single-quote quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The host paths a private root gets from the host as they are (submounts of "/" an overlay of "/" does not show). */
export const HOST_MOUNTS = ["/proc", "/sys", "/dev"];

/** The shell script run inside the private mount namespace. */
export function buildLaunchScript(plan: LaunchPlan): string {
  const lines = ["set -e"];
  const at = (target: string) => shQuote(plan.root ? `${plan.root}/root${target}` : target);
  if (plan.root) {
    const r = shQuote(plan.root);
    lines.push(
      `mkdir -p ${r}`,
      `mount -t tmpfs -o mode=0755 dp-layer ${r}`,
      `mkdir -p ${shQuote(`${plan.root}/upper`)} ${shQuote(`${plan.root}/work`)} ${at("")}`,
      `mount -t overlay dp-root -o ${shQuote(`lowerdir=/,upperdir=${plan.root}/upper,workdir=${plan.root}/work`)} ${at("")}`,
    );
    for (const h of HOST_MOUNTS) lines.push(`mount --rbind ${h} ${at(h)}`);
  }
  // Parents before children, so a volume mounted inside another stays visible.
  const mounts = [...plan.mounts].sort((a, b) => a.target.split("/").length - b.target.split("/").length);
  for (const m of mounts) {
    const t = at(m.target);
    if (m.isDir) lines.push(`mkdir -p ${t}`);
    else lines.push(`mkdir -p "$(dirname ${t})"`, `[ -e ${t} ] || : > ${t}`);
    lines.push(`mount --bind ${shQuote(m.source)} ${t}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${t}`);
  }
  const enter = buildEnterScript(plan);
  if (plan.root) lines.push(`exec chroot ${at("")} sh -c ${shQuote(enter)} sh "$@"`);
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
