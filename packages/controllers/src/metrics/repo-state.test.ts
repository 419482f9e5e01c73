import { expect } from "chai";
import type { BackupRepo } from "@dataprotection/api";
import { repoReady } from "./repo-state.ts";

const repo = (name: string, phase?: string, deleting = false): BackupRepo =>
  ({ metadata: { name, ...(deleting ? { deletionTimestamp: "2026-01-01T00:00:00Z" } : {}) }, spec: { storageProviderRef: "s3" }, ...(phase ? { status: { phase } } : {}) }) as BackupRepo;

describe("metrics: BackupRepo readiness", () => {
  it("is 1 for a Ready repo, 0 for one that is not (yet), and absent for one being deleted", () => {
    expect(repoReady([repo("a", "Ready"), repo("b", "Failed"), repo("c", "PreChecking"), repo("d"), repo("e", "Deleting"), repo("f", "Ready", true)])).to.deep.equal([
      { labels: { repo: "a" }, value: 1 },
      { labels: { repo: "b" }, value: 0 },
      { labels: { repo: "c" }, value: 0 },
      { labels: { repo: "d" }, value: 0 },
    ]);
  });
});
