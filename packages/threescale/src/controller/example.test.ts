import { expect } from "chai";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parse } from "yaml";
import { formatErrors, validateAPIManagerBackup, validateAPIManagerRestore } from "@dataprotection/api";

const dir = resolve(dirname(fileURLToPath(import.meta.url)), "../../../../examples/threescale");
const load = <T>(name: string): T => parse(readFileSync(resolve(dir, name), "utf8")) as T;

describe("threescale includeDatabases: the example manifests", () => {
  it("examples/threescale/apimanagerbackup-with-databases.yaml is a valid APIManagerBackup with includeDatabases", () => {
    const obj = load<{ spec: { includeDatabases?: boolean } }>("apimanagerbackup-with-databases.yaml");
    expect(formatErrors(validateAPIManagerBackup(obj))).to.deep.equal([]);
    expect(obj.spec.includeDatabases).to.equal(true);
  });
  it("examples/threescale/apimanagerrestore-with-databases.yaml is a valid APIManagerRestore of that backup", () => {
    const backup = load<{ metadata: { name: string } }>("apimanagerbackup-with-databases.yaml");
    const obj = load<{ spec: { restoreSource: { apiManagerBackup?: { name: string } } } }>("apimanagerrestore-with-databases.yaml");
    expect(formatErrors(validateAPIManagerRestore(obj))).to.deep.equal([]);
    expect(obj.spec.restoreSource.apiManagerBackup?.name).to.equal(backup.metadata.name);
  });
  it("examples/threescale/apimanagerrestore-from-repo.yaml is a valid APIManagerRestore from a BackupRepo path", () => {
    const obj = load<{ spec: { restoreSource: { backupRepo?: { name: string; path: string } } } }>("apimanagerrestore-from-repo.yaml");
    expect(formatErrors(validateAPIManagerRestore(obj))).to.deep.equal([]);
    expect(obj.spec.restoreSource.backupRepo?.path).to.match(/^\/[a-z0-9-]+\/[a-z0-9-]+$/);
    const both = { ...obj, spec: { restoreSource: { ...obj.spec.restoreSource, apiManagerBackup: { name: "x" } } } };
    expect(formatErrors(validateAPIManagerRestore(both)).join("\n")).to.contain("exactly one source must be set");
  });
});
