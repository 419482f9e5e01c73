import { expect } from "chai";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { formatErrors, validateAPIManagerBackup } from "@dataprotection/api";

const file = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../examples/threescale/apimanagerbackup-with-databases.yaml");

describe("threescale includeDatabases: the example manifest", () => {
  it("examples/threescale/apimanagerbackup-with-databases.yaml is a valid APIManagerBackup with includeDatabases", () => {
    const obj = parse(readFileSync(file, "utf8")) as { spec: { includeDatabases?: boolean } };
    expect(formatErrors(validateAPIManagerBackup(obj))).to.deep.equal([]);
    expect(obj.spec.includeDatabases).to.equal(true);
  });
});
