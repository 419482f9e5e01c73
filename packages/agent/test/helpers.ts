import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

export const agentBin = resolve(dirname(fileURLToPath(import.meta.url)), "../bin/dp-agent");

export interface AgentRun {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

/** Run the real CLI with the given env (on top of PATH/HOME only) and stdin. */
export function dpAgent(args: string[], env: Record<string, string>, input?: Buffer | string): AgentRun {
  const r = spawnSync(agentBin, args, {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    input,
    maxBuffer: 1 << 28,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Digest of a tree: paths, types, modes, owners, mtimes (ms), link targets and contents. */
export function treeDigest(root: string): string {
  const h = createHash("sha256");
  const walk = (rel: string): void => {
    const p = rel ? join(root, rel) : root;
    const st = lstatSync(p);
    h.update(`${rel}\0${st.mode}\0${st.uid}\0${st.gid}\0${Math.floor(st.mtimeMs)}\0`);
    if (st.isSymbolicLink()) h.update(`L${readlinkSync(p)}\0`);
    else if (st.isFile()) h.update(readFileSync(p)).update("\0");
    else if (st.isDirectory()) for (const n of readdirSync(p).sort()) walk(rel ? `${rel}/${n}` : n);
  };
  walk("");
  return h.digest("hex");
}
