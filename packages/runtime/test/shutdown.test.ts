import { expect } from "chai";
import { sharedControlPlane } from "@dataprotection/testenv";
import { Kinds, KubeClient, Manager, type GenericObject, type KubeObject } from "../src/index.ts";
import { memoryLogger, testNamespace, waitFor } from "./helpers.ts";

describe("runtime: graceful shutdown", function () {
  this.timeout(60_000);

  it("stop() takes no new work, lets in-flight reconciles finish, then releases the lease", async () => {
    const cp = await sharedControlPlane();
    const client = new KubeClient(cp.kubeConfig);
    const ns = await testNamespace(client, "rt-stop");
    const mgr = new Manager({
      kubeConfig: cp.kubeConfig,
      namespace: ns.name,
      logger: memoryLogger().logger,
      leaderElection: { leaseName: "stop", namespace: ns.name, leaseDurationMs: 4000, renewDeadlineMs: 3000, retryPeriodMs: 200 },
    });
    const started: string[] = [];
    const finished: string[] = [];
    let aborted = false;
    mgr.controller("slow").for(Kinds.ConfigMap).withOptions({ workers: 1 }).reconciler(async (req, ctx) => {
      if (!req.name.startsWith("slow")) return;
      started.push(req.name);
      await new Promise((r) => setTimeout(r, 1500));
      aborted ||= ctx.signal.aborted;
      finished.push(req.name);
    });
    try {
      await mgr.start();
      await waitFor("leader", () => mgr.isLeader);
      await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "slow-1", namespace: ns.name } });
      await client.create<GenericObject>(Kinds.ConfigMap, { metadata: { name: "slow-2", namespace: ns.name } });
      await waitFor("first reconcile running", () => started.length === 1);
      await mgr.stop();
      expect(finished, "in-flight reconcile finished").to.deep.equal(["slow-1"]);
      expect(started, "queued work not started after stop").to.deep.equal(["slow-1"]);
      expect(aborted, "a graceful stop does not abort").to.equal(false);
      const lease = await client.get<KubeObject & { spec: { holderIdentity?: string } }>(Kinds.Lease, "stop", ns.name);
      expect(lease.spec.holderIdentity ?? "", "lease released").to.equal("");
    } finally {
      await mgr.stop();
      await ns.remove();
    }
  });
});
