// Bundle dp-agent into dist/ (dp-agent.js + chunk-worker.js + shared chunks; ESM by the package type), so tool pods and
// tests start it with plain node: no tsx loader (~0.2 s and ~35 MiB per process and per thread).
// Builds into a temp directory and renames into place, so a concurrent run never reads a torn file.
import { build } from "esbuild";
import { mkdirSync, mkdtempSync, readdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const pkg = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(pkg, "dist");
mkdirSync(dist, { recursive: true });
const tmp = mkdtempSync(join(dist, ".build-"));
try {
  await build({
    entryPoints: { "dp-agent": join(pkg, "src/cli.ts"), "chunk-worker": join(pkg, "src/chunks/worker.ts") },
    outdir: tmp,
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    chunkNames: "shared-[hash]",
    // Native addon: loaded from node_modules at run time.
    external: ["zstd-napi"],
    // CommonJS dependencies (the AWS SDK, commander) call require().
    banner: { js: 'import { createRequire as __dpCreateRequire } from "node:module"; const require = __dpCreateRequire(import.meta.url);' },
    legalComments: "none",
    logLevel: "warning",
  });
  // Shared chunks first (content-hashed names), entry points last.
  const files = readdirSync(tmp);
  const fresh = new Set(files);
  for (const f of files.filter((f) => f.startsWith("shared-"))) renameSync(join(tmp, f), join(dist, f));
  for (const f of files.filter((f) => !f.startsWith("shared-"))) renameSync(join(tmp, f), join(dist, f));
  // Chunks of older builds, once no run of them can still be loading one (an hour on).
  for (const f of readdirSync(dist)) {
    if (f.startsWith("shared-") && !fresh.has(f) && Date.now() - statSync(join(dist, f)).mtimeMs > 3600_000) rmSync(join(dist, f), { force: true });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
