import { expect } from "chai";
import { buildHelperJob, buildResyncJob, RESYNC_COMMAND, SYSTEM_STORAGE_MOUNT } from "../tool/helper.ts";
import { threescaleToolFor } from "../tool/definition.ts";
import { buildBackup, buildPolicy, buildRestoreJob, buildToolJob, destinationClaim } from "./build.ts";

describe("threescale builders", () => {
  it("destination PVC: named after the CR, volumeName/storageClass/requests honoured, annotated, no owner", () => {
    const c = destinationClaim({ name: "b1", uid: "u1", namespace: "ns", spec: { backupDestination: { persistentVolumeClaim: { resources: { requests: "2Gi" }, volumeName: "pv-1", storageClass: "fast" } } } }, { name: "am", uid: "u2" });
    expect(c.metadata).to.deep.equal({ name: "b1", namespace: "ns", annotations: { "apps.3scale.net/apimanager-name": "am", "apps.3scale.net/apimanager-uid": "u2", "apps.3scale.net/apimanagerbackup-name": "b1", "apps.3scale.net/apimanagerbackup-uid": "u1" } });
    expect(c.spec).to.deep.equal({ accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "2Gi" } }, storageClassName: "fast", volumeName: "pv-1" });
  });

  it("tool Job: the tool's command with its own service account, the plain layout at the PVC root, bounded", () => {
    const j = buildToolJob({ cr: { name: "r", namespace: "ns", uid: "u" }, claimName: "b1", readOnly: true, deadlineSeconds: 60 });
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

describe("threescale builders: the generic objects", () => {
  const cr = { name: "b1", namespace: "ns", uid: "u1" };
  it("policy: targetless tool (empty selector), the CR's PVC with createPolicy Never, owned by the CR", () => {
    const p = buildPolicy(cr, { kind: "pvc", claimName: "b1" }, "threescale-apimanager-plain");
    expect(p.metadata).to.deep.include({ name: "b1-threescale", namespace: "ns" });
    expect(p.metadata!.ownerReferences![0]).to.deep.include({ kind: "APIManagerBackup", uid: "u1", controller: true });
    expect(p.spec.datafile).to.deep.equal({ backupToolName: "threescale-apimanager-plain", target: { labelsSelector: {} }, persistentVolumeClaim: { name: "b1", createPolicy: "Never" } });
    expect(buildPolicy(cr, { kind: "repo", repoName: "r" }, "threescale-apimanager").spec.datafile).to.deep.include({ backupRepoName: "r" });
  });
  it("Backup named after the CR on that policy; RestoreJob on the Backup, empty selector", () => {
    expect(buildBackup(cr, { kind: "repo", repoName: "r" })).to.deep.include({ spec: { backupPolicyName: "b1-threescale", backupType: "datafile" } });
    expect(buildBackup(cr, { kind: "repo", repoName: "r" }).metadata!.name).to.equal("b1");
    expect(buildBackup(cr, { kind: "repo", repoName: "r" }).metadata!.annotations).to.equal(undefined);
    expect(buildBackup(cr, { kind: "pvc", claimName: "b1" }).metadata!.annotations, "a default repo must not take a PVC backup").to.deep.equal({ "dataprotection.kubeblocks.io/backup-destination": "persistentVolumeClaim" });
    const rj = buildRestoreJob({ name: "r1", namespace: "ns", uid: "u2" }, "b1");
    expect(rj.spec).to.deep.include({ backupJobName: "b1", target: { labelsSelector: {} } });
    expect(rj.metadata!.ownerReferences![0]).to.deep.include({ kind: "APIManagerRestore", uid: "u2" });
  });
  it("tools: targetless, run as the tool account; the plain variant writes at the volume's root", () => {
    const agent = threescaleToolFor();
    const plain = threescaleToolFor({ plain: true, env: [{ name: "X", value: "1" }] });
    expect(agent.spec).to.deep.include({ targetless: true, serviceAccountName: "threescale-apimanager", backupCommands: ["threescale-dp", "backup"] });
    expect(plain.metadata!.name).to.equal("threescale-apimanager-plain");
    const env = Object.fromEntries(plain.spec.env!.filter((e) => e.value !== undefined).map((e) => [e.name, e.value]));
    expect(env).to.deep.equal({ THREESCALE_STORE: "plain", THREESCALE_DIR: "/backupdata", X: "1" });
    expect(agent.spec.env!.some((e) => e.name === "THREESCALE_STORE")).to.equal(false);
  });
});
