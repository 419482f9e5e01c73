// Starting the agent's worker threads, from the bundle or from source.
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { Worker, type WorkerOptions } from "node:worker_threads";

const FROM_SOURCE = import.meta.url.endsWith(".ts");

/**
 * A worker thread running `bundled` (a file scripts/build.mjs writes beside the bundle) or, when
 * the agent runs from source under tsx, `source`. Loader hooks are not inherited by worker
 * threads, so from source the thread registers tsx itself before it imports `source`.
 */
export function startWorker(source: URL, bundled: URL, opts: WorkerOptions): Worker {
  if (!FROM_SOURCE) return new Worker(bundled, opts);
  const boot = `import(${JSON.stringify(tsxApi())}).then((m) => { m.register(); return import(${JSON.stringify(source.href)}); })`;
  return new Worker(boot, { ...opts, eval: true });
}

// tsx's ESM API. Not import.meta.resolve: the unit tests' loader gives none; and require.resolve
// would find the CommonJS entry.
function tsxApi(): string {
  const pkg = createRequire(import.meta.url).resolve("tsx/package.json");
  return pathToFileURL(join(dirname(pkg), "dist/esm/api/index.mjs")).href;
}
