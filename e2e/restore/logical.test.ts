// Must-show 2: logical restore into running pods, podScope ReadWrite (the primary only)
// and All (every pod); the commands' effects are read back per pod.
import { expect } from "chai";
import { AppsV1Api, CoreV1Api, type KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { KubeClient, Kinds, type KubeObject } from "@dataprotection/runtime";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons } from "../harness.ts";
import {
  agent, createPolicy, createRepo, createRestoreJob, createStatefulSet, createTool, deleteClusterObjects, pvcHostPath, seedBackup, waitReady, waitRestore, type Repo,
} from "./seed.ts";

describe("RestoreJob logical restore (e2e)", function () {
  this.timeout(300_000);
  let kc: KubeConfig;
  let op: Operator;
  let ns: { name: string; cleanup: () => Promise<void> };
  let repo: Repo;
  const labels = { app: "pg" };
  const tools: string[] = [];
  const dirs: Record<string, string> = {};
  const uids: Record<string, string> = {};

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    ns = await testNamespace(kc, "rj-logic");
    op = await startTestOperator({ controllers: ["restorejob"], timeouts: { targetPodWaitMs: 60_000 } });
    repo = await createRepo(kc, ns.name);
    // The "database" of each pod is db.txt on its volume; the restore client appends the dump
    // and records who it connected to as whom.
    const restore = 'set -e\ndp-agent pull rows.sql >> "$DATA_DIR/db.txt"\necho "$BACKUP_NAME $DB_HOST:$DB_PORT $DB_USER:$DB_PASSWORD" >> "$DATA_DIR/clients.log"';
    for (const scope of ["ReadWrite", "All"] as const) {
      const name = `sql-${scope.toLowerCase()}-${ns.name}`;
      tools.push(name);
      await createTool(kc, name, { env: [{ name: "DATA_DIR", value: "/data" }], logical: { restoreCommands: [restore], podScope: scope } });
    }
    await createPolicy(kc, ns.name, "daily", tools[0]!, repo.name, labels);
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "pg-admin" }, stringData: { username: "admin", password: "s3cret" } } });
    await seedBackup(kc, ns.name, { name: "dump-rw", policy: "daily", tool: tools[0]!, repo, write: (p) => agent(repo, p, ["push", "rows.sql"], "INSERT rw-1;\nINSERT rw-2;\n") });
    await seedBackup(kc, ns.name, { name: "dump-all", policy: "daily", tool: tools[1]!, repo, write: (p) => agent(repo, p, ["push", "rows.sql"], "INSERT all-1;\n") });
    await createStatefulSet(kc, ns.name, "pg", 2, labels, 5432);
    await waitReady(kc, ns.name, "pg", 2);
    const client = new KubeClient(kc);
    // pg-1 is the primary: ReadWrite must pick it by role, not by ordinal.
    for (const [pod, role] of [["pg-0", "secondary"], ["pg-1", "primary"]] as const) {
      const p = await client.patch<V1Pod & KubeObject>(Kinds.Pod, pod, ns.name, { metadata: { labels: { "kubeblocks.io/role": role } } });
      uids[pod] = p.metadata.uid!;
      dirs[pod] = await pvcHostPath(kc, ns.name, `data-${pod}`);
    }
    client.close();
  });

  after(async () => {
    await op?.stop();
    await ns?.cleanup();
    await deleteClusterObjects(kc, repo ? [repo.name] : [], tools);
  });

  async function expectPodsUntouched(): Promise<void> {
    const core = kc.makeApiClient(CoreV1Api);
    for (const pod of ["pg-0", "pg-1"]) {
      const p = await core.readNamespacedPod({ name: pod, namespace: ns.name });
      expect(p.metadata?.uid, `${pod} was not recreated`).to.equal(uids[pod]);
      expect(p.status?.containerStatuses?.[0]?.restartCount, `${pod} did not restart`).to.equal(0);
    }
    const sts = await kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: "pg", namespace: ns.name });
    expect(sts.spec?.replicas).to.equal(2);
  }

  const read = (pod: string, file: string) => (existsSync(join(dirs[pod]!, file)) ? readFileSync(join(dirs[pod]!, file), "utf8") : undefined);

  it("podScope ReadWrite restores through the primary pod only, with DB_HOST and the target secret's credentials", async () => {
    await createRestoreJob(kc, ns.name, "rw", { backupJobName: "dump-rw", labels, secret: "pg-admin" });
    const rj = await waitRestore(kc, ns.name, "rw", "Completed");
    expect(read("pg-1", "db.txt")).to.equal("INSERT rw-1;\nINSERT rw-2;\n");
    expect(read("pg-1", "clients.log")).to.equal("dump-rw 127.0.0.1:5432 admin:s3cret\n");
    expect(read("pg-0", "db.txt")).to.equal(undefined);
    expect(rj.status?.phase).to.equal("Completed");
    await expectPodsUntouched();
    // The Completed Event is written in the background, after the Completed status.
    const events = await untilEventReasons(kc, ns.name, "rw", ["Started", "Verified", "LogicalRestoring", "Completed"]);
    expect(events.map((e) => e.reason)).to.include.members(["Started", "Verified", "LogicalRestoring", "Completed"]);
    expect(events.map((e) => e.reason)).to.not.include("ScalingDown");
    const perPod = events.filter((e) => e.reason === "LogicalRestoring" && e.message?.includes("against pod")).map((e) => e.message);
    expect(perPod).to.deep.equal(['running the logical restore of Backup "dump-rw" against pod "pg-1" (podScope ReadWrite)']);
  });

  it("podScope All restores through every pod", async () => {
    await createRestoreJob(kc, ns.name, "all", { backupJobName: "dump-all", labels, secret: "pg-admin" });
    await waitRestore(kc, ns.name, "all", "Completed");
    expect(read("pg-0", "db.txt")).to.equal("INSERT all-1;\n");
    expect(read("pg-1", "db.txt")).to.equal("INSERT rw-1;\nINSERT rw-2;\nINSERT all-1;\n");
    expect(read("pg-0", "clients.log")).to.equal("dump-all 127.0.0.1:5432 admin:s3cret\n");
    await expectPodsUntouched();
  });
});
