import { expect } from "chai";
import type { Backup } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";
import { backupParentIndexValues, backupPolicyIndexValues, withDescendants } from "./related.ts";

type BackupObject = Backup & KubeObject;

function backup(name: string, policy: string, parent?: { spec?: string; status?: string }): BackupObject {
  return {
    metadata: { name, namespace: "ns" },
    spec: { backupPolicyName: policy, backupType: "datafile", ...(parent?.spec ? { parentBackupName: parent.spec } : {}) },
    ...(parent?.status ? { status: { parentBackupName: parent.status } } : {}),
  } as BackupObject;
}

/** What the two cache indexes answer for a set of Backups. */
function indexed(all: BackupObject[]): { byPolicy: (p: string) => BackupObject[]; childrenOf: (n: string) => BackupObject[] } {
  return {
    byPolicy: (p) => all.filter((b) => backupPolicyIndexValues(b).includes(`ns/${p}`)),
    childrenOf: (n) => all.filter((b) => backupParentIndexValues(b).includes(`ns/${n}`)),
  };
}

const names = (bs: BackupObject[]): string[] => bs.map((b) => b.metadata.name ?? "").sort();

describe("Backups a policy's reconcile reads", () => {
  it("indexes a Backup by namespace/policy and by its parent in spec or status", () => {
    expect(backupPolicyIndexValues(backup("a", "pg"))).to.deep.equal(["ns/pg"]);
    expect(backupPolicyIndexValues(backup("a", ""))).to.deep.equal([]);
    expect(backupParentIndexValues(backup("a", "pg", { spec: "full" }))).to.deep.equal(["ns/full"]);
    expect(backupParentIndexValues(backup("a", "pg", { status: "full" }))).to.deep.equal(["ns/full"]);
    expect(backupParentIndexValues(backup("a", "pg", { spec: "full", status: "full" }))).to.deep.equal(["ns/full"]);
    expect(backupParentIndexValues(backup("a", "pg"))).to.deep.equal([]);
  });

  it("takes the policy's Backups and every descendant, whichever policy made it, and nothing else", () => {
    const all = [
      backup("pg-1", "pg"),
      backup("pg-2", "pg", { spec: "pg-1" }),
      backup("other-inc", "other", { status: "pg-2" }),
      backup("other-inc-2", "other", { spec: "other-inc" }),
      backup("other-full", "other"),
      backup("other-child", "other", { spec: "other-full" }),
    ];
    const { byPolicy, childrenOf } = indexed(all);
    expect(names(withDescendants(byPolicy("pg"), childrenOf))).to.deep.equal(["other-inc", "other-inc-2", "pg-1", "pg-2"]);
  });

  it("ends on cyclic parent names", () => {
    const all = [backup("a", "pg", { spec: "b" }), backup("b", "other", { spec: "a" })];
    const { byPolicy, childrenOf } = indexed(all);
    expect(names(withDescendants(byPolicy("pg"), childrenOf))).to.deep.equal(["a", "b"]);
  });
});
