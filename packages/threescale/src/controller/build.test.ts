import { expect } from "chai";
import { buildHelperJob, buildResyncJob, RESYNC_COMMAND, SYSTEM_STORAGE_MOUNT } from "../tool/helper.ts";
import { buildToolJob, destinationClaim } from "./build.ts";

describe("threescale builders", () => {
  it("destination PVC: named after the CR, volumeName/storageClass/requests honoured, annotated, no owner", () => {
    const c = destinationClaim({ name: "b1", uid: "u1", namespace: "ns", spec: { backupDestination: { persistentVolumeClaim: { resources: { requests: "2Gi" }, volumeName: "pv-1", storageClass: "fast" } } } }, { name: "am", uid: "u2" });
    expect(c.metadata).to.deep.equal({ name: "b1", namespace: "ns", annotations: { "apps.3scale.net/apimanager-name": "am", "apps.3scale.net/apimanager-uid": "u2", "apps.3scale.net/apimanagerbackup-name": "b1", "apps.3scale.net/apimanagerbackup-uid": "u1" } });
    expect(c.spec).to.deep.equal({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } }, storageClassName: "fast", volumeName: "pv-1" });
  });

  it("tool Job: the tool's command with its own service account, the plain layout at the PVC root, bounded", () => {
    const j = buildToolJob({ kind: "APIManagerRestore", cr: { name: "r", namespace: "ns", uid: "u" }, claimName: "b1", readOnly: true, deadlineSeconds: 60 });
    const pod = j.spec!.template.spec!;
    expect(j.metadata!.name).to.equal("r-restore");
    expect(j.spec!.activeDeadlineSeconds).to.equal(60);
    expect(j.spec!.backoffLimit).to.equal(0);
    expect(pod.serviceAccountName).to.equal("threescale-apimanager");
    expect(pod.containers[0].command).to.deep.equal(["threescale-dp", "restore"]);
    expect(pod.volumes).to.deep.equal([{ name: "backup", persistentVolumeClaim: { claimName: "b1", readOnly: true } }]);
    const env = Object.fromEntries(pod.containers[0].env!.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(env).to.deep.include({ THREESCALE_STORE: "plain", THREESCALE_DIR: "/backupdata" });
    expect(j.metadata!.ownerReferences![0]).to.deep.include({ kind: "APIManagerRestore", uid: "u", controller: true });
  });

  it("helper Job: the tool pod's image, env, volumes and account, plus system-storage; no token volume", () => {
    const j = buildHelperJob({
      self: {
        metadata: { name: "tool-abc", namespace: "ns", uid: "pu" },
        spec: {
          nodeName: "n1", serviceAccountName: "sa",
          volumes: [{ name: "backup", persistentVolumeClaim: { claimName: "b1" } }, { name: "kube-api-access-x", projected: { sources: [{ serviceAccountToken: { path: "token" } }] } }],
          containers: [{ name: "threescale", image: "img", env: [{ name: "A", value: "1" }], volumeMounts: [{ name: "backup", mountPath: "/backupdata" }, { name: "kube-api-access-x", mountPath: "/var/run/secrets/kubernetes.io/serviceaccount" }] }],
        },
      },
      args: ["restore-files"], cli: "threescale-dp", claimName: "system-storage", step: "restore-files",
    });
    const pod = j.spec!.template.spec!;
    expect(j.metadata!.name).to.equal("tool-abc-restore-files");
    expect(j.metadata!.ownerReferences).to.deep.equal([{ apiVersion: "v1", kind: "Pod", name: "tool-abc", uid: "pu" }]);
    expect(pod.serviceAccountName).to.equal("sa");
    expect(pod.volumes!.map((v) => v.name)).to.deep.equal(["backup", "system-storage"]);
    expect(pod.containers[0]).to.deep.include({ image: "img", command: ["threescale-dp", "restore-files"], env: [{ name: "A", value: "1" }] });
    expect(pod.containers[0].volumeMounts).to.deep.equal([{ name: "backup", mountPath: "/backupdata" }, { name: "system-storage", mountPath: SYSTEM_STORAGE_MOUNT }]);
  });

  it("resync Job: the system-sidekiq pod template running bundle exec rake zync:resync:domains once", () => {
    const j = buildResyncJob({ spec: { serviceAccountName: "amp", containers: [{ name: "system-sidekiq", image: "system", command: ["bash", "-c", "sidekiq"], env: [{ name: "E", value: "1" }], readinessProbe: { exec: { command: ["x"] } } }] } }, "ns", "r");
    const pod = j.spec!.template.spec!;
    expect(pod.restartPolicy).to.equal("Never");
    expect(pod.serviceAccountName).to.equal("amp");
    expect(pod.containers).to.have.length(1);
    expect(pod.containers[0]).to.deep.include({ name: "system-sidekiq", image: "system", command: RESYNC_COMMAND, env: [{ name: "E", value: "1" }] });
    expect(pod.containers[0].readinessProbe).to.equal(undefined);
    expect(j.spec!.backoffLimit).to.equal(0);
  });
});
