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
    ["rejects empty backupCommands without restore commands", { backupCommands: [], physical: undefined }, false, ToolReason.MissingCommands],
    ["accepts empty backupCommands with restore commands (restore only)", { backupCommands: [] }, true, ToolReason.Valid],
    ["accepts a KubeBlocks 0.6 pitr tool: image \"\", backupCommands [], deployKind job, physical restore", { image: "", backupCommands: [], type: "pitr", deployKind: "job" }, true, ToolReason.Valid],
    ["rejects a pitr tool run as a Job", { type: "pitr" }, false, ToolReason.DeployKindMismatch],
    ["accepts a pitr tool run as a StatefulSet", { type: "pitr", deployKind: "statefulSet" }, true, ToolReason.Valid],
    ["rejects incremental restore without a full restore", { physical: { incrementalRestoreCommands: ["i"] } }, false, ToolReason.IncoherentRestore],
    ["rejects incremental backups that nothing restores", { incrementalBackupCommands: ["i"] }, false, ToolReason.IncoherentRestore],
    ["accepts clean absolute path env and other values", { env: [{ name: "DATA_DIR", value: "/data/pgdata" }, { name: "MODE", value: "../anything" }, { name: "LOG_DIR", value: "$(DATA_DIR)/log" }, { name: "DP_COMPRESSION_THREADS", value: "1" }] }, true, ToolReason.Valid],
    ["rejects env that redirects the backup directory", { env: [{ name: "BACKUP_DIR", value: "/backupdata/other-ns/b" }] }, false, ToolReason.InvalidEnv],
    ["rejects env that swaps the expected checksums", { env: [{ name: "DP_EXPECT_CHECKSUMS", value: "{}" }] }, false, ToolReason.InvalidEnv],
    ["rejects env that changes the repo credentials or endpoint", { env: [{ name: "AWS_ENDPOINT_URL", value: "http://evil" }] }, false, ToolReason.InvalidEnv],
    ["rejects env that changes the S3 bucket", { env: [{ name: "DP_S3_BUCKET", value: "x" }] }, false, ToolReason.InvalidEnv],
    ["rejects env that replaces the repo document", { env: [{ name: "DP_REPO_CONFIG", value: "{}" }] }, false, ToolReason.InvalidEnv],
    ["rejects env that replaces a repo secret", { env: [{ name: "DP_REPO_SECRET_ACCOUNT_KEY", value: "x" }] }, false, ToolReason.InvalidEnv],
    ["rejects a path env with a .. segment", { env: [{ name: "DATA_DIR", value: "/data/../etc" }] }, false, ToolReason.InvalidEnv],
    ["rejects a relative path env", { env: [{ name: "DATA_FILE", value: "data/x" }] }, false, ToolReason.InvalidEnv],
    ["rejects a path env with a NUL byte", { env: [{ name: "DATA_PATH", value: "/data\0/x" }] }, false, ToolReason.InvalidEnv],
    ["rejects an over-long path env", { env: [{ name: "DATA_DIR", value: "/" + "a".repeat(5000) }] }, false, ToolReason.InvalidEnv],
    ["accepts incremental backups with incremental restore", { incrementalBackupCommands: ["i"], physical: { restoreCommands: ["r"], incrementalRestoreCommands: ["ir"] } }, true, ToolReason.Valid],
  ];
  for (const [name, spec, valid, reason] of rows) {
    it(name, () => {
      const c = checkBackupTool(t(spec));
      expect([c.valid, c.reason]).to.deep.equal([valid, reason]);
    });
  }
  it("says when a tool is restore only and when its image is the target's", () => {
    expect(checkBackupTool(t({ image: "", backupCommands: [], type: "pitr" })).message).to.equal(
      "restore only: no backupCommands (a Backup with this tool fails ToolUnsuitable), restore commands present for type pitr; empty image: the target's first container's image is used");
  });
  it("reports a tool without restore commands as not restorable", () => {
    expect(checkBackupTool(t({ physical: undefined })).restorable).to.equal(false);
  });
});
