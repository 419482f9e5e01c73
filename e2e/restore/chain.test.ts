// Must-show 3 and 4: an incremental chain of 3 restored to its last point, and a
// point-in-time restore that holds exactly the logged entries up to the requested time.
import { expect } from "chai";
import type { KubeConfig } from "@kubernetes/client-node";
import { randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Operator } from "@dataprotection/controllers";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons } from "../harness.ts";
import {
  agent, createPolicy, createRepo, createRestoreJob, createStatefulSet, createTool, deleteClusterObjects, pvcHostPath, seedBackup, treeDigest, waitReady, waitRestore, type Repo,
} from "./seed.ts";

const clear = 'find "$DATA_DIR" -mindepth 1 -delete';

describe("RestoreJob incremental and point-in-time restore (e2e)", function () {
  this.timeout(400_000);
  let kc: KubeConfig;
  let op: Operator;
  let ns: { name: string; cleanup: () => Promise<void> };
  let repo: Repo;
  const tools: string[] = [];
  let scratch: string;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    ns = await testNamespace(kc, "rj-chain");
    op = await startTestOperator({ controllers: ["restorejob"] });
    repo = await createRepo(kc, ns.name);
    scratch = mkdtempSync(join(tmpdir(), "rj-chain-"));
  });

  after(async () => {
    await op?.stop();
    await ns?.cleanup();
    await deleteClusterObjects(kc, repo ? [repo.name] : [], tools);
    rmSync(scratch, { recursive: true, force: true });
  });

  it("restores an incremental chain of 3 (base, then each incremental in order) to the last point", async () => {
    const tool = `incr-${ns.name}`;
    tools.push(tool);
    await createTool(kc, tool, {
      env: [{ name: "DATA_DIR", value: "/data" }],
      physical: {
        restoreCommands: [`set -e\n${clear}\ndp-agent pull-dir "$DATA_DIR"\necho "applied $DP_RESTORE_STEP $BACKUP_NAME"`],
        // An incremental holds the changed files and a list of removed ones.
        incrementalRestoreCommands: ['set -e\ndp-agent pull-dir "$DATA_DIR"\nif [ -f "$DATA_DIR/.removed" ]; then (cd "$DATA_DIR" && xargs rm -f < .removed && rm .removed); fi\necho "applied $DP_RESTORE_STEP $BACKUP_NAME"'],
      },
    });
    await createPolicy(kc, ns.name, "incr", tool, repo.name, { app: "incr" });
    await createStatefulSet(kc, ns.name, "incr", 1, { app: "incr" });
    await waitReady(kc, ns.name, "incr", 1);
    const data = await pvcHostPath(kc, ns.name, "data-incr-0");

    // The source's history: full, then two changes; each incremental holds only what changed.
    const full = join(scratch, "full");
    mkdirSync(full);
    writeFileSync(join(full, "a.txt"), "v0\n");
    writeFileSync(join(full, "b.bin"), randomBytes(200_000));
    writeFileSync(join(full, "gone.txt"), "removed in i1\n");
    const i1 = join(scratch, "i1");
    mkdirSync(i1);
    writeFileSync(join(i1, "a.txt"), "v1\n");
    writeFileSync(join(i1, "c.txt"), "new in i1\n");
    writeFileSync(join(i1, ".removed"), "gone.txt\n");
    const i2 = join(scratch, "i2");
    mkdirSync(i2);
    writeFileSync(join(i2, "b.bin"), randomBytes(150_000));
    writeFileSync(join(i2, "d.txt"), "new in i2\n");
    const last = join(scratch, "last");
    mkdirSync(last);
    writeFileSync(join(last, "a.txt"), "v1\n");
    writeFileSync(join(last, "b.bin"), readFileSync(join(i2, "b.bin")));
    writeFileSync(join(last, "c.txt"), "new in i1\n");
    writeFileSync(join(last, "d.txt"), "new in i2\n");

    const seed = (name: string, dir: string, parent?: string, chain?: string[]) =>
      seedBackup(kc, ns.name, { name, policy: "incr", tool, repo, parent, incrementalChain: chain, write: (p) => agent(repo, p, ["push-dir", dir]) });
    await seed("base", full);
    await seed("inc1", i1, "base", ["base"]);
    await seed("inc2", i2, "inc1", ["base", "inc1"]);
    writeFileSync(join(data, "a.txt"), "unrelated current state\n");

    await createRestoreJob(kc, ns.name, "to-inc2", { backupJobName: "inc2", labels: { app: "incr" }, claim: "data-incr-0" });
    await waitRestore(kc, ns.name, "to-inc2", "Completed");
    expect(treeDigest(data)).to.deep.equal(treeDigest(last));

    const node = (await e2eCluster()).node;
    const { CoreV1Api } = await import("@kubernetes/client-node");
    const pod = (await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name, labelSelector: "job-name=to-inc2-restore" })).items[0]!.metadata!.name!;
    const order = await Promise.all(["restore-0", "restore-1", "restore-2"].map((c) => node.logs(ns.name, pod, c)));
    expect(order.map((l) => l.trim().split("\n").at(-1))).to.deep.equal(["applied base base", "applied incremental inc1", "applied incremental inc2"]);
    const restoring = (await untilEventReasons(kc, ns.name, "to-inc2", ["Restoring"])).find((e) => e.reason === "Restoring");
    expect(restoring?.message).to.contain('base Backup "base", then incremental Backup "inc1", then incremental Backup "inc2"');
    await waitReady(kc, ns.name, "incr", 1);
  });

  it("restores to a point in time: the newest base at or before it plus the log replayed up to it, and refuses a time outside the window", async () => {
    const base = `pitr-base-${ns.name}`;
    const log = `pitr-log-${ns.name}`;
    tools.push(base, log);
    await createTool(kc, base, { env: [{ name: "DATA_DIR", value: "/data" }], physical: { restoreCommands: [`set -e\n${clear}\ndp-agent pull-dir "$DATA_DIR"`] } });
    // Replays the logged entries after the base's last one, up to the recovery time.
    await createTool(kc, log, {
      type: "pitr",
      env: [{ name: "DATA_DIR", value: "/data" }],
      physical: { restoreCommands: ['set -e\nfrom=$(tail -n 1 "$DATA_DIR/entries.txt" | cut -d" " -f1)\ndp-agent pull log.txt | awk -v from="$from" -v to="$KB_RECOVERY_TIMESTAMP" \'$1 > from && $1 <= to\' >> "$DATA_DIR/entries.txt"\necho "recovered to $KB_RECOVERY_TIME from base started $BACKUP_START_TIME"'] },
    });
    await createPolicy(kc, ns.name, "pitr", base, repo.name, { app: "pitr" });
    await createStatefulSet(kc, ns.name, "pitr", 1, { app: "pitr" });
    await waitReady(kc, ns.name, "pitr", 1);
    const data = await pvcHostPath(kc, ns.name, "data-pitr-0");

    // One entry a minute, 10:00 to 10:59; base1 holds 10:00-10:20, base2 10:00-10:40; the log all of them.
    const t0 = Date.parse("2024-05-01T10:00:00Z") / 1000;
    const entries = Array.from({ length: 60 }, (_, i) => `${t0 + i * 60} entry-${String(i).padStart(2, "0")}\n`);
    const iso = (sec: number) => new Date(sec * 1000).toISOString().replace(".000Z", "Z");
    const snap = (n: number) => {
      const dir = join(scratch, `pitr-${n}`);
      mkdirSync(dir);
      writeFileSync(join(dir, "entries.txt"), entries.slice(0, n + 1).join(""));
      return dir;
    };
    const b1 = snap(20);
    const b2 = snap(40);
    await seedBackup(kc, ns.name, { name: "base1", policy: "pitr", tool: base, repo, startTime: iso(t0 + 20 * 60), stopTime: iso(t0 + 20 * 60 + 30), write: (p) => agent(repo, p, ["push-dir", b1]) });
    await seedBackup(kc, ns.name, { name: "base2", policy: "pitr", tool: base, repo, startTime: iso(t0 + 40 * 60), stopTime: iso(t0 + 40 * 60 + 30), write: (p) => agent(repo, p, ["push-dir", b2]) });
    await seedBackup(kc, ns.name, { name: "log", policy: "pitr", tool: log, repo, type: "logfile", startTime: iso(t0), stopTime: iso(t0 + 59 * 60 + 30), write: (p) => agent(repo, p, ["push", "log.txt"], entries.join("")) });
    writeFileSync(join(data, "entries.txt"), "garbage\n");

    await createRestoreJob(kc, ns.name, "to-1033", { backupJobName: "log", labels: { app: "pitr" }, claim: "data-pitr-0", restoreTime: "2024-05-01T10:33:00Z" });
    await waitRestore(kc, ns.name, "to-1033", "Completed");
    expect(readFileSync(join(data, "entries.txt"), "utf8")).to.equal(entries.slice(0, 34).join(""));
    const restoring = (await untilEventReasons(kc, ns.name, "to-1033", ["Restoring"])).find((e) => e.reason === "Restoring");
    expect(restoring?.message).to.contain('base Backup "base1", then logfile Backup "log"');

    await createRestoreJob(kc, ns.name, "to-1130", { backupJobName: "log", labels: { app: "pitr" }, claim: "data-pitr-0", restoreTime: "2024-05-01T11:30:00Z" });
    const refused = await waitRestore(kc, ns.name, "to-1130", "Failed");
    expect(refused.status?.failureReason).to.equal(`RestoreTimeOutOfWindow: restoreTime 2024-05-01T11:30:00Z is outside the recoverable window of BackupPolicy "${ns.name}/pitr": 2024-05-01T10:20:30Z to 2024-05-01T10:59:30Z (logfile backup "log"); choose a restoreTime inside it`);
    expect(readFileSync(join(data, "entries.txt"), "utf8")).to.equal(entries.slice(0, 34).join(""));
  });
});
