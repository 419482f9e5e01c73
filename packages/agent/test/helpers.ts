import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readFileSync, readdirSync, readlinkSync, statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const agentBin = join(pkg, "bin/dp-agent");

/** Build the bundle bin/dp-agent prefers when any source is newer, so tests run what pods run. */
export function ensureBundle(): void {
  const bundle = join(pkg, "dist/dp-agent.js");
  const built = existsSync(bundle) ? statSync(bundle).mtimeMs : 0;
  const newest = Math.max(...[join(pkg, "src"), join(pkg, "../storage/src")].flatMap((d) => readdirSync(d, { recursive: true, encoding: "utf8" }).filter((f) => !f.endsWith(".test.ts")).map((f) => statSync(join(d, f)).mtimeMs)));
  if (newest <= built) return;
  const r = spawnSync(process.execPath, [join(pkg, "../../scripts/build.mjs"), "dp-agent"], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`building dp-agent failed: ${r.stderr}`);
}
ensureBundle();

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

/**
 * The "sha256-tags" checksum of a stored object, computed from its bytes as the README
 * describes it (an independent reading of the format): sha256 over the data frames' tags.
 */
export function storedTagChecksum(stored: Buffer): string {
  const tagLen = stored[6] === 0 ? 32 : 16;
  const h = createHash("sha256");
  // The header: 36 bytes, and in format v5 the checksum byte, the id's length and the id.
  for (let off = stored[4] === 5 ? 38 + stored[37] : 36; off < stored.length; ) {
    const flags = stored[off];
    const len = stored.readUInt32BE(off + 1);
    if (flags & 1) break;
    h.update(stored.subarray(off + 5 + len, off + 5 + len + tagLen));
    off += 5 + len + tagLen;
  }
  return h.digest("hex");
}
