import { expect } from "chai";
import type { V1EnvVar } from "@kubernetes/client-node";
import { repoAccessFor } from "../backuprepo/access.ts";
import { buildLogicalJob, buildPhysicalJob, buildVerifyJob, shellCommand } from "./job.ts";
import { planRestore, type RestorePlan } from "./plan.ts";
import { backup, pod, repo, restoreJob, tool } from "./fixtures.test-util.ts";

function okPlan(p: ReturnType<typeof planRestore>): RestorePlan {
  if (p.kind !== "ok") throw new Error(JSON.stringify(p));
  return p.plan;
}
const envOf = (env: V1EnvVar[] | undefined) => Object.fromEntries((env ?? []).map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef?.key]));
const access = repoAccessFor(repo());

describe("restorejob job builders", () => {
  const chain = [backup("b0"), backup("i1", { parent: "b0", chain: ["b0"] })];
  const t = tool("vol", { physical: ["set -e", "dp-agent pull-dir $DATA_DIR"], incr: ["dp-agent pull-dir $DATA_DIR"], logical: ["psql < x"] });
  const rj = restoreJob({ backup: "i1", onFailAttempted: 2 });
  const plan = okPlan(planRestore({ restore: rj, backups: chain, tools: new Map([["vol", t]]), repos: new Map([["repo", repo()]]) }));

  it("runs a tool whose image is empty with the target's first container's image: the StatefulSet's pod template (physical), the pod (logical)", () => {
    const empty = { ...t, spec: { ...t.spec, image: "" } };
    const p = okPlan(planRestore({ restore: rj, backups: chain, tools: new Map([["vol", empty]]), repos: new Map([["repo", repo()]]) }));
    const template = { containers: [{ name: "postgres", image: "apecloud/spilo:14.8.0" }, { name: "exporter", image: "exporter:1" }] };
    const physical = buildPhysicalJob(rj, p, access, "agent:1", template).spec!.template.spec!;
    expect([...physical.initContainers!, ...physical.containers].map((c) => c.image)).to.deep.equal(["apecloud/spilo:14.8.0", "apecloud/spilo:14.8.0"]);
    const logical = buildLogicalJob(rj, p, access, pod("db-1"), "agent:1").spec!.template.spec!;
    expect([...logical.initContainers!, ...logical.containers].map((c) => c.image)).to.deep.equal(["db", "db"]);
    // A tool's own image always wins.
    expect(buildPhysicalJob(rj, plan, access, "agent:1", template).spec!.template.spec!.containers[0]!.image).to.equal("img");
  });

  it("verifies every backup of the chain with dp-agent, one container each, owned by the RestoreJob", () => {
    const job = buildVerifyJob(rj, plan, access, "agent:1");
    expect(job.metadata?.name).to.equal("rj-verify");
    expect(job.metadata?.ownerReferences?.[0]).to.include({ kind: "RestoreJob", name: "rj", uid: "uid-rj", controller: true });
    const spec = job.spec!.template.spec!;
    expect([...(spec.initContainers ?? []), ...spec.containers].map((c) => [c.name, c.command?.join(" "), envOf(c.env).BACKUP_DIR])).to.deep.equal([
      ["verify-0", "dp-agent verify", "/backupdata/ns/b0"],
      ["verify-1", "dp-agent verify", "/backupdata/ns/i1"],
    ]);
    expect(spec.volumes?.map((v) => v.persistentVolumeClaim?.claimName)).to.deep.equal(["dp-backup-repo"]);
    // An unreachable repo (exit 75) is tried again; any other failure fails the Job at once.
    expect(job.spec?.backoffLimit).to.equal(3);
    expect(job.spec?.podFailurePolicy).to.deep.equal({ rules: [{ action: "FailJob", onExitCodes: { operator: "NotIn", values: [75] } }] });
  });

  it("gives the verify, unseal and restore containers each object's checksum from the Backup's status (not the repo's manifest), when every file has one", () => {
    const recorded = backup("rec");
    recorded.status!.manifests!.backupTool!.files = [{ name: "dir.dpar", checksum: "sha256:" + "a".repeat(64) }, { name: "files.list", checksum: "sha256:" + "b".repeat(64) }];
    const p = okPlan(planRestore({ restore: restoreJob({ backup: "rec" }), backups: [recorded], tools: new Map([["vol", t]]), repos: new Map([["repo", repo()]]) }));
    const want = JSON.stringify({ "dir.dpar": "sha256:" + "a".repeat(64), "files.list": "sha256:" + "b".repeat(64) });
    expect(envOf(buildVerifyJob(rj, p, access, "agent:1").spec!.template.spec!.containers[0]!.env).DP_EXPECT_CHECKSUMS).to.equal(want);
    expect(envOf(buildPhysicalJob(rj, p, access, "agent:1").spec!.template.spec!.containers[0]!.env).DP_EXPECT_CHECKSUMS).to.equal(want);
    // Names without checksums (an older report, or a list cut to fit 4 KiB): the manifest decides.
    expect(envOf(buildVerifyJob(rj, plan, access, "agent:1").spec!.template.spec!.containers[0]!.env)).to.not.have.property("DP_EXPECT_CHECKSUMS");
  });

  it("gives every verify, unseal and restore container the backup id recorded by the Backup whose data it reads (DP_BACKUP_ID)", () => {
    const idOf = (c: { env?: V1EnvVar[] }) => envOf(c.env).DP_BACKUP_ID;
    const verify = buildVerifyJob(rj, plan, access, "agent:1").spec!.template.spec!;
    expect([...(verify.initContainers ?? []), ...verify.containers].map(idOf)).to.deep.equal(["uid-b0", "uid-i1"]);
    const physical = buildPhysicalJob(rj, plan, access, "agent:1").spec!.template.spec!;
    expect([...physical.initContainers!, ...physical.containers].map(idOf)).to.deep.equal(["uid-b0", "uid-i1"]);
    const logical = buildLogicalJob(rj, plan, access, pod("db-1"), "agent:1").spec!.template.spec!;
    expect([...logical.initContainers!, ...logical.containers].map(idOf)).to.deep.equal(["uid-b0", "uid-i1"]);
    const sealed = [backup("b0", { format: "SealedPlainFiles" }), backup("i1", { parent: "b0", chain: ["b0"], format: "SealedPlainFiles" })];
    const p = okPlan(planRestore({ restore: rj, backups: sealed, tools: new Map([["vol", t]]), repos: new Map([["repo", repo()]]) }));
    const spec = buildPhysicalJob(rj, p, access, "agent:1").spec!.template.spec!;
    expect([...spec.initContainers!, ...spec.containers].map((c) => [c.name, idOf(c)])).to.deep.equal([["unseal-0", "uid-b0"], ["unseal-1", "uid-i1"], ["restore-0", "uid-b0"], ["restore-1", "uid-i1"]]);
    // A Backup made before objects were bound records no id: none is given (its checksums still are).
    const legacy = backup("old");
    delete legacy.status!.manifests!.backupTool!.backupId;
    const lp = okPlan(planRestore({ restore: restoreJob({ backup: "old" }), backups: [legacy], tools: new Map([["vol", t]]), repos: new Map([["repo", repo()]]) }));
    expect(buildVerifyJob(rj, lp, access, "agent:1").spec!.template.spec!.containers.map(idOf)).to.deep.equal([undefined]);
  });

  it("verifies plain files kept in the repo with dp-agent verify-files against the checksum in the Backup's status", () => {
    const p = okPlan(planRestore({ restore: restoreJob({ backup: "kb" }), backups: [backup("kb", { format: "PlainFiles" })], tools: new Map([["vol", t]]), repos: new Map([["repo", repo()]]) }));
    const c = buildVerifyJob(rj, p, access, "agent:1").spec!.template.spec!.containers[0]!;
    expect(c.command).to.deep.equal(["dp-agent", "verify-files", "/backupdata/ns/kb", "--expect", "sha256:00"]);
    expect(c.volumeMounts?.map((m) => m.mountPath)).to.deep.equal(["/backupdata"]);
  });

  it("unpacks each sealed backup into a scratch BACKUP_DIR before the tool's restore commands, with the repo moved out of /backupdata", () => {
    const sealed = [backup("b0", { format: "SealedPlainFiles" }), backup("i1", { parent: "b0", chain: ["b0"], format: "SealedPlainFiles" })];
    const p = okPlan(planRestore({ restore: rj, backups: sealed, tools: new Map([["vol", t]]), repos: new Map([["repo", repo()]]) }));
    const spec = buildPhysicalJob(rj, p, access, "agent:1").spec!.template.spec!;
    const all = [...spec.initContainers!, ...spec.containers];
    expect(all.map((c) => c.name)).to.deep.equal(["unseal-0", "unseal-1", "restore-0", "restore-1"]);
    expect(all.slice(0, 2).map((c) => [c.image, envOf(c.env).BACKUP_DIR, envOf(c.env).DP_BACKUP_PATH, envOf(c.env).DP_REPO_PATH])).to.deep.equal([
      ["agent:1", "/backupdata/ns/b0", "ns/b0", "/dp/repo"],
      ["agent:1", "/backupdata/ns/i1", "ns/i1", "/dp/repo"],
    ]);
    expect(all[0]!.command!.join(" ")).to.contain("dp-agent pull-dir \"$BACKUP_DIR\" --name plain-files.dpar");
    expect(all[3]!.volumeMounts?.map((m) => `${m.name}:${m.mountPath}`)).to.deep.equal(["data:/data", "dp-backup-data:/dp/repo", "dp-plain-files:/backupdata"]);
    expect(envOf(all[3]!.env)).to.include({ BACKUP_DIR: "/backupdata/ns/i1", DP_REPO_PATH: "/dp/repo" });
    // Plain dp-agent backups keep the usual layout.
    expect(buildPhysicalJob(rj, plan, access, "agent:1").spec!.template.spec!.volumes!.map((v) => v.name)).to.not.include("dp-plain-files");
  });

  it("runs base then incremental restore commands in order with targetVolumes, the backup volume and the contract env", () => {
    const job = buildPhysicalJob(rj, plan, access, "agent");
    const spec = job.spec!.template.spec!;
    expect(job.spec?.backoffLimit).to.equal(2);
    expect(spec.restartPolicy).to.equal("Never");
    const [base, incr] = [spec.initContainers![0]!, spec.containers[0]!];
    expect(base.args).to.deep.equal(["set -e\ndp-agent pull-dir $DATA_DIR"]);
    expect(incr.args).to.deep.equal(["dp-agent pull-dir $DATA_DIR"]);
    expect(envOf(base.env)).to.include({ BACKUP_NAME: "b0", BACKUP_DIR: "/backupdata/ns/b0", DATA_DIR: "/data", DB_USER: "user", DB_PASSWORD: "pw", DP_REPO_KIND: "filesystem", DP_RESTORE_STEP: "base", DP_RESTORE_JOB_NAME: rj.metadata!.name! });
    expect(envOf(incr.env)).to.include({ BACKUP_NAME: "i1", BACKUP_DIR: "/backupdata/ns/i1", DP_RESTORE_STEP: "incremental" });
    expect(incr.volumeMounts?.map((m) => `${m.name}:${m.mountPath}`)).to.deep.equal(["data:/data", "dp-backup-data:/backupdata"]);
    expect(spec.volumes?.map((v) => v.persistentVolumeClaim?.claimName)).to.deep.equal(["data-db-0", "dp-backup-repo"]);
  });

  it("runs a logical restore on the target pod's node against its IP, with its PVCs at its mount paths", () => {
    const job = buildLogicalJob(rj, plan, access, pod("db-1", { ip: "10.1.2.3" }), "agent");
    const spec = job.spec!.template.spec!;
    expect(job.metadata?.name).to.equal("rj-logic-db-1");
    expect(spec.nodeName).to.equal("node-1");
    expect(envOf(spec.containers[0]!.env)).to.include({ DB_HOST: "10.1.2.3", DB_PORT: "5432" });
    expect(spec.containers[0]!.volumeMounts?.map((m) => `${m.name}:${m.mountPath}`)).to.deep.equal(["data:/var/lib/db", "dp-backup-data:/backupdata"]);
  });

  it("runs a command list that is a shell invocation as it is, and script lines through one sh -c", () => {
    expect(shellCommand(["sh", "-c", "set -e; tar -xf x", "arg0"])).to.deep.equal({ command: ["sh", "-c", "set -e; tar -xf x", "arg0"] });
    expect(shellCommand(["/bin/bash", "-c", "echo hi"])).to.deep.equal({ command: ["/bin/bash", "-c", "echo hi"] });
    expect(shellCommand(["set -e", "dp-agent pull-dir $DATA_DIR"])).to.deep.equal({ command: ["sh", "-c"], args: ["set -e\ndp-agent pull-dir $DATA_DIR"] });
    expect(shellCommand(["sh -c 'x'"])).to.deep.equal({ command: ["sh", "-c"], args: ["sh -c 'x'"] });
    const kb = tool("kb", { physical: ["sh", "-c", "set -e; mkdir -p ${DATA_DIR}; tar -xf ${BACKUP_DIR}/base.tar -C ${DATA_DIR}"] });
    const p = okPlan(planRestore({ restore: restoreJob({ backup: "b0" }), backups: [backup("b0", { tool: "kb" })], tools: new Map([["kb", kb]]), repos: new Map([["repo", repo()]]) }));
    const c = buildPhysicalJob(restoreJob({ backup: "b0" }), p, access, "agent").spec!.template.spec!.containers[0]!;
    expect(c.command).to.deep.equal(["sh", "-c", "set -e; mkdir -p ${DATA_DIR}; tar -xf ${BACKUP_DIR}/base.tar -C ${DATA_DIR}"]);
    expect(c.args).to.equal(undefined);
  });

  it("restores as root when the tool is annotated run-as-root, otherwise as the image's user", () => {
    expect(buildPhysicalJob(rj, plan, access, "agent").spec!.template.spec!.securityContext).to.equal(undefined);
    const rootTool = { ...t, metadata: { ...t.metadata, annotations: { "dataprotection.kubeblocks.io/run-as-root": "true" } } };
    const p = okPlan(planRestore({ restore: rj, backups: chain, tools: new Map([["vol", rootTool]]), repos: new Map([["repo", repo()]]) }));
    expect(buildPhysicalJob(rj, p, access, "agent").spec!.template.spec!.securityContext).to.deep.equal({ runAsUser: 0, runAsNonRoot: false });
    expect(buildLogicalJob(rj, p, access, pod("db-1"), "agent").spec!.template.spec!.securityContext).to.deep.equal({ runAsUser: 0, runAsNonRoot: false });
  });

  it("passes the recovery time to every step of a point-in-time restore", () => {
    const bs = [
      backup("full", { start: "2024-05-01T10:00:00Z", stop: "2024-05-01T10:05:00Z" }),
      backup("log", { type: "logfile", tool: "pitr", start: "2024-05-01T09:00:00Z", stop: "2024-05-01T11:00:00Z" }),
    ];
    const r = restoreJob({ restoreTime: "2024-05-01T10:30:00Z" });
    const p = okPlan(planRestore({ restore: r, backups: bs, tools: new Map([["vol", tool("vol", { physical: ["full"] })], ["pitr", tool("pitr", { physical: ["replay"] })]]), repos: new Map([["repo", repo()]]) }));
    const spec = buildPhysicalJob(r, p, access, "agent").spec!.template.spec!;
    const log = spec.containers[0]!;
    expect(log.args).to.deep.equal(["replay"]);
    expect(envOf(log.env)).to.include({
      BACKUP_NAME: "log", KB_RECOVERY_TIME: "2024-05-01T10:30:00Z", KB_RECOVERY_TIMESTAMP: String(Date.parse("2024-05-01T10:30:00Z") / 1000),
      BACKUP_START_TIME: "2024-05-01T10:00:00Z", BASE_BACKUP_NAME: "full",
    });
    expect(envOf(log.env).ARCHIVE_INTERVAL, "no interval recorded: none passed").to.equal(undefined);
    // A log that recorded its archive interval (logfile.ts) hands it to the restore steps.
    bs[1]!.status!.manifests = { ...bs[1]!.status!.manifests, userContext: { archive_interval: "3s" } };
    const p2 = okPlan(planRestore({ restore: r, backups: bs, tools: new Map([["vol", tool("vol", { physical: ["full"] })], ["pitr", tool("pitr", { physical: ["replay"] })]]), repos: new Map([["repo", repo()]]) }));
    expect(envOf(buildPhysicalJob(r, p2, access, "agent").spec!.template.spec!.containers[0]!.env).ARCHIVE_INTERVAL).to.equal("3s");
  });
});
