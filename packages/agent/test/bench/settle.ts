// What the agent benches share: the state every timed run starts from, and medians.
import { spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";

let dropped = true;

/**
 * Before every timed run: write back dirty pages (so one contender does not pay for the
 * writeback of the previous one's output), drop the page cache when we may (root), then read the
 * run's input once, so every run starts from the same state: input cached, no dirty pages, no
 * output of an earlier run cached.
 */
export function settle(inputs: string[]): void {
  spawnSync("sync");
  try {
    writeFileSync("/proc/sys/vm/drop_caches", "1");
  } catch {
    dropped = false;
  }
  for (const i of inputs) spawnSync("bash", ["-c", 'find "$1" -type f -exec cat {} + > /dev/null', "-", i], { stdio: "ignore" });
}

/** Whether every settle so far could drop the page cache (the doc says so). */
export function cacheDropped(): boolean {
  return dropped;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
