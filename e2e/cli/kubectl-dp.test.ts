// kubectl-dp against the real control plane and operator: a Backup made from a policy and
// followed to Completed (with its progress lines), the list tables and -o json|yaml, a
// RestoreJob made from the Backup (target and credentials from its policy) followed to
// Completed with the bytes back, bad input and its exit codes, status (a schedule's period and
// next tick, a logfile backup's PITR window), describe of each kind with its Events and stored
// files, shell completion naming the cluster's objects, and a --wait that times out.
import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse as parseYaml } from "yaml";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { DataProtectionGroup, type Backup, type BackupPolicy, type RestoreJob } from "@dataprotection/api";
import { runCli } from "@dataprotection/cli";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilEventReasons } from "../harness.ts";
import { createPolicy, createRepo, createStatefulSet, createTool, deleteClusterObjects, pvcHostPath, seedBackup, treeDigest, waitReady, type Repo } from "../restore/seed.ts";

describe("kubectl-dp (e2e)", function () {
  this.timeout(400_000);
  let kc: KubeConfig;
  let kubeconfig: string;
  let binDir: string;
  let op: Operator | undefined;
  let ns: { name: string; cleanup: () => Promise<void> };
  let repo: Repo;
  let tool: string;
  let dataDir: string;
  const labels = { app: "cli-db" };
  const operatorOptions: Parameters<typeof startTestOperator>[0] = { controllers: ["backup", "backuptool", "restorejob"], timeouts: { targetPodWaitMs: 60_000, podStartMs: 60_000 } };

  /** Runs kubectl-dp in this process; returns its exit code and what it printed. */
  async function dp(...args: string[]): Promise<{ code: number; out: string[]; err: string[] }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(["--kubeconfig", kubeconfig, "-n", ns.name, ...args], { out: (l) => out.push(l), err: (l) => err.push(l), pollMs: 300 });
    return { code, out, err };
  }

  before(async () => {
    const { controlPlane } = await e2eCluster();
    kc = controlPlane.kubeConfig;
    kubeconfig = controlPlane.kubeconfigPath;
    binDir = controlPlane.binDir;
    ns = await testNamespace(kc, "cli");
    op = await startTestOperator(operatorOptions);
    repo = await createRepo(kc, ns.name);
    tool = `cli-vol-${ns.name}`;
    await createTool(kc, tool, {
      env: [{ name: "DATA_DIR", value: "/data" }],
      backupCommands: ["sh", "-c", 'set -e; dp-agent push-dir "$DATA_DIR"'],
      physical: { restoreCommands: ['set -e\nfind "$DATA_DIR" -mindepth 1 -delete\ndp-agent pull-dir "$DATA_DIR"'] },
    });
    await createPolicy(kc, ns.name, "nightly", tool, repo.name, labels);
    await createStatefulSet(kc, ns.name, "db", 1, labels);
    await waitReady(kc, ns.name, "db", 1);
    dataDir = await pvcHostPath(kc, ns.name, "data-db-0");
    mkdirSync(join(dataDir, "sub"), { recursive: true });
    writeFileSync(join(dataDir, "a.bin"), randomBytes(200_000));
    writeFileSync(join(dataDir, "sub", "b.txt"), "row 1\nrow 2\n");
  });

  after(async () => {
    // The namespace first: its Backup and RestoreJob carry finalizers the operator removes.
    await ns?.cleanup();
    await op?.stop();
    await deleteClusterObjects(kc, repo ? [repo.name] : [], tool ? [tool] : []);
  });

  it("backup --wait creates a Backup from the policy and follows it to Completed", async () => {
    const r = await dp("backup", "nightly", "--name", "b1", "--wait", "--timeout", "3m");
    expect(r.code, r.err.join("\n")).to.equal(0);
    expect(r.out[0]).to.equal("backup.dataprotection.kubeblocks.io/b1 created");
    const b = (await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, "b1"))!;
    expect(b.spec).to.deep.include({ backupPolicyName: "nightly", backupType: "datafile" });
    expect(r.out.at(-1)).to.equal(`backup/b1: ${b.status!.totalSize} in ${b.status!.duration} to repo ${repo.name}`);
    // Not a terminal: a plain progress line (phase, bytes when known, time elapsed) each time the phase or the bytes change.
    const progress = r.out.slice(1, -1);
    expect(progress.length, r.out.join("\n")).to.be.at.least(1);
    for (const line of progress) expect(line).to.match(/^backup\/b1 \S+ \((\S+, )?\S+ elapsed\)$/);
    expect(progress.at(-1)).to.match(new RegExp(`^backup/b1 Completed \\(${escapeRe(b.status!.totalSize!)}, \\S+ elapsed\\)$`));
  });

  it("list prints kubectl-style tables of backups and policies", async () => {
    const backups = await dp("list", "backups");
    expect(backups.code).to.equal(0);
    expect(backups.out[0]!.split(/\s+/)).to.deep.equal(["NAME", "POLICY", "TYPE", "PHASE", "SIZE", "DURATION", "PARENT", "AGE"]);
    expect(backups.out[1]!.split(/\s+/).slice(0, 4)).to.deep.equal(["b1", "nightly", "datafile", "Completed"]);
    const all = await dp("list", "backups", "-A");
    expect(all.out.some((l) => l.startsWith(`${ns.name} `) && l.includes(" b1 "))).to.equal(true);
    const policies = await dp("list", "policies");
    expect(policies.out[1]!.split(/\s+/)[0]).to.equal("nightly");
    const restores = await dp("list", "restores");
    expect(restores.code).to.equal(0);
    expect(restores.err).to.deep.equal([`No restores found in ${ns.name} namespace.`]);
  });

  it("restore --wait restores the backup to its policy's target pods and follows it to Completed: bytes identical", async () => {
    const original = treeDigest(dataDir);
    writeFileSync(join(dataDir, "a.bin"), "overwritten after the backup");
    writeFileSync(join(dataDir, "stray.txt"), "not in the backup");
    const r = await dp("restore", "b1", "--name", "r1", "--volume", "data:data-db-0:/data", "--wait", "--timeout", "5m");
    expect(r.code, `${r.out.join("\n")}\n${r.err.join("\n")}`).to.equal(0);
    expect(r.out[0]).to.equal("restorejob.dataprotection.kubeblocks.io/r1 created");
    expect(r.out.slice(1, -1).at(-1)).to.match(/^restorejob\/r1 Completed \(\S+ elapsed\)$/);
    expect(treeDigest(dataDir)).to.deep.equal(original);
    const rj = (await getCustom<RestoreJob>(kc, "dataprotection.kubeblocks.io", "restorejobs", ns.name, "r1"))!;
    expect(rj.spec.target.labelsSelector).to.deep.equal({ matchLabels: labels });
    await waitReady(kc, ns.name, "db", 1);
  });

  it("refuses bad input with one line and exit code 2, a missing object with 3, and a taken name with 1", async () => {
    const missing = await dp("backup", "no-such-policy");
    expect(missing.code).to.equal(3);
    expect(missing.err).to.deep.equal([`error: backuppolicy ${ns.name}/no-such-policy not found`]);
    const notDone = await dp("restore", "no-such-backup");
    expect(notDone.code).to.equal(3);
    expect(notDone.err).to.deep.equal([`error: backup ${ns.name}/no-such-backup not found`]);
    const badTimeout = await dp("backup", "nightly", "--name", "never", "--wait", "--timeout", "soon");
    expect(badTimeout.code).to.equal(2);
    expect(badTimeout.err).to.deep.equal(['error: "soon" is not a duration such as 30m, 90s or 1h30m']);
    expect(await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, "never")).to.equal(undefined);
    const badVolume = await dp("restore", "b1", "--volume", "data");
    expect(badVolume.code).to.equal(2);
    expect(badVolume.err[0]).to.contain("expected NAME:CLAIM:/MOUNT/PATH");
    const badType = await dp("backup", "nightly", "--type", "weekly");
    expect(badType.code).to.equal(2);
    expect(badType.err.join(" ")).to.contain("Allowed choices are datafile, logfile, snapshot");
    const taken = await dp("backup", "nightly", "--name", "b1");
    expect(taken.code).to.equal(1);
    expect(taken.err[0]).to.match(/already exists.*choose another --name/);
  });

  it("list -o json|yaml prints the objects as a v1 List, as kubectl get does", async () => {
    const json = await dp("list", "backups", "-o", "json");
    expect(json.code, json.err.join("\n")).to.equal(0);
    const list = JSON.parse(json.out.join("\n")) as { apiVersion: string; kind: string; items: Backup[] };
    expect([list.apiVersion, list.kind]).to.deep.equal(["v1", "List"]);
    const b1 = list.items.find((i) => i.metadata?.name === "b1")!;
    expect(b1).to.deep.include({ apiVersion: "dataprotection.kubeblocks.io/v1alpha1", kind: "Backup" });
    expect(b1.status?.phase).to.equal("Completed");
    const yaml = await dp("list", "restores", "-o", "yaml");
    expect(yaml.code).to.equal(0);
    const restores = parseYaml(yaml.out.join("\n")) as { kind: string; items: RestoreJob[] };
    expect(restores.items.map((r) => [r.kind, r.metadata?.name, r.spec.backupJobName])).to.deep.equal([["RestoreJob", "r1", "b1"]]);
    const policies = await dp("list", "policies", "-A", "-o", "json");
    expect((JSON.parse(policies.out.join("\n")) as { items: { metadata: { namespace: string; name: string } }[] }).items.some((p) => p.metadata.namespace === ns.name && p.metadata.name === "nightly")).to.equal(true);
  });

  it("status: one line per policy with the schedule's period and next tick, the newest point's age and a logfile backup's PITR window", async () => {
    // The policy gets a daily datafile schedule (the BackupPolicy controller is not running: nothing fires).
    await kc.makeApiClient(CustomObjectsApi).patchNamespacedCustomObject({
      group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "backuppolicies", name: "nightly",
      body: [{ op: "add", path: "/spec/schedule", value: { datafile: { enable: true, cronExpression: "0 3 * * *" } } }],
    });
    // A Completed logfile backup of the policy, as the Backup controller would leave it. Written
    // while the operator is stopped: the Backup controller would race the status write (it fails
    // a new logfile Backup whose tool is not a StatefulSet tool); a Completed one it leaves alone.
    await op!.stop();
    op = undefined;
    try {
      await seedBackup(kc, ns.name, { name: "pitr-log", policy: "nightly", tool, repo, type: "logfile", startTime: "2024-05-01T10:00:00Z", stopTime: "2024-05-01T11:00:00Z" });
    } finally {
      // Always back: the namespace's Backups carry finalizers only the operator removes.
      op = await startTestOperator(operatorOptions);
    }

    const r = await dp("status");
    expect(r.code, r.err.join("\n")).to.equal(0);
    expect(r.out).to.have.length(2);
    expect(r.out[0]!.split(/\s+/)).to.deep.equal(["NAME", "PHASE", "LAST-SUCCESS", "NEWEST-POINT", "PERIOD", "HEALTH", "NEXT-TICK", "PITR-WINDOW"]);
    const row = r.out[1]!.split(/\s+/);
    // The BackupPolicy controller is not running: the policy has no status phase. b1 is minutes old against a 24h period.
    const policy = (await getCustom<BackupPolicy>(kc, "dataprotection.kubeblocks.io", "backuppolicies", ns.name, "nightly"))!;
    expect([row[0], row[1], row[4], row[5], row[7]]).to.deep.equal(["nightly", policy.status?.phase ?? "<none>", "24h", "OK", "2024-05-01T10:00:00Z/2024-05-01T11:00:00Z"]);
    for (const age of [row[2], row[3], row[6]]) expect(age).to.match(/^\d+[smhd]/);

    const json = await dp("status", "nightly", "-o", "json");
    expect(json.code).to.equal(0);
    const doc = JSON.parse(json.out.join("\n")) as { items: { name: string; namespace: string; health: string; periodSeconds: number; nextTick: string; newestPoint: { backup: string }; schedules: { cronExpression: string }[]; pitr: { backup: string; from: string; to: string; base?: string }[] }[] };
    expect(doc.items).to.have.length(1);
    const item = doc.items[0]!;
    expect(item).to.deep.include({ name: "nightly", namespace: ns.name, health: "OK", periodSeconds: 86400 });
    expect(item.newestPoint.backup).to.equal("b1");
    expect(item.schedules.map((x) => x.cronExpression)).to.deep.equal(["0 3 * * *"]);
    expect(new Date(item.nextTick).getUTCHours()).to.equal(3);
    expect(Date.parse(item.nextTick)).to.be.greaterThan(Date.now());
    expect(item.pitr).to.deep.equal([{ backup: "pitr-log", phase: "Completed", logStart: "2024-05-01T10:00:00Z", logStop: "2024-05-01T11:00:00Z", from: "2024-05-01T10:00:00Z", to: "2024-05-01T11:00:00Z" }]);

    const missing = await dp("status", "no-such-policy");
    expect(missing.code).to.equal(3);
    expect(missing.err).to.deep.equal([`error: backuppolicy ${ns.name}/no-such-policy not found`]);
  });

  it("describe backup|policy|restore prints the status, stored files, conditions and the object's Events; -o json|yaml; exit 3 when missing", async () => {
    const b = (await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, "b1"))!;
    // The operator writes Events in the background, after the status.
    await untilEventReasons(kc, ns.name, "b1", ["BackupCompleted"]);
    const d = await dp("describe", "backup", "b1");
    expect(d.code, d.err.join("\n")).to.equal(0);
    const has = (lines: string[], re: RegExp): void => {
      expect(lines.some((l) => re.test(l)), `${re} in\n${lines.join("\n")}`).to.equal(true);
    };
    has(d.out, /^Name:\s+b1$/);
    has(d.out, new RegExp(`^Namespace:\\s+${ns.name}$`));
    has(d.out, /^Policy:\s+nightly$/);
    has(d.out, /^Phase:\s+Completed$/);
    has(d.out, new RegExp(`^Total Size:\\s+${escapeRe(b.status!.totalSize!)}$`));
    has(d.out, new RegExp(`^Stored In:\\s+BackupRepo ${escapeRe(repo.name)}$`));
    has(d.out, /^Stored Objects:$/);
    const files = b.status!.manifests?.backupTool?.files ?? [];
    expect(files.length, "the tool's report lists the backup's files").to.be.at.least(1);
    for (const f of files) has(d.out, new RegExp(`^\\s+${escapeRe(f.name)}(\\s|$)`));
    has(d.out, /^Events:$/);
    has(d.out, /^\s+Normal\s+BackupCompleted\s/);

    await untilEventReasons(kc, ns.name, "r1", ["Completed"]);
    const r = await dp("describe", "restore", "r1");
    expect(r.code, r.err.join("\n")).to.equal(0);
    has(r.out, /^Backup:\s+b1$/);
    has(r.out, /^Phase:\s+Completed$/);
    has(r.out, /^\s+Selector:\s+app=cli-db$/);
    has(r.out, /^\s+data\s+data-db-0\s+\/data$/);
    has(r.out, /^\s+Normal\s+Completed\s/);

    const p = await dp("describe", "policy", "nightly");
    expect(p.code, p.err.join("\n")).to.equal(0);
    has(p.out, /^Name:\s+nightly$/);
    has(p.out, /^\s+datafile\s+true\s+0 3 \* \* \*\s+\S+Z \(in \S+\)$/);
    has(p.out, new RegExp(`^\\s+Backup Tool:\\s+${escapeRe(tool)}$`));
    has(p.out, new RegExp(`^\\s+Backup Repo:\\s+${escapeRe(repo.name)}$`));
    has(p.out, /^\s+Health:\s+OK$/);
    has(p.out, /^\s+PITR Window:\s+2024-05-01T10:00:00Z\/2024-05-01T11:00:00Z \(logfile backup pitr-log, no datafile backup inside its span\)$/);
    has(p.out, /^\s+b1\s+datafile\s+Completed\s/);
    has(p.out, /^\s+pitr-log\s+logfile\s+Completed\s/);

    const json = await dp("describe", "backup", "b1", "-o", "json");
    expect(json.code).to.equal(0);
    const doc = JSON.parse(json.out.join("\n")) as { object: Backup; events: { reason: string; type: string }[] };
    expect(doc.object.metadata?.name).to.equal("b1");
    expect(doc.object.status?.manifests?.backupTool?.files).to.deep.equal(files);
    expect(doc.events.map((e) => e.reason)).to.include("BackupCompleted");
    const yaml = await dp("describe", "restorejob", "r1", "-o", "yaml");
    expect((parseYaml(yaml.out.join("\n")) as { object: RestoreJob }).object.spec.backupJobName).to.equal("b1");

    const missing = await dp("describe", "backup", "no-such-backup");
    expect(missing.code).to.equal(3);
    expect(missing.err).to.deep.equal([`error: backup ${ns.name}/no-such-backup not found`]);
    const badKind = await dp("describe", "pod", "db-0");
    expect(badKind.code).to.equal(2);
    expect(badKind.err).to.deep.equal(["error: describe pod: expected backup, policy or restore"]);
  });

  it("completion bash|zsh prints a script; the bash one completes the cluster's objects through kubectl", async () => {
    const zsh = await dp("completion", "zsh");
    expect(zsh.code).to.equal(0);
    expect(zsh.out[0]).to.equal("#compdef kubectl-dp");
    const fish = await dp("completion", "fish");
    expect(fish.code).to.equal(2);
    const bash = await dp("completion", "bash");
    expect(bash.code).to.equal(0);
    expect(bash.out).to.include("complete -F _kubectl_dp kubectl-dp");
    const dir = mkdtempSync(join(tmpdir(), "dp-completion-"));
    try {
      const file = join(dir, "kubectl-dp.bash");
      writeFileSync(file, bash.out.join("\n") + "\n");
      // What a TAB after these words offers; kubectl (the control plane's) lists the names.
      const complete = (...words: string[]): string[] => {
        const quoted = words.map((w) => `'${w}'`).join(" ");
        const r = spawnSync("bash", ["--norc", "--noprofile", "-c", `source '${file}'; COMP_WORDS=(${quoted}); COMP_CWORD=${words.length - 1}; _kubectl_dp; printf '%s\\n' "\${COMPREPLY[@]}"`], {
          encoding: "utf8", env: { ...process.env, PATH: `${binDir}:${process.env.PATH ?? ""}` }, timeout: 30_000,
        });
        expect(r.status, r.stderr).to.equal(0);
        return r.stdout.split("\n").filter(Boolean);
      };
      const flags = ["kubectl-dp", "--kubeconfig", kubeconfig, "-n", ns.name];
      expect(complete(...flags, "describe", "backup", "")).to.include.members(["b1", "pitr-log"]);
      expect(complete(...flags, "describe", "restore", "")).to.deep.equal(["r1"]);
      expect(complete(...flags, "backup", "n")).to.deep.equal(["nightly"]);
      expect(complete(...flags, "restore", "pitr")).to.deep.equal(["pitr-log"]);
      expect(complete("kubectl-dp", "--kubeconfig", kubeconfig, "-n", "")).to.include(ns.name);
      expect(complete("kubectl-dp", "st")).to.deep.equal(["status"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("--wait gives up after --timeout with exit code 4; the Backup goes on", async () => {
    // A policy whose target has no pod: its Backup waits for one (and then fails), far past 1 s.
    await createPolicy(kc, ns.name, "no-pods", tool, repo.name, { app: "no-such-pod" });
    const r = await dp("backup", "no-pods", "--name", "b-slow", "--wait", "--timeout", "1");
    expect(r.code, r.err.join("\n")).to.equal(4);
    expect(r.out[0]).to.equal("backup.dataprotection.kubeblocks.io/b-slow created");
    expect(r.err).to.have.length(1);
    expect(r.err[0]).to.match(new RegExp(`^error: timed out after 1s waiting for Backup ${ns.name}/b-slow \\(phase [^)]+\\)$`));
    // It goes on after the CLI gave up: still waiting for a target pod (no Job, no data yet), so it can be deleted at once.
    const b = await getCustom<Backup>(kc, DataProtectionGroup, "backups", ns.name, "b-slow");
    expect(b?.status?.phase ?? "New").to.equal("New");
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "backups", name: "b-slow" });
    await until("b-slow gone", async () => ((await getCustom<Backup>(kc, DataProtectionGroup, "backups", ns.name, "b-slow")) ? undefined : true), 60_000, 500);
  });
});

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
