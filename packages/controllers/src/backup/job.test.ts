// The built tool Job compared field by field with the execution contract.
import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pvcAccess } from "./destination.ts";
import { backupFilePath, toolEnv } from "./env.ts";
import { AnnotationRunAsRoot, buildBackupJob, PLAIN_FILES_REPORT, toolImage, toolJobName } from "./job.ts";
import { parseToolReport } from "./report.ts";
import { backup, pod, tool } from "./testdata.ts";
import { repoAccessFor } from "../backuprepo/access.ts";
import { sealedLayout } from "./plain-files.ts";

const DP_AGENT = fileURLToPath(new URL("../../../agent/bin/dp-agent", import.meta.url));

describe("toolEnv", () => {
  it("follows the KubeBlocks 0.6 order, then the repo, then the tool's own env", () => {
    const p = pod("db-0", { app: "db" });
    const env = toolEnv({
      backupName: "b1", filePath: backupFilePath("ns", "b1", "pg"), target: { pod: p, container: p.spec!.containers[0] },
      secret: { name: "cred", usernameKey: "user", passwordKey: "pw" }, ttl: "7d", access: pvcAccess("repo-pvc"),
      tool: tool({ env: [{ name: "DATA_DIR", value: "/data" }] }),
    });
    expect(env.map((e) => e.name)).to.deep.equal(["DB_HOST", "DB_PORT", "BACKUP_NAME", "BACKUP_DIR", "DB_USER", "DB_PASSWORD", "TTL", "DP_REPO_KIND", "DP_REPO_PATH", "DP_BACKUP_PATH", "DP_TOOL", "DATA_DIR"]);
    const v = Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom?.secretKeyRef?.key]));
    expect(v).to.include({ DB_HOST: "10.0.0.7", DB_PORT: "5432", BACKUP_DIR: "/backupdata/ns/pg/b1", DB_USER: "user", DB_PASSWORD: "pw", TTL: "7d", DP_BACKUP_PATH: "ns/pg/b1" });
  });
});

describe("toolImage", () => {
  const spec = { containers: [{ name: "db", image: "pg:15" }, { name: "sidecar", image: "side:1" }] };
  const rows: Array<[string, string, typeof spec | undefined, string | undefined]> = [
    ["the tool's own image", "tool:1", spec, "tool:1"],
    ["an empty image: the target's first container's", "", spec, "pg:15"],
    ["an empty image and no target: none", "", undefined, undefined],
    ["an empty image and a first container without one: none", "", { containers: [{ name: "db" }] } as typeof spec, undefined],
  ];
  for (const [name, image, target, want] of rows) it(name, () => expect(toolImage(tool({ image }), target)).to.equal(want));
});

describe("buildBackupJob", () => {
  const p = pod("db-0", { app: "db" });
  const input = { backup: backup(), tool: tool({ resources: { limits: { cpu: "1" } } }), target: { pod: p, container: p.spec!.containers[0] }, access: pvcAccess("repo-pvc"), env: [], command: ["sh", "-c", "backup"] };

  it("runs the tool once on the target's node with its volumes, the repo at /backupdata, and no service-account token", () => {
    const j = buildBackupJob(input, 0);
    expect(j.metadata?.name).to.equal(toolJobName("b1", 0)).and.equal("b1-backup-1");
    expect(j.spec?.backoffLimit).to.equal(0);
    const spec = j.spec!.template.spec!;
    expect(spec.restartPolicy).to.equal("Never");
    expect(spec.automountServiceAccountToken).to.equal(false);
    expect(spec.volumes!.map((v) => v.name)).to.deep.equal(["data", "dp-backup-data"]);
    const c = spec.containers[0];
    expect(c.volumeMounts!.map((m) => m.mountPath)).to.deep.equal(["/data", "/backupdata"]);
    expect(c.image).to.equal("img");
    expect(c.command!.slice(-3)).to.deep.equal(["sh", "-c", "backup"]);
    expect(c.resources).to.deep.equal({ limits: { cpu: "1" } });
    expect(spec.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms[0].matchFields).to.deep.equal([{ key: "metadata.name", operator: "In", values: ["node-1"] }]);
    expect(spec.securityContext).to.deep.equal({ runAsNonRoot: true, runAsUser: 65532 });
  });

  it("runs with the tool's ServiceAccount and its token when spec.serviceAccountName is set", () => {
    const spec = buildBackupJob({ ...input, tool: tool({ serviceAccountName: "threescale-cli" }) }, 0).spec!.template.spec!;
    expect(spec.serviceAccountName).to.equal("threescale-cli");
    expect(spec.automountServiceAccountToken).to.equal(true);
    // The target's own token volume is still never copied.
    expect(spec.volumes!.map((v) => v.name)).to.deep.equal(["data", "dp-backup-data"]);
  });

  it("builds a targetless Job: no target volumes or mounts, no node pinning, no DB_HOST", () => {
    const t = tool({ targetless: true });
    const env = toolEnv({ backupName: "b1", filePath: "/ns/b1", access: pvcAccess("repo-pvc"), tool: t });
    expect(env.map((e) => e.name)).to.not.include.members(["DB_HOST", "DB_PORT"]);
    const spec = buildBackupJob({ ...input, tool: t, target: undefined, env }, 0).spec!.template.spec!;
    expect(spec.volumes!.map((v) => v.name)).to.deep.equal(["dp-backup-data"]);
    expect(spec.containers[0].volumeMounts!.map((m) => m.mountPath)).to.deep.equal(["/backupdata"]);
    expect(spec.affinity).to.equal(undefined);
    expect(spec.containers[0].image).to.equal("img");
    expect(spec.securityContext).to.deep.equal({ runAsNonRoot: true, runAsUser: 65532 });
  });

  it("in the sealed layout runs the tool as an init container writing into a scratch /backupdata, then dp-agent seals BACKUP_DIR into the repo (moved to /dp/repo)", () => {
    const encrypted = repoAccessFor({ apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "BackupRepo", metadata: { name: "repo" }, spec: { storageProviderRef: "p", pvReclaimPolicy: "Retain", encryption: { algorithm: "AES-256-GCM", keySecretRef: { name: "k", namespace: "default", key: "key" } } } });
    const access = sealedLayout(encrypted);
    const env = toolEnv({ backupName: "b1", filePath: "/ns/b1", target: input.target, secret: { name: "cred" }, access, tool: tool() });
    const spec = buildBackupJob({ ...input, access, env, sealImage: "agent:1" }, 0).spec!.template.spec!;
    const [toolC, seal] = [spec.initContainers![0]!, spec.containers[0]!];
    expect(spec.initContainers!.map((c) => c.name)).to.deep.equal(["backup"]);
    expect(spec.containers.map((c) => c.name)).to.deep.equal(["seal"]);
    expect(toolC.volumeMounts!.map((m) => `${m.name}:${m.mountPath}`)).to.deep.equal(["data:/data", "dp-backup-data:/dp/repo", "dp-encryption-key:/etc/dataprotection/encryption", "dp-plain-files:/backupdata"]);
    expect(spec.volumes!.find((v) => v.name === "dp-plain-files")).to.deep.equal({ name: "dp-plain-files", emptyDir: {} });
    expect(seal.image).to.equal("agent:1");
    expect(seal.command!.join(" ")).to.contain('dp-agent push-dir "$BACKUP_DIR" --name plain-files.dpar');
    const sealEnv = Object.fromEntries(seal.env!.map((e) => [e.name, e.value]));
    expect(sealEnv).to.include({ DP_REPO_PATH: "/dp/repo", BACKUP_DIR: "/backupdata/ns/b1", DP_BACKUP_PATH: "ns/b1", DP_ENCRYPTION_KEY_FILE: "/etc/dataprotection/encryption/key" });
    expect(Object.keys(sealEnv), "the seal container gets no database credentials").to.not.include.members(["DB_USER", "DB_PASSWORD"]);
    expect(seal.volumeMounts).to.deep.equal(toolC.volumeMounts!.slice(1));
  });

  it("runs a tool whose image is empty with the target pod's first container's image (KubeBlocks 0.6), whichever container is the target", () => {
    const two = pod("db-0", { app: "db" });
    two.spec!.containers = [{ name: "postgres", image: "apecloud/spilo:14.8.0" }, { name: "metrics", image: "exporter:1" }];
    const j = buildBackupJob({ ...input, tool: tool({ image: "" }), target: { pod: two, container: two.spec!.containers[1]! } }, 0);
    expect(j.spec!.template.spec!.containers[0]!.image).to.equal("apecloud/spilo:14.8.0");
    expect(buildBackupJob({ ...input, tool: tool({ image: "own:1" }), target: { pod: two, container: two.spec!.containers[0]! } }, 0).spec!.template.spec!.containers[0]!.image).to.equal("own:1");
  });

  it("runs as root (uid 0, explicitly: images may name another user) only when the tool asks", () => {
    const rootTool = { ...tool(), metadata: { name: "volume", annotations: { [AnnotationRunAsRoot]: "true" } } };
    expect(buildBackupJob({ ...input, tool: rootTool }, 0).spec!.template.spec!.securityContext).to.deep.equal({ runAsUser: 0, runAsNonRoot: false });
  });
});

describe("PLAIN_FILES_REPORT", () => {
  it("reports size, checksum and names of plain files when the tool left no termination message", () => {
    const dir = mkdtempSync(join(tmpdir(), "dp-report-"));
    const backupDir = join(dir, "bk");
    mkdirSync(join(backupDir, "sub"), { recursive: true });
    writeFileSync(join(backupDir, "a.txt"), "hello");
    writeFileSync(join(backupDir, "sub", "b.bin"), "12345678");
    const term = join(dir, "term");
    writeFileSync(term, "");
    // The script writes /dev/termination-log; point it at a file for the test.
    const script = PLAIN_FILES_REPORT.replace("t=/dev/termination-log", `t=${term}`);
    execFileSync("sh", ["-c", script, "dp-tool", "true"], { env: { ...process.env, BACKUP_DIR: backupDir } });
    const r = parseToolReport(readFileSync(term, "utf8"));
    expect(r).to.deep.include({ totalSize: 13, plainFiles: true, files: [{ name: "a.txt" }, { name: "sub/b.bin" }] });
    expect(r?.checksum).to.match(/^sha256:[0-9a-f]{64}$/);
  });

  it("gives the checksum dp-agent verify-files recomputes before a restore, which refuses a changed byte, an extra file and a file swapped for a symlink", () => {
    const dir = mkdtempSync(join(tmpdir(), "dp-report-"));
    const backupDir = join(dir, "bk");
    mkdirSync(join(backupDir, "z", "a b"), { recursive: true });
    writeFileSync(join(backupDir, "base.tar"), Buffer.alloc(300_000, 7));
    writeFileSync(join(backupDir, "Zeta"), "upper sorts first in C order");
    writeFileSync(join(backupDir, "z", "a b", "we\\ird\"q.txt"), "odd name");
    writeFileSync(join(backupDir, "backup.info"), '{"totalSize":"293K","manifests":{"backupTool":{"uploadTotalSize":"293K"}}}');
    const term = join(dir, "term");
    writeFileSync(term, "");
    execFileSync("sh", ["-c", PLAIN_FILES_REPORT.replace("t=/dev/termination-log", `t=${term}`), "dp-tool", "true"], { env: { ...process.env, BACKUP_DIR: backupDir } });
    const r = parseToolReport(readFileSync(term, "utf8"))!;
    expect(r.backupInfo).to.deep.equal({ totalSize: "293K", manifests: { backupTool: { uploadTotalSize: "293K" } } });
    expect(r.files!.map((f) => f.name)).to.deep.equal(["Zeta", "backup.info", "base.tar", 'z/a b/we\\ird"q.txt']);
    const verify = () => spawnSync(DP_AGENT, ["verify-files", backupDir, "--expect", r.checksum!], { encoding: "utf8", env: { ...process.env, DP_TERMINATION_MESSAGE_PATH: join(dir, "agent-term") } });
    const ok = verify();
    expect(ok.status, ok.stderr).to.equal(0);
    expect(ok.stdout).to.contain("4 files");

    const tar = readFileSync(join(backupDir, "base.tar"));
    tar[123_456] ^= 1;
    writeFileSync(join(backupDir, "base.tar"), tar);
    const changed = verify();
    expect(changed.status).to.equal(1);
    expect(changed.stderr).to.match(/^dp-agent: the plain files in .* have checksum sha256:[0-9a-f]{64}, not sha256:[0-9a-f]{64} as the Backup recorded/);
    tar[123_456] ^= 1;
    writeFileSync(join(backupDir, "base.tar"), tar);
    expect(verify().status).to.equal(0);

    writeFileSync(join(backupDir, "extra"), "");
    expect(verify().status).to.equal(1);
    rmSync(join(backupDir, "extra"));
    renameSync(join(backupDir, "Zeta"), join(dir, "Zeta"));
    symlinkSync(join(dir, "Zeta"), join(backupDir, "Zeta"));
    expect(verify().status, "a symlink is not the file it points to").to.equal(1);
  });

  it("keeps the tool's exit status", () => {
    let code = 0;
    try {
      execFileSync("sh", ["-c", PLAIN_FILES_REPORT, "dp-tool", "sh", "-c", "exit 3"], { env: { ...process.env, BACKUP_DIR: "/nonexistent" } });
    } catch (e) {
      code = (e as { status: number }).status;
    }
    expect(code).to.equal(3);
  });
});
