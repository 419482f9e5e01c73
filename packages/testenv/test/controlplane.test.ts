import { expect } from "chai";
import { CoreV1Api, VersionApi } from "@kubernetes/client-node";
import { existsSync } from "node:fs";
import { startControlPlane, sharedControlPlane } from "../src/index.ts";
import { kubernetesVersion } from "../src/controlplane/binaries.ts";

describe("testenv control plane", () => {
  it("serves the real Kubernetes version it was built from", async () => {
    const cp = await sharedControlPlane();
    const info = await cp.kubeConfig.makeApiClient(VersionApi).getCode();
    expect(info.gitVersion).to.equal(kubernetesVersion());
    expect(info.major).to.equal("1");
  });

  it("creates the default ServiceAccount through the real controller-manager", async () => {
    const cp = await sharedControlPlane();
    const sa = await cp.kubeConfig.makeApiClient(CoreV1Api).readNamespacedServiceAccount({ name: "default", namespace: "default" });
    expect(sa.metadata?.name).to.equal("default");
  });

  it("keeps data across an API server restart", async () => {
    const cp = await sharedControlPlane();
    const core = cp.kubeConfig.makeApiClient(CoreV1Api);
    await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "survives-restart" }, data: { a: "1" } } });
    await cp.restartApiServer();
    const cm = await core.readNamespacedConfigMap({ name: "survives-restart", namespace: "default" });
    expect(cm.data).to.deep.equal({ a: "1" });
    await core.deleteNamespacedConfigMap({ name: "survives-restart", namespace: "default" });
  });

  it("keeps data across an etcd restart (SIGKILL), and serves writes after it", async () => {
    const cp = await startControlPlane({ controllerManager: false, scheduler: false });
    try {
      const core = cp.kubeConfig.makeApiClient(CoreV1Api);
      await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "before" }, data: { a: "1" } } });
      await cp.restartEtcd();
      expect((await core.readNamespacedConfigMap({ name: "before", namespace: "default" })).data).to.deep.equal({ a: "1" });
      await core.createNamespacedConfigMap({ namespace: "default", body: { metadata: { name: "after" }, data: { b: "2" } } });
      expect((await core.readNamespacedConfigMap({ name: "after", namespace: "default" })).data).to.deep.equal({ b: "2" });
    } finally {
      await cp.stop();
    }
  });

  it("stops every process and removes its directory", async () => {
    const cp = await startControlPlane({ controllerManager: false, scheduler: false });
    expect(existsSync(cp.dir)).to.equal(true);
    await cp.stop();
    expect(existsSync(cp.dir)).to.equal(false);
    await cp.stop(); // idempotent
  });
});
