// kubectl-dp against the real control plane and operator: a Backup made from a policy and
// followed to Completed, the list tables, a RestoreJob made from the Backup (target and
// credentials from its policy) followed to Completed with the bytes back, and bad input.
import { expect } from "chai";
import { randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Backup, RestoreJob } from "@dataprotection/api";
import { runCli } from "@dataprotection/cli";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, getCustom, startTestOperator, testNamespace } from "../harness.ts";
import { createPolicy, createRepo, createStatefulSet, createTool, deleteClusterObjects, pvcHostPath, treeDigest, waitReady, type Repo } from "../restore/seed.ts";

describe("kubectl-dp (e2e)", function () {
  this.timeout(400_000);
  let kc: KubeConfig;
  let kubeconfig: string;
  let op: Operator;
  let ns: { name: string; cleanup: () => Promise<void> };
  let repo: Repo;
  let tool: string;
  let dataDir: string;
  const labels = { app: "cli-db" };

  /** Runs kubectl-dp in this process; returns its exit code and what it printed. */
  async function dp(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["--kubeconfig", kubeconfig, "-n", ns.name, ...args], { out: (l) => out.push(l), err: (l) => err.push(l), pollMs: 300 });
    return { code, out, err };
  }

  before(async () => {
    const { controlPlane } = await e2eCluster();
    kc = controlPlane.kubeConfig;
    kubeconfig = controlPlane.kubeconfigPath;
    ns = await testNamespace(kc, "cli");
    op = await startTestOperator({ controllers: ["backup", "backuptool", "restorejob"], timeouts: { targetPodWaitMs: 60_000, podStartMs: 60_000 } });
    repo = await createRepo(kc, ns.name);
    tool = `cli-vol-${ns.name}`;
    await createTool(kc, tool, {
      env: [{ name: "DATA_DIR", value: "/data" }],
      backupCommands: ["sh", "-c", 'set -e; dp-agent push-dir "$DATA_DIR"'],
      physical: { restoreCommands: ['set -e\nfind "$DATA_DIR" -mindepth 1 -delete\ndp-agent pull-dir "$DATA_DIR"'] },
    });
    await createPolicy(kc, ns.name, "nightly", tool, repo.name, labels);
    await createStatefulSet(kc, ns.name, "db", 1, labels);
    await waitReady(kc, ns.name, "db", 1);
    dataDir = await pvcHostPath(kc, ns.name, "data-db-0");
    mkdirSync(join(dataDir, "sub"), { recursive: true });
    writeFileSync(join(dataDir, "a.bin"), randomBytes(200_000));
    writeFileSync(join(dataDir, "sub", "b.txt"), "row 1\nrow 2\n");
  });

  after(async () => {
    // The namespace first: its Backup and RestoreJob carry finalizers the operator removes.
    await ns?.cleanup();
    await op?.stop();
    await deleteClusterObjects(kc, repo ? [repo.name] : [], tool ? [tool] : []);
  });

  it("backup --wait creates a Backup from the policy and follows it to Completed", async () => {
    const r = await dp("backup", "nightly", "--name", "b1", "--wait", "--timeout", "3m");
    expect(r.code, r.err.join("\n")).to.equal(0);
    expect(r.out[0]).to.equal("backup.dataprotection.kubeblocks.io/b1 created");
    expect(r.out).to.include("backup/b1 Completed");
    const b = (await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, "b1"))!;
    expect(b.spec).to.deep.include({ backupPolicyName: "nightly", backupType: "datafile" });
    expect(r.out.at(-1)).to.equal(`backup/b1: ${b.status!.totalSize} in ${b.status!.duration} to repo ${repo.name}`);
  });

  it("list prints kubectl-style tables of backups and policies", async () => {
    const backups = await dp("list", "backups");
    expect(backups.code).to.equal(0);
    expect(backups.out[0]!.split(/\s+/)).to.deep.equal(["NAME", "POLICY", "TYPE", "PHASE", "SIZE", "DURATION", "PARENT", "AGE"]);
    expect(backups.out[1]!.split(/\s+/).slice(0, 4)).to.deep.equal(["b1", "nightly", "datafile", "Completed"]);
    const all = await dp("list", "backups", "-A");
    expect(all.out.some((l) => l.startsWith(`${ns.name} `) && l.includes(" b1 "))).to.equal(true);
    const policies = await dp("list", "policies");
    expect(policies.out[1]!.split(/\s+/)[0]).to.equal("nightly");
    const restores = await dp("list", "restores");
    expect(restores.code).to.equal(0);
    expect(restores.err).to.deep.equal([`No restores found in ${ns.name} namespace.`]);
  });

  it("restore --wait restores the backup to its policy's target pods and follows it to Completed: bytes identical", async () => {
    const original = treeDigest(dataDir);
    writeFileSync(join(dataDir, "a.bin"), "overwritten after the backup");
    writeFileSync(join(dataDir, "stray.txt"), "not in the backup");
    const r = await dp("restore", "b1", "--name", "r1", "--volume", "data:data-db-0:/data", "--wait", "--timeout", "5m");
    expect(r.code, `${r.out.join("\n")}\n${r.err.join("\n")}`).to.equal(0);
    expect(r.out[0]).to.equal("restorejob.dataprotection.kubeblocks.io/r1 created");
    expect(r.out).to.include("restorejob/r1 Completed");
    expect(treeDigest(dataDir)).to.deep.equal(original);
    const rj = (await getCustom<RestoreJob>(kc, "dataprotection.kubeblocks.io", "restorejobs", ns.name, "r1"))!;
    expect(rj.spec.target.labelsSelector).to.deep.equal({ matchLabels: labels });
    await waitReady(kc, ns.name, "db", 1);
  });

  it("refuses bad input with one line and exit code 2, and a taken name with exit code 1", async () => {
    const missing = await dp("backup", "no-such-policy");
    expect(missing.code).to.equal(2);
    expect(missing.err).to.deep.equal([`error: backuppolicy ${ns.name}/no-such-policy not found`]);
    const notDone = await dp("restore", "no-such-backup");
    expect(notDone.err).to.deep.equal([`error: backup ${ns.name}/no-such-backup not found`]);
    const badVolume = await dp("restore", "b1", "--volume", "data");
    expect(badVolume.code).to.equal(2);
    expect(badVolume.err[0]).to.contain("expected NAME:CLAIM:/MOUNT/PATH");
    const badType = await dp("backup", "nightly", "--type", "weekly");
    expect(badType.code).to.equal(2);
    expect(badType.err.join(" ")).to.contain("Allowed choices are datafile, logfile, snapshot");
    const taken = await dp("backup", "nightly", "--name", "b1");
    expect(taken.code).to.equal(1);
    expect(taken.err[0]).to.match(/already exists.*choose another --name/);
  });
});
