// npm run test:chaos: the operator is SIGKILLed and restarted at random moments while Backups,
// a RestoreJob and deletions are under way (and the API server restarts once). What must hold
// afterwards: every Backup Completed with exactly one tool Job per attempt, every backup's data
// verifies, the restore brings the bytes back and the StatefulSet its replicas, deleting the
// Backups removes their data, and nothing is left holding a finalizer. Each wait is bounded;
// the seed (DP_CHAOS_SEED) makes the kill schedule reproducible.
import { expect } from "chai";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { Backup } from "@dataprotection/api";
import { e2eCluster, getCustom, operatorIdentity, testNamespace, untilInNamespace } from "../harness.ts";
import { jobsOf } from "../backup/fixtures.ts";
import { Chaos, rng } from "./chaos.ts";
import { createPolicy, createRepo, createRestoreJob, createStatefulSet, createTool, deleteClusterObjects, pvcHostPath, treeDigest, waitReady, waitRestore, type Repo } from "../restore/seed.ts";

const BACKUPS = Number(process.env.DP_CHAOS_BACKUPS ?? "16");
const SEED = Number(process.env.DP_CHAOS_SEED ?? Date.now() % 1_000_000);

describe(`chaos: operator SIGKILLed at random (seed ${SEED})`, function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let ns: { name: string; cleanup: () => Promise<void> };
  let repo: Repo;
  let chaos: Chaos;
  const tool = `chaos-vol-${SEED}`;
  const labels = { app: "chaos-db" };

  before(async () => {
    const { controlPlane } = await e2eCluster();
    kc = controlPlane.kubeConfig;
    ns = await testNamespace(kc, "chaos");
    repo = await createRepo(kc, ns.name);
    // A short sleep widens the window in which a kill lands mid-Job.
    await createTool(kc, tool, {
      env: [{ name: "DATA_DIR", value: "/data" }],
      backupCommands: ["sh", "-c", 'set -e; sleep 3; dp-agent push-dir "$DATA_DIR"'],
      physical: { restoreCommands: ['set -e\nfind "$DATA_DIR" -mindepth 1 -delete\ndp-agent pull-dir "$DATA_DIR"'] },
    });
    await createPolicy(kc, ns.name, "chaos", tool, repo.name, labels);
    await createStatefulSet(kc, ns.name, "db", 1, labels);
    await waitReady(kc, ns.name, "db", 1);
    chaos = new Chaos((await operatorIdentity(kc)).kubeconfigPath, rng(SEED));
    console.log(`      chaos seed ${SEED} (replay: DP_CHAOS_SEED=${SEED} npm run test:chaos)`);
  });

  after(async () => {
    // One operator stays up while the namespace goes, so finalizers are honoured.
    await chaos?.calm();
    await ns?.cleanup();
    await chaos?.stop();
    await deleteClusterObjects(kc, repo ? [repo.name] : [], [tool]);
  });

  it(`takes ${BACKUPS} backups, restores one and deletes them all while the operator keeps dying; nothing hangs, nothing is lost`, async () => {
    const { controlPlane } = await e2eCluster();
    const custom = kc.makeApiClient(CustomObjectsApi);
    const dataDir = await pvcHostPath(kc, ns.name, "data-db-0");
    mkdirSync(join(dataDir, "sub"), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(join(dataDir, "sub", `f${i}.bin`), randomBytes(20_000 + i * 997));
    const original = treeDigest(dataDir);

    await chaos.start();
    const names = Array.from({ length: BACKUPS }, (_, i) => `c${i}`);
    for (const name of names) {
      await custom.createNamespacedCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", namespace: ns.name, plural: "backups", body: {
        apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup", metadata: { name }, spec: { backupPolicyName: "chaos", backupType: "datafile" },
      } });
      await new Promise((r) => setTimeout(r, 700));
      // Once, half-way: the API server goes away too.
      if (name === names[Math.floor(BACKUPS / 2)]) await controlPlane.restartApiServer();
    }

    for (const name of names) {
      const b = await untilInNamespace(kc, ns.name, `Backup ${name} Completed (kills so far: ${chaos.kills})`, async () => {
        const o = await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, name);
        if (o?.status?.phase === "Failed") throw new Error(`Backup ${name} Failed: ${o.status.failureReason}`);
        return o?.status?.phase === "Completed" ? o : undefined;
      }, 300_000, 500);
      // Exactly one tool Job per attempt: a restart never made a twin.
      const jobs = await jobsOf(kc, ns.name, name);
      expect(jobs.length, `tool Jobs of ${name}`).to.equal((b.status?.attempts ?? 0) + 1);
      // Its data is whole: dp-agent verify reads every chunk and checks every checksum.
      execFileSync("dp-agent", ["verify"], { env: { ...process.env, DP_REPO_KIND: "filesystem", DP_REPO_PATH: repo.hostPath, DP_BACKUP_PATH: `${ns.name}/${name}` }, stdio: "pipe" });
    }

    // A restore of the last backup, still under fire: the bytes come back, so do the replicas.
    writeFileSync(join(dataDir, "sub", "f0.bin"), "changed after the backups");
    writeFileSync(join(dataDir, "stray.txt"), "not in any backup");
    await createRestoreJob(kc, ns.name, "r1", { backupJobName: names[names.length - 1]!, labels, claim: "data-db-0" });
    await waitRestore(kc, ns.name, "r1", "Completed");
    expect(treeDigest(dataDir)).to.deep.equal(original);
    await waitReady(kc, ns.name, "db", 1);

    // Deleting every Backup removes every backup's data, still under fire.
    for (const name of names) await custom.deleteNamespacedCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", namespace: ns.name, plural: "backups", name });
    await untilInNamespace(kc, ns.name, `every Backup gone (kills so far: ${chaos.kills})`, async () => {
      const left = (await custom.listNamespacedCustomObject({ group: "dataprotection.kubeblocks.io", version: "v1alpha1", namespace: ns.name, plural: "backups" })) as { items: unknown[] };
      return left.items.length === 0 ? true : undefined;
    }, 300_000, 500);
    for (const name of names) expect(existsSync(join(repo.hostPath, ns.name, name)), `data of ${name}`).to.equal(false);
    await chaos.calm();
    console.log(`      operator SIGKILLed ${chaos.kills} times; API server restarted once`);
    expect(chaos.kills).to.be.greaterThan(3);
  });
});
