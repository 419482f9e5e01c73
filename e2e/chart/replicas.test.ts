// Two operator replicas from the chart (leader election on): the leader's process is SIGKILLed
// while a Backup's tool Job runs; once the Lease expires (leaseDuration, 15 s, by each
// candidate's own clock) a new holder takes it: the standby, or the killed pod's restarted
// container (a new identity), whichever asks first. The Backup completes, and its tool Job was
// created exactly once.
import { expect } from "chai";
import { BatchV1Api, CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import { LabelBackupName, LabelJobRole } from "@dataprotection/api";
import { freePort } from "@dataprotection/testenv";
import { e2eCluster, testNamespace, until } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, installShared, runJob, seedScript, startTargetPod } from "../backup/fixtures.ts";
import { chart, helm, operatorPid, operatorPods, releaseBackups } from "./fixtures.ts";

const RELEASE = "dp-ha";
const LEASE_MS = 15_000;

async function lease(kc: KubeConfig, ns: string): Promise<V1Lease | undefined> {
  return kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "dataprotection-operator", namespace: ns }).catch(() => undefined);
}
const holderPod = (l: V1Lease | undefined) => l?.spec?.holderIdentity?.replace(/_[0-9a-f]+$/, "");

describe("chart: two operator replicas, the leader SIGKILLed mid-backup", function () {
  this.timeout(600_000);

  it("a new holder takes the Lease once it expires, the Backup completes, and its tool Job was made once", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const cfg = controlPlane.kubeconfigPath;
    await installShared(kc);
    const ns = await testNamespace(kc, "chart-ha");
    let installed = false;
    try {
      const values = ["replicaCount=2", `metricsPort=${await freePort()}`, `watchNamespace=${ns.name}`, "builtinTools.enabled=false", "flowSchema.enabled=false"];
      await helm(cfg, ["install", RELEASE, chart, "-n", ns.name, "--set", values.join(","), "--force-conflicts", "--wait", "--timeout", "3m"]);
      installed = true;
      await until("two ready replicas", async () => ((await operatorPods(kc, ns.name, RELEASE)).length === 2 ? true : undefined), 120_000);
      const first = await until("a leader", async () => (await lease(kc, ns.name))?.spec?.holderIdentity, 60_000);
      const leader = holderPod({ spec: { holderIdentity: first } })!;
      const pods = (await operatorPods(kc, ns.name, RELEASE)).map((p) => p.metadata!.name!);
      expect(pods).to.include(leader);

      // A Backup whose tool runs for a while: the kill lands while its Job runs.
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(50), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "daily", datafilePolicy("volume"));
      await createBackup(kc, ns.name, "b1", "daily");
      const batch = kc.makeApiClient(BatchV1Api);
      const jobsOf = async () => (await batch.listNamespacedJob({ namespace: ns.name, labelSelector: `${LabelBackupName}=b1` })).items;
      await until("b1's tool Job", async () => ((await jobsOf()).length > 0 ? true : undefined), 60_000, 200);

      const pid = operatorPid(leader);
      expect(pid, `the operator process of ${leader}`).to.be.a("number");
      process.kill(pid!, "SIGKILL");
      const killedAt = Date.now();
      const next = await until("a new holder of the Lease", async () => {
        const h = (await lease(kc, ns.name))?.spec?.holderIdentity;
        return h && h !== first ? h : undefined;
      }, 120_000, 250);
      const takeover = Date.now() - killedAt;
      const by = holderPod({ spec: { holderIdentity: next } }) === leader ? `${leader}'s restarted container` : `the standby ${holderPod({ spec: { holderIdentity: next } })}`;
      console.log(`    leader ${leader} SIGKILLed; ${by} took the Lease after ${(takeover / 1000).toFixed(1)} s (leaseDuration ${LEASE_MS / 1000} s)`);
      // The protocol's bound: the lease must expire on the standby's clock, then one retry period.
      expect(takeover, "takeover within leaseDuration + retry + slack").to.be.lessThan(LEASE_MS + 2_000 + 10_000);

      const b = await backupInPhase(kc, ns.name, "b1", ["Completed"], 180_000);
      expect(b.status?.phase).to.equal("Completed");
      const jobs = await jobsOf();
      expect(b.status?.attempts ?? 0, "no retry hid a lost Job").to.equal(0);
      const toolJobs = jobs.filter((j) => j.metadata?.labels?.[LabelJobRole] === "tool");
      expect(new Set(toolJobs.map((j) => j.metadata!.name)).size, "one tool Job, never a twin").to.equal(toolJobs.length);
      expect(toolJobs.length, `tool Jobs of b1: ${toolJobs.map((j) => j.metadata!.name).join(", ")}`).to.equal(1);
    } finally {
      if (installed) await helm(cfg, ["uninstall", RELEASE, "-n", ns.name, "--wait", "--timeout", "3m"]).catch(() => undefined);
      await releaseBackups(kc, ns.name);
      await ns.cleanup();
    }
  });
});
