// The package layers (eslint.config.js) are a lint rule: these imports are what it must refuse or let through.
import { expect } from "chai";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

let eslint: ESLint | undefined;

async function layeringErrors(code: string, file: string): Promise<string[]> {
  eslint ??= new ESLint({ cwd: repoRoot });
  const [result] = await eslint.lintText(code, { filePath: resolve(repoRoot, file) });
  return result.messages.filter((m) => m.ruleId === "no-restricted-imports" || m.ruleId === "no-restricted-syntax").map((m) => m.message);
}

describe("package layering lint rule", function () {
  this.timeout(60_000);

  const refused: Array<[string, string, string, RegExp]> = [
    ["threescale imports controllers code", "packages/threescale/src/x.ts", `import { Kinds } from "@dataprotection/controllers";\nvoid Kinds;\n`, /threescale may import @dataprotection\/api, /],
    ["cli imports controllers types", "packages/cli/src/x.ts", `import type { OperatorContext } from "@dataprotection/controllers";\nexport type X = OperatorContext;\n`, /cli may import/],
    ["controllers import testenv outside the embedded start", "packages/controllers/src/x.ts", `import { startControlPlane } from "@dataprotection/testenv";\nvoid startControlPlane;\n`, /controllers may import/],
    ["runtime imports controllers", "packages/runtime/src/x.ts", `export { Kinds } from "@dataprotection/controllers";\n`, /runtime may import @dataprotection\/api \(/],
    ["api imports runtime", "packages/api/src/x.ts", `import { Kinds } from "@dataprotection/runtime";\nvoid Kinds;\n`, /api may import no other workspace/],
    ["agent imports the runtime", "packages/agent/src/x.ts", `import { KubeClient } from "@dataprotection/runtime";\nvoid KubeClient;\n`, /agent may import/],
    ["a relative path climbs into another package", "packages/threescale/src/controller/x.ts", `import { Kinds } from "../../../controllers/src/kinds.ts";\nvoid Kinds;\n`, /not a relative path into its files/],
    ["a workspace is imported dynamically", "packages/runtime/src/x.ts", `export const load = () => import("@dataprotection/controllers");\n`, /Import a workspace statically/],
  ];
  for (const [what, file, code, message] of refused) {
    it(`refuses: ${what}`, async () => {
      const errors = await layeringErrors(code, file);
      expect(errors, errors.join("\n")).to.have.length(1);
      expect(errors[0]).to.match(message);
    });
  }

  const allowed: Array<[string, string, string]> = [
    ["threescale imports api and runtime", "packages/threescale/src/x.ts", `import { Kinds } from "@dataprotection/api";\nimport { KubeClient } from "@dataprotection/runtime";\nvoid Kinds, KubeClient;\n`],
    ["the operator's embedded start imports testenv and tools", "packages/operator/src/demo.ts", `import { startControlPlane } from "@dataprotection/testenv";\nimport { volumeTool } from "@dataprotection/tools";\nvoid startControlPlane, volumeTool;\n`],
    ["a runtime test imports testenv", "packages/runtime/test/x.test.ts", `import { sharedControlPlane } from "@dataprotection/testenv";\nvoid sharedControlPlane;\n`],
    ["a package imports its own files", "packages/controllers/src/backup/x.ts", `import { Kinds } from "../kinds.ts";\nvoid Kinds;\n`],
  ];
  for (const [what, file, code] of allowed) {
    it(`allows: ${what}`, async () => {
      expect(await layeringErrors(code, file)).to.deep.equal([]);
    });
  }
});
