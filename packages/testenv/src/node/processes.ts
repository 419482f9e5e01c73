// Every process the node starts is tracked here, so stop() can prove nothing is left.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { readFileSync } from "node:fs";
import { OWNER_ENV, ownerMark } from "./reaper.ts";

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface Tracked {
  child: ChildProcess;
  pid: number;
  exited: Promise<Exit>;
}

export class ProcessTable {
  private readonly live = new Map<number, Tracked>();
  private readonly mark = ownerMark();

  /**
   * Spawns in its own process group (detached) so the whole group can be signalled, marked with
   * this process as its owner (reaper.ts), so it cannot outlive it.
   */
  spawn(file: string, args: string[], opts: SpawnOptions): Tracked {
    const child = spawn(file, args, { ...opts, env: { ...(opts.env ?? process.env), [OWNER_ENV]: this.mark }, detached: true });
    const exited = new Promise<Exit>((resolve) => {
      child.once("error", () => resolve({ code: 127, signal: null }));
      child.once("exit", (code, signal) => resolve({ code, signal }));
    });
    if (child.pid === undefined) return { child, pid: -1, exited };
    const t: Tracked = { child, pid: child.pid, exited };
    this.live.set(child.pid, t);
    void exited.then(() => this.live.delete(t.pid));
    return t;
  }

  pids(): number[] {
    return [...this.live.keys()];
  }

  async killAll(graceMs: number): Promise<void> {
    await Promise.all([...this.live.values()].map((t) => killGroup(t, graceMs)));
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // already gone
    }
  }
}

/**
 * SIGKILL to what is left of a container's process group once its leader exited: as on a real
 * node, where the end of a container's first process ends every process in its PID namespace.
 */
export function reapGroup(t: Tracked): void {
  if (t.pid < 0) return;
  try {
    process.kill(-t.pid, "SIGKILL");
  } catch {
    // no member left
  }
}

/** SIGTERM to the process group, SIGKILL after graceMs; resolves once the leader exited. */
export async function killGroup(t: Tracked, graceMs: number): Promise<Exit> {
  if (t.pid < 0) return t.exited;
  signalGroup(t.pid, "SIGTERM");
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<"timeout">((r) => (timer = setTimeout(() => r("timeout"), graceMs)));
  const first = await Promise.race([t.exited, timedOut]);
  clearTimeout(timer);
  // Kill the group even when the leader exited: children it left behind must go too.
  signalGroup(t.pid, "SIGKILL");
  return first === "timeout" ? t.exited : first;
}

/** True when a process with this pid exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return !/\) [ZX] /.test(stat);
  } catch {
    return false;
  }
}
