import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const k8sGoMod = resolve(here, "../../go/k8s/go.mod");

/** The Kubernetes version the wrapper module pins (e.g. v1.34.4). */
export function kubernetesVersion(): string {
  const m = /^require k8s\.io\/kubernetes (v\S+)/m.exec(readFileSync(k8sGoMod, "utf8"));
  if (!m) throw new Error(`cannot find the k8s.io/kubernetes version in ${k8sGoMod}`);
  return m[1];
}

/** Where scripts/build-k8s.sh caches the binaries. */
export function defaultBinDir(): string {
  const cache = process.env.DP_CACHE || join(homedir(), ".cache", "dataprotection");
  return join(cache, "k8s", kubernetesVersion(), "bin");
}

export const COMPONENTS = ["etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubectl"] as const;

/** Throws a message with the fix when a binary is missing. */
export function checkBinaries(binDir: string): void {
  const missing = COMPONENTS.filter((c) => !existsSync(join(binDir, c)));
  if (missing.length > 0) {
    throw new Error(
      `control-plane binaries missing in ${binDir}: ${missing.join(", ")}; ` +
        "build them with `npm run setup` (or `bash packages/testenv/scripts/build-k8s.sh`)",
    );
  }
}
