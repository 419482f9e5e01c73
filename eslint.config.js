// Flat config: typescript-eslint's recommended rules over every package, and the layers.
import js from "@eslint/js";
import tseslint from "typescript-eslint";

const workspaces = ["agent", "api", "cli", "controllers", "operator", "runtime", "storage", "testenv", "threescale", "tools"];

// The workspaces each package's code may import besides itself: api <- runtime <- controllers,
// storage <- agent; tools, threescale and cli sit on api/runtime/agent/storage and import no
// controllers code; operator (the program) composes controllers and the threescale plugin.
// testenv (the fake cluster) is for tests, benches, e2e and the embedded start.
const layers = {
  api: [],
  storage: ["api"],
  runtime: ["api"],
  agent: ["api", "storage"],
  controllers: ["api", "runtime", "storage"],
  tools: ["api", "runtime", "agent", "storage"],
  threescale: ["api", "runtime", "agent", "storage"],
  cli: ["api", "runtime", "agent", "storage"],
  testenv: ["api"],
  operator: ["api", "runtime", "storage", "controllers", "threescale"],
};

/** no-restricted-imports for `files` of package `pkg`: only `allowed` workspaces, and no relative path into another package. */
function layer(pkg, allowed, files) {
  const refused = workspaces.filter((w) => w !== pkg && !allowed.includes(w));
  return {
    files,
    rules: {
      "no-restricted-imports": ["error", {
        patterns: [
          {
            regex: `^@dataprotection/(${refused.join("|")})(/|$)`,
            message: `${pkg} may import ${allowed.length ? allowed.map((w) => `@dataprotection/${w}`).join(", ") : "no other workspace"} (layers: eslint.config.js).`,
          },
          {
            regex: `^(\\.\\./)+(packages/|e2e/|(${workspaces.join("|")})/)`,
            message: "Reach another package through its name and index.ts (@dataprotection/...), not a relative path into its files; share test fixtures through @dataprotection/testenv.",
          },
        ],
      }],
    },
  };
}

const tests = (pkg) => [`packages/${pkg}/**/*.test.ts`, `packages/${pkg}/test/**`, `packages/${pkg}/bench/**`];

export default tseslint.config(
  { ignores: ["**/node_modules/**", "crds/**", "docs/**", "coverage/**", ".dp/**", "**/*.js", "**/go/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/no-explicit-any": "error",
    },
  },
  // Later objects win: a package's tests and benches may also use testenv; e2e may import anything.
  ...Object.entries(layers).map(([pkg, allowed]) => layer(pkg, allowed, [`packages/${pkg}/**`])),
  ...Object.entries(layers).map(([pkg, allowed]) => layer(pkg, [...allowed, "testenv"], tests(pkg))),
  // `npm start` with no cluster boots the embedded control plane and installs a shipped tool.
  layer("operator", [...layers.operator, "testenv", "tools"], ["packages/operator/src/demo.ts"]),
  {
    files: ["packages/**"],
    rules: {
      "no-restricted-syntax": ["error", {
        selector: "ImportExpression[source.value=/^@dataprotection\\//]",
        message: "Import a workspace statically, so the layering rule (no-restricted-imports) sees it.",
      }],
    },
  },
);
