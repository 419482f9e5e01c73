// Container log files: where they are and how `kubectl logs` options cut them.
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";

/** The log file of a container in the newest pod of that name that ran on the node. */
export async function findLogFile(dataDir: string, namespace: string, pod: string, container: string): Promise<string | undefined> {
  const podsDir = join(dataDir, "pods");
  const prefix = `${namespace}_${pod}_`;
  const dirs = (await readdir(podsDir).catch(() => [] as string[])).filter((d) => d.startsWith(prefix));
  const withTimes = await Promise.all(dirs.map(async (d) => ({ d, t: (await stat(join(podsDir, d))).mtimeMs })));
  withTimes.sort((a, b) => b.t - a.t);
  return withTimes.length ? join(podsDir, withTimes[0].d, "logs", `${container}.log`) : undefined;
}

/** Pure: applies tailLines and limitBytes as kubelet does (tail first, then the byte limit). */
export function cutLog(content: Buffer, tailLines?: number, limitBytes?: number): Buffer {
  let out = content;
  if (tailLines !== undefined && tailLines >= 0) {
    let idx = out.length;
    // A trailing newline ends the last line; it does not start a new one.
    if (idx > 0 && out[idx - 1] === 0x0a) idx--;
    let lines = 0;
    while (idx > 0 && lines < tailLines) {
      const nl = out.lastIndexOf(0x0a, idx - 1);
      lines++;
      idx = nl < 0 ? 0 : nl;
      if (nl < 0) break;
    }
    out = tailLines === 0 ? Buffer.alloc(0) : out.subarray(idx === 0 && out[0] !== 0x0a ? 0 : idx + 1);
  }
  if (limitBytes !== undefined && limitBytes >= 0) out = out.subarray(0, limitBytes);
  return out;
}
