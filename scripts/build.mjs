/* global process, console */
// The project's build: every program as compiled JavaScript, which the image and the chart's
// Deployment run (`npm start` and the tests may still run the sources through tsx).
//   packages/agent/dist/dp-agent.js           dp-agent (+ chunk-worker.js and dedup-worker.js, its
//                                             compression threads for objects and dedup blobs)
//   packages/operator/dist/operator.js        the operator (core controllers + 3scale plugin)
//   packages/threescale/dist/threescale-dp.js the 3scale tool's CLI (+ both workers: it writes
//                                             through dp-agent's code, whose compression runs
//                                             in worker threads loaded from beside the bundle)
//   packages/cli/dist/kubectl-dp.js           the kubectl plugin
// One esbuild bundle per program; third-party code is bundled too (fewer files to resolve at
// start), except the native zstd addon, loaded from node_modules. Each is built into a temp
// directory and renamed into place (shared chunks first), so a concurrent run never reads a torn file.
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/**
 * @kubernetes/client-node's index re-exports every generated API and model, and esbuild keeps
 * a module it cannot prove free of side effects: the programs, which take only KubeConfig (and
 * types) from it, carried all of it (about 9 MiB more RSS in a process). Its modules only
 * define classes and functions, so they are marked side-effect free and what is not used is
 * left out.
 */
const clientNodeWithoutSideEffects = {
  name: "client-node-without-side-effects",
  setup(b) {
    b.onResolve({ filter: /.*/ }, async (args) => {
      if (args.pluginData === "resolving") return undefined;
      if (!args.path.startsWith("@kubernetes/client-node") && !args.importer.includes("/@kubernetes/client-node/")) return undefined;
      const r = await b.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: "resolving" });
      if (r.errors.length) return { errors: r.errors };
      return { path: r.path, external: r.external, sideEffects: r.path.includes("/@kubernetes/client-node/") ? false : r.sideEffects };
    });
    // What client-node still keeps for KubeConfig's fetch path, never taken: see the shim.
    b.onResolve({ filter: /^node-fetch$/ }, (args) => (args.importer.includes("/@kubernetes/client-node/") ? { path: join(root, "scripts/shims/node-fetch.mjs") } : undefined));
  },
};

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const worker = "packages/agent/src/chunks/worker.ts";
const dedupWorker = "packages/agent/src/dedup/encode-worker.ts";
export const programs = [
  { name: "dp-agent", dir: "packages/agent/dist", entries: { "dp-agent": "packages/agent/src/cli.ts", "chunk-worker": worker, "dedup-worker": dedupWorker } },
  { name: "operator", dir: "packages/operator/dist", entries: { operator: "packages/operator/src/main.ts" } },
  { name: "threescale-dp", dir: "packages/threescale/dist", entries: { "threescale-dp": "packages/threescale/src/cli.ts", "chunk-worker": worker, "dedup-worker": dedupWorker } },
  { name: "kubectl-dp", dir: "packages/cli/dist", entries: { "kubectl-dp": "packages/cli/src/cli.ts" } },
];

// `node scripts/build.mjs dp-agent` builds only the programs named.
const only = process.argv.slice(2);
const unknown = only.filter((n) => !programs.some((p) => p.name === n));
if (unknown.length) throw new Error(`build: no program ${unknown.join(", ")} (programs: ${programs.map((p) => p.name).join(", ")})`);
const chosen = only.length ? programs.filter((p) => only.includes(p.name)) : programs;
const started = Date.now();
for (const p of chosen) {
  const dist = join(root, p.dir);
  mkdirSync(dist, { recursive: true });
  const tmp = mkdtempSync(join(dist, ".build-"));
  try {
    await build({
      entryPoints: Object.fromEntries(Object.entries(p.entries).map(([k, v]) => [k, join(root, v)])),
      outdir: tmp,
      bundle: true,
      splitting: true,
      format: "esm",
      platform: "node",
      target: "node20",
      chunkNames: "shared-[hash]",
      external: ["zstd-napi"],
      plugins: [clientNodeWithoutSideEffects],
      // CommonJS dependencies (client-node, winston, the AWS SDK, commander) call require().
      banner: { js: 'import { createRequire as __dpCreateRequire } from "node:module"; const require = __dpCreateRequire(import.meta.url);' },
      legalComments: "none",
      logLevel: "warning",
    });
    const files = readdirSync(tmp);
    for (const f of [...files.filter((f) => f.startsWith("shared-")), ...files.filter((f) => !f.startsWith("shared-"))]) renameSync(join(tmp, f), join(dist, f));
    // Chunks of older builds, once no run of them can still be loading one (an hour on).
    for (const f of readdirSync(dist)) {
      if (f.startsWith("shared-") && !files.includes(f) && Date.now() - statSync(join(dist, f)).mtimeMs > 3600_000) rmSync(join(dist, f), { force: true });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
console.log(`build: ${chosen.map((p) => p.name).join(", ")} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
