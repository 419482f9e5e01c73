// The chart the way users install it: `helm install` (the real helm, built by the set-up) into the
// test control plane, the operator running as the rendered Deployment's pod on the local node (the
// compiled operator at the image's path, the chart's ServiceAccount token as its only credential),
// a datafile Backup and a RestoreJob through it with the bytes compared, then `helm upgrade`
// (the Deployment rolls, every Backup stays) and `helm uninstall` (the CRDs and Backups stay).
import { expect } from "chai";
import { ApiextensionsV1Api, AppsV1Api, CoordinationV1Api, RbacAuthorizationV1Api, type KubeConfig } from "@kubernetes/client-node";
import { DataProtectionGroup, Finalizer } from "@dataprotection/api";
import { freePort } from "@dataprotection/testenv";
import { e2eCluster, testNamespace, until } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, getBackup, hostPathOf, installShared, readTree, runJob, seedScript, startTargetPod } from "../backup/fixtures.ts";
import { createRestoreJob, createStatefulSet, waitReady, waitRestore } from "../restore/seed.ts";
import { chart, helm, operatorPods as podsOf, releaseBackups } from "./fixtures.ts";

const RELEASE = "dp-e2e";
const operatorPods = (kc: KubeConfig, ns: string) => podsOf(kc, ns, RELEASE);

describe("chart: helm install, the operator from its Deployment, upgrade, uninstall", function () {
  this.timeout(600_000);

  it("installs, backs up and restores through the Deployment's operator under its own ServiceAccount, upgrades keeping every Backup, and uninstalls keeping the CRDs and the Backups", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const cfg = controlPlane.kubeconfigPath;
    await installShared(kc);
    const ns = await testNamespace(kc, "chart");
    let installed = false;
    try {
      // One namespace watched, so the operator leaves other suites' objects alone; the built-in
      // tools are already installed cluster-wide by the suites (installShared).
      const port = await freePort();
      const values = [`replicaCount=1`, `metricsPort=${port}`, `watchNamespace=${ns.name}`, "builtinTools.enabled=false", "logLevel=debug"];
      // The suites installed the same CRDs with their own field manager: Helm's server-side apply
      // takes them over (--force-conflicts) instead of refusing.
      await helm(cfg, ["install", RELEASE, chart, "-n", ns.name, "--set", values.join(","), "--force-conflicts", "--wait", "--timeout", "3m"]);
      installed = true;

      const pods = await until("the operator's pod Ready", async () => ((await operatorPods(kc, ns.name)).length === 1 ? operatorPods(kc, ns.name) : undefined), 120_000);
      const pod = pods[0]!;
      expect(pod.spec!.serviceAccountName).to.equal(`${RELEASE}-operator`);
      expect(pod.spec!.containers[0]!.command).to.deep.equal(["node", "--max-semi-space-size=4", "--heap-growing-percent=15", "/opt/dataprotection/packages/operator/dist/operator.js"]);
      expect(pod.spec!.volumes?.some((v) => v.projected?.sources?.some((s) => s.serviceAccountToken)), "the ServiceAccount token is its credential").to.equal(true);
      // Leader election ran as that account (its Role in the release namespace), from this pod.
      const lease = await until("the operator's Lease", async () => {
        const l = await kc.makeApiClient(CoordinationV1Api).readNamespacedLease({ name: "dataprotection-operator", namespace: ns.name }).catch(() => undefined);
        return l?.spec?.holderIdentity ? l : undefined;
      }, 60_000);
      expect(lease.spec!.holderIdentity).to.contain(pod.metadata!.name!);

      // A datafile Backup and a RestoreJob through that operator, bytes compared.
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", seedScript(200), [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      await createPolicy(kc, ns.name, "daily", datafilePolicy("volume"));
      await createBackup(kc, ns.name, "b1", "daily");
      const b = await backupInPhase(kc, ns.name, "b1", ["Completed"], 180_000);
      expect(b.status!.manifests!.backupTool!.backupId).to.equal(b.metadata!.uid);
      await createStatefulSet(kc, ns.name, "restored", 1, { app: "restored" });
      await waitReady(kc, ns.name, "restored", 1);
      await createRestoreJob(kc, ns.name, "r1", { backupJobName: "b1", labels: { app: "restored" }, claim: "data-restored-0" });
      await waitRestore(kc, ns.name, "r1", "Completed");
      const source = await readTree(await hostPathOf(kc, ns.name, "data"));
      const restored = await readTree(await hostPathOf(kc, ns.name, "data-restored-0"));
      expect(source.size).to.equal(200);
      expect([...restored.keys()].sort()).to.deep.equal([...source.keys()].sort());
      for (const [k, v] of source) expect(restored.get(k)!.equals(v), k).to.equal(true);

      // helm upgrade with a changed value rolls the Deployment; the Backup and its data stay.
      const apps = kc.makeApiClient(AppsV1Api);
      const before = await apps.readNamespacedDeployment({ name: `${RELEASE}-operator`, namespace: ns.name });
      await helm(cfg, ["upgrade", RELEASE, chart, "-n", ns.name, "--set", [...values.filter((v) => !v.startsWith("logLevel=")), "logLevel=info"].join(","), "--force-conflicts", "--wait", "--timeout", "3m"]);
      const rolled = await until("the upgraded pod Ready", async () => {
        const ps = await operatorPods(kc, ns.name);
        return ps.length === 1 && ps[0]!.metadata!.uid !== pod.metadata!.uid ? ps[0] : undefined;
      }, 120_000);
      expect(rolled.spec!.containers[0]!.env!.find((e) => e.name === "DP_LOG_LEVEL")!.value).to.equal("info");
      const after = await apps.readNamespacedDeployment({ name: `${RELEASE}-operator`, namespace: ns.name });
      expect(after.metadata!.generation).to.be.greaterThan(before.metadata!.generation!);
      expect((await getBackup(kc, ns.name, "b1"))?.status?.phase).to.equal("Completed");

      // helm uninstall: the operator and its RBAC go; the CRDs and the Backup (with its finalizer) stay.
      await helm(cfg, ["uninstall", RELEASE, "-n", ns.name, "--wait", "--timeout", "3m"]);
      installed = false;
      await until("the operator's pods gone", async () => ((await operatorPods(kc, ns.name)).length === 0 ? true : undefined), 60_000);
      const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
      expect(await rbac.readClusterRole({ name: `${RELEASE}-operator` }).then(() => true, () => false), "ClusterRole removed").to.equal(false);
      const crds = await kc.makeApiClient(ApiextensionsV1Api).listCustomResourceDefinition();
      expect(crds.items.map((c) => c.metadata!.name)).to.include.members([`backups.${DataProtectionGroup}`, `backuppolicies.${DataProtectionGroup}`, `restorejobs.${DataProtectionGroup}`]);
      const kept = await getBackup(kc, ns.name, "b1");
      expect(kept?.status?.phase).to.equal("Completed");
      expect(kept?.metadata?.finalizers).to.include(Finalizer);
    } finally {
      if (installed) await helm(cfg, ["uninstall", RELEASE, "-n", ns.name, "--wait", "--timeout", "3m"]).catch(() => undefined);
      // No operator runs now: let the Backups go without deleting data (the namespace goes with them).
      await releaseBackups(kc, ns.name);
      await ns.cleanup();
    }
  });
});
