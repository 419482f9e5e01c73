// Table tests of BackupTool validation.
import { expect } from "chai";
import type { BackupTool } from "@dataprotection/api";
import { checkBackupTool, ToolReason } from "./validate.ts";

const t = (spec: Partial<BackupTool["spec"]>): BackupTool => ({
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupTool", metadata: { name: "x" },
  spec: { image: "i", deployKind: "job", type: "file", backupCommands: ["b"], physical: { restoreCommands: ["r"] }, ...spec },
});

describe("checkBackupTool", () => {
  const rows: Array<[string, Partial<BackupTool["spec"]>, boolean, string]> = [
    ["accepts a file tool run as a Job", {}, true, ToolReason.Valid],
    ["rejects empty backupCommands", { backupCommands: [] }, false, ToolReason.MissingCommands],
    ["rejects a pitr tool run as a Job", { type: "pitr" }, false, ToolReason.DeployKindMismatch],
    ["accepts a pitr tool run as a StatefulSet", { type: "pitr", deployKind: "statefulSet" }, true, ToolReason.Valid],
    ["rejects incremental restore without a full restore", { physical: { incrementalRestoreCommands: ["i"] } }, false, ToolReason.IncoherentRestore],
    ["rejects incremental backups that nothing restores", { incrementalBackupCommands: ["i"] }, false, ToolReason.IncoherentRestore],
    ["accepts incremental backups with incremental restore", { incrementalBackupCommands: ["i"], physical: { restoreCommands: ["r"], incrementalRestoreCommands: ["ir"] } }, true, ToolReason.Valid],
  ];
  for (const [name, spec, valid, reason] of rows) {
    it(name, () => {
      const c = checkBackupTool(t(spec));
      expect([c.valid, c.reason]).to.deep.equal([valid, reason]);
    });
  }
  it("reports a tool without restore commands as not restorable", () => {
    expect(checkBackupTool(t({ physical: undefined })).restorable).to.equal(false);
  });
});
