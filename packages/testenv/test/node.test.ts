// The local node under the real scheduler, Job controller, PV controller and RBAC.
import { expect } from "chai";
import { readFile } from "node:fs/promises";
import { BatchV1Api, CoreV1Api, RbacAuthorizationV1Api, type V1Job, type V1Pod } from "@kubernetes/client-node";
import { sharedCluster } from "../src/node/shared-cluster.ts";
import { containerTerminated, testNamespace, until } from "./node-helpers.ts";

function job(name: string, script: string, extra: Partial<V1Pod["spec"]> = {}, backoffLimit = 0): V1Job {
  return {
    metadata: { name },
    spec: {
      backoffLimit,
      template: {
        spec: {
          restartPolicy: "Never",
          containers: [{ name: "main", image: "busybox", command: ["sh", "-c", script] }],
          ...extra,
        },
      },
    },
  };
}

async function jobCondition(batch: BatchV1Api, namespace: string, name: string, type: string) {
  return until(`Job ${namespace}/${name} ${type}`, async () => {
    const j = await batch.readNamespacedJob({ name, namespace });
    return j.status?.conditions?.find((c) => c.type === type && c.status === "True");
  }, 90_000);
}

describe("local node", function () {
  this.timeout(180_000);

  it("runs a Job that writes into its PVC; the bytes land in the PV directory", async () => {
    const { controlPlane } = await sharedCluster();
    const kc = controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const ns = await testNamespace(kc, "node-job-pvc");
    try {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: ns.name,
        body: { metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "1Mi" } } } },
      });
      await batch.createNamespacedJob({
        namespace: ns.name,
        body: job("writer", 'printf "hello from $POD_NAME" > /data/out.txt', {
          containers: [{
            name: "main", image: "busybox", command: ["sh", "-c", 'printf "hello from $POD_NAME" > /data/out.txt'],
            env: [{ name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } }],
            volumeMounts: [{ name: "d", mountPath: "/data" }],
          }],
          volumes: [{ name: "d", persistentVolumeClaim: { claimName: "data" } }],
        }),
      });
      await jobCondition(batch, ns.name, "writer", "Complete");
      const pvc = await core.readNamespacedPersistentVolumeClaim({ name: "data", namespace: ns.name });
      expect(pvc.spec?.storageClassName).to.equal("local-path");
      const pv = await core.readPersistentVolume({ name: pvc.spec!.volumeName! });
      const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "job-name=writer" });
      expect(pods.items).to.have.length(1);
      expect(pods.items[0].spec?.nodeName).to.equal("local-node-0");
      expect(pods.items[0].status?.phase).to.equal("Succeeded");
      expect(containerTerminated(pods.items[0], "main")?.reason).to.equal("Completed");
      const bytes = await readFile(`${pv.spec!.hostPath!.path}/out.txt`, "utf8");
      expect(bytes).to.equal(`hello from ${pods.items[0].metadata!.name}`);
    } finally {
      await ns.cleanup();
    }
  });

  it("fails a Job whose container exits 3 once backoffLimit is exceeded", async () => {
    const { controlPlane } = await sharedCluster();
    const kc = controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const batch = kc.makeApiClient(BatchV1Api);
    const ns = await testNamespace(kc, "node-job-fail");
    try {
      await batch.createNamespacedJob({ namespace: ns.name, body: job("fails", "echo giving up >&2; exit 3", {}, 1) });
      const failed = await jobCondition(batch, ns.name, "fails", "Failed");
      expect(failed.reason).to.equal("BackoffLimitExceeded");
      const pods = await core.listNamespacedPod({ namespace: ns.name, labelSelector: "job-name=fails" });
      expect(pods.items).to.have.length(2); // the first try and one retry
      for (const p of pods.items) {
        expect(p.status?.phase).to.equal("Failed");
        const t = containerTerminated(p, "main");
        expect(t?.exitCode).to.equal(3);
        expect(t?.reason).to.equal("Error");
      }
    } finally {
      await ns.cleanup();
    }
  });

  it("gives a pod its service-account token: its RoleBinding allows its namespace, not another", async () => {
    const { controlPlane } = await sharedCluster();
    const kc = controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const rbac = kc.makeApiClient(RbacAuthorizationV1Api);
    const ns = await testNamespace(kc, "node-sa");
    const other = await testNamespace(kc, "node-sa-other");
    try {
      await core.createNamespacedServiceAccount({ namespace: ns.name, body: { metadata: { name: "reader" } } });
      await rbac.createNamespacedRole({
        namespace: ns.name,
        body: { metadata: { name: "cm-reader" }, rules: [{ apiGroups: [""], resources: ["configmaps"], verbs: ["list", "get"] }] },
      });
      await rbac.createNamespacedRoleBinding({
        namespace: ns.name,
        body: {
          metadata: { name: "reader-cm" },
          roleRef: { apiGroup: "rbac.authorization.k8s.io", kind: "Role", name: "cm-reader" },
          subjects: [{ kind: "ServiceAccount", name: "reader", namespace: ns.name }],
        },
      });
      const script = [
        "SA=/var/run/secrets/kubernetes.io/serviceaccount",
        'call() { curl -s -o /dev/null -w "%{http_code}" --cacert $SA/ca.crt -H "Authorization: Bearer $(cat $SA/token)" "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/$1/configmaps"; }',
        'echo "$(cat $SA/namespace) $(call $(cat $SA/namespace)) $(call $OTHER)" > /dev/termination-log',
      ].join("\n");
      await core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: "lister" },
          spec: {
            serviceAccountName: "reader",
            restartPolicy: "Never",
            containers: [{ name: "main", image: "curlimages/curl", command: ["sh", "-c", script], env: [{ name: "OTHER", value: other.name }] }],
          },
        },
      });
      const t = await until("lister terminated", async () =>
        containerTerminated(await core.readNamespacedPod({ name: "lister", namespace: ns.name }), "main"), 60_000);
      expect(t.message?.trim()).to.equal(`${ns.name} 200 403`);
      expect(t.exitCode).to.equal(0);
    } finally {
      await Promise.all([ns.cleanup(), other.cleanup()]);
    }
  });
});
