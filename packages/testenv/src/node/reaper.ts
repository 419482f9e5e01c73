// Nothing a pod starts outlives the process that runs its node, even one SIGKILLed. Every process
// the node starts carries its owner's mark in the environment (inherited by whatever it starts in
// turn); a watchdog shell kills the marked processes within about a second of the owner's death,
// and a node starting kills marked processes whose owner is gone (for when the watchdog was
// killed too). The mark holds the owner's pid and start time, so a reused pid is not mistaken
// for a live owner.
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { readdir, readFile } from "node:fs/promises";

export const OWNER_ENV = "DP_LOCAL_NODE_OWNER";

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot), or undefined when gone. */
export function startTimeOf(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces and parentheses: fields after it follow the last ')'.
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19];
  } catch {
    return undefined;
  }
}

/** This process's mark: "<pid>:<start time>". */
export function ownerMark(pid = process.pid): string {
  return `${pid}:${startTimeOf(pid) ?? "0"}`;
}

/** Whether the process a mark names still runs (same pid, same start time). */
export function ownerAlive(mark: string): boolean {
  const [pid, start] = mark.split(":");
  return startTimeOf(Number(pid)) === start;
}

/** The owner mark in a process's environment (NUL-separated), if any. */
export function markIn(environ: Buffer): string | undefined {
  const key = Buffer.from(`${OWNER_ENV}=`);
  for (let at = 0; at < environ.length;) {
    const end = environ.indexOf(0, at);
    const stop = end < 0 ? environ.length : end;
    if (stop - at > key.length && environ.subarray(at, at + key.length).equals(key)) return environ.subarray(at + key.length, stop).toString();
    at = stop + 1;
  }
  return undefined;
}

/** SIGKILLs every marked process whose owner is gone; returns their pids. */
export async function reapOrphans(ownerIsAlive: (mark: string) => boolean = ownerAlive): Promise<number[]> {
  const verdicts = new Map<string, boolean>();
  const killed: number[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`).catch(() => undefined);
    const mark = environ && markIn(environ);
    if (!mark) continue;
    let alive = verdicts.get(mark);
    if (alive === undefined) verdicts.set(mark, (alive = ownerIsAlive(mark)));
    if (alive) continue;
    try {
      process.kill(Number(entry), "SIGKILL");
      killed.push(Number(entry));
    } catch {
      // already gone
    }
  }
  return killed;
}

// Waits for the owner to end, then kills what carries its mark, a few rounds (a process may fork
// while the first round runs). `grep -z` reads the environment's NUL-separated entries.
// One grep reads every process's environment (-l: the files that hold the mark).
const WATCHDOG = [
  'o="$1"; m="$2"',
  'while kill -0 "$o" 2>/dev/null; do sleep 1; done',
  "for r in 1 2 3; do",
  `  for f in \`grep -lxz "${OWNER_ENV}=$m" /proc/[0-9]*/environ 2>/dev/null\`; do p="\${f#/proc/}"; kill -9 "\${p%/environ}" 2>/dev/null || true; done`,
  "  sleep 0.3",
  "done",
].join("\n");

let watchdogPid: number | undefined;
let holders = 0;

/**
 * Starts this process's watchdog unless it runs (it ends by itself after the owner ended) and
 * counts one more node holding it. Returns its pid.
 */
export function startWatchdog(): number | undefined {
  holders++;
  if (watchdogPid !== undefined) return watchdogPid;
  const mark = ownerMark();
  // Its own environment carries no mark, so it does not kill itself.
  const env = { ...process.env };
  delete env[OWNER_ENV];
  const child = spawn("sh", ["-c", WATCHDOG, "dp-node-watchdog", String(process.pid), mark], { detached: true, stdio: "ignore", env });
  child.unref();
  watchdogPid = child.pid;
  return watchdogPid;
}

/** A node stopped cleanly: once no node holds it, the watchdog goes too (nothing is left to watch). */
export function releaseWatchdog(): void {
  holders = Math.max(0, holders - 1);
  if (holders > 0 || watchdogPid === undefined) return;
  try {
    process.kill(watchdogPid, "SIGKILL");
  } catch {
    // already gone
  }
  watchdogPid = undefined;
}

/** The watchdog's pid while one runs. */
export function watchdog(): number | undefined {
  return watchdogPid;
}
