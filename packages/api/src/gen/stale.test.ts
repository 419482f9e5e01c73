import { expect } from "chai";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { generatedFiles } from "./files.ts";
import { repoRoot } from "../testdata/examples.ts";

describe("generated files", () => {
  const files = generatedFiles();

  for (const [path, content] of files) {
    it(`${path} is up to date`, () => {
      const full = resolve(repoRoot, path);
      expect(existsSync(full), `${path} is missing: run npm run gen`).to.equal(true);
      expect(readFileSync(full, "utf8") === content, `${path} is stale: run npm run gen`).to.equal(true);
    });
  }

  it("crds/ holds nothing the generator does not write", () => {
    const extra = readdirSync(resolve(repoRoot, "crds")).map((f) => `crds/${f}`).filter((p) => !files.has(p));
    expect(extra, "stale CRD files: run npm run gen and delete these").to.deep.equal([]);
  });
});
