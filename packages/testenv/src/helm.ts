// Where scripts/build-helm.sh caches Helm (the version it pins), with the fix when it is missing.
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const script = resolve(dirname(fileURLToPath(import.meta.url)), "../scripts/build-helm.sh");

/** The helm binary the set-up built; throws a message naming `npm run setup` when it is not there. */
export function helmBinary(): string {
  const version = /^version=(\S+)$/m.exec(readFileSync(script, "utf8"))?.[1];
  if (!version) throw new Error(`cannot find the pinned Helm version in ${script}`);
  const cache = process.env.DP_CACHE || join(homedir(), ".cache", "dataprotection");
  const bin = join(cache, "helm", version, "helm");
  if (!existsSync(bin)) throw new Error(`helm ${version} missing at ${bin}: build it with \`npm run setup\` (or \`bash packages/testenv/scripts/build-helm.sh\`)`);
  return bin;
}
