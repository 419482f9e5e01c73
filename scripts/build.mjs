/* global process, console */
// The project's build: every program as compiled JavaScript, which the image and the chart's
// Deployment run (`npm start` and the tests may still run the sources through tsx).
//   packages/agent/dist/dp-agent.js          (its own script: worker threads, shared chunks)
//   packages/operator/dist/operator.js       the operator (core controllers + 3scale plugin)
//   packages/threescale/dist/threescale-dp.js the 3scale tool's CLI
//   packages/cli/dist/kubectl-dp.js          the kubectl plugin
// One esbuild bundle each; third-party code is bundled too (fewer files to resolve at start),
// except the native zstd addon, loaded from node_modules. Each bundle is written to a temp
// file and renamed into place, so a concurrent run never reads a torn file.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { mkdirSync, renameSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
export const programs = [
  { name: "operator", entry: "packages/operator/src/main.ts", out: "packages/operator/dist/operator.js" },
  { name: "threescale-dp", entry: "packages/threescale/src/cli.ts", out: "packages/threescale/dist/threescale-dp.js" },
  { name: "kubectl-dp", entry: "packages/cli/src/cli.ts", out: "packages/cli/dist/kubectl-dp.js" },
];

const started = Date.now();
execFileSync(process.execPath, [join(root, "packages/agent/scripts/build.mjs")], { stdio: "inherit" });
for (const p of programs) {
  const out = join(root, p.out);
  mkdirSync(dirname(out), { recursive: true });
  const tmp = `${out}.${process.pid}.tmp`;
  await build({
    entryPoints: [join(root, p.entry)],
    outfile: tmp,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    external: ["zstd-napi"],
    // CommonJS dependencies (client-node, winston, the AWS SDK, commander) call require().
    banner: { js: 'import { createRequire as __dpCreateRequire } from "node:module"; const require = __dpCreateRequire(import.meta.url);' },
    legalComments: "none",
    logLevel: "warning",
  });
  renameSync(tmp, out);
}
console.log(`build: ${["dp-agent", ...programs.map((p) => p.name)].join(", ")} in ${((Date.now() - started) / 1000).toFixed(1)}s`);
