// Pure: how one container process is started. The node runs
//   unshare -m --propagation private -- sh -c SCRIPT sh COMMAND ARGS...
// where SCRIPT bind-mounts the volumes in the new (private) mount namespace, enters
// workingDir and execs the command, as the requested uid/gid when set. Mounts vanish
// with the namespace, so nothing is left mounted on the host.

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
}

/** POSIX single-quote quoting. */
export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The shell script run inside the private mount namespace. */
export function buildLaunchScript(plan: LaunchPlan): string {
  const lines = ["set -e"];
  // Parents before children, so a volume mounted inside another stays visible.
  const mounts = [...plan.mounts].sort((a, b) => a.target.split("/").length - b.target.split("/").length);
  for (const m of mounts) {
    const t = shQuote(m.target);
    if (m.isDir) lines.push(`mkdir -p ${t}`);
    else lines.push(`mkdir -p "$(dirname ${t})"`, `[ -e ${t} ] || : > ${t}`);
    lines.push(`mount --bind ${shQuote(m.source)} ${t}`);
    if (m.readOnly) lines.push(`mount -o remount,bind,ro ${t}`);
  }
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
