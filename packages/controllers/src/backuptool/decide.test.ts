// The BackupTool controller's decide step: conditions and an Event only when the verdict changes.
import { expect } from "chai";
import type { BackupTool } from "@dataprotection/api";
import { decideBackupTool } from "./index.ts";

const NOW = new Date("2026-12-01T10:00:00.500Z");
const tool = (spec: Partial<BackupTool["spec"]> = {}, status?: BackupTool["status"]): BackupTool => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupTool", metadata: { name: "t", generation: 2 },
  spec: { image: "i", deployKind: "job", type: "file", backupCommands: ["b"], physical: { restoreCommands: ["r"] }, ...spec }, status,
});

describe("decideBackupTool", () => {
  it("sets Valid and RestoreSupported with the generation, and records the first verdict", () => {
    const d = decideBackupTool(tool(), NOW);
    expect(d.status?.observedGeneration).to.equal(2);
    expect(d.status?.conditions?.map((c) => [c.type, c.status, c.lastTransitionTime])).to.deep.equal([["Valid", "True", "2026-12-01T10:00:00Z"], ["RestoreSupported", "True", "2026-12-01T10:00:00Z"]]);
    expect(d.events).to.deep.equal([{ type: "Normal", reason: "Valid", message: 'BackupTool "t" is valid: commands present for type file, deployKind job' }]);
  });

  it("records nothing when the verdict is unchanged, and a Warning when it turns invalid", () => {
    const first = decideBackupTool(tool(), NOW);
    expect(decideBackupTool(tool({}, first.status), NOW).events).to.deep.equal([]);
    const bad = decideBackupTool(tool({ env: [{ name: "BACKUP_DIR", value: "/x" }] }, first.status), NOW);
    expect(bad.events?.map((e) => [e.type, e.reason])).to.deep.equal([["Warning", "InvalidEnv"]]);
  });
});
