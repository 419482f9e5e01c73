// MariaDB point-in-time recovery end to end: a real MariaDB 10.11 server with binary logging, a
// writer committing a row every ~50 ms (one autocommit INSERT each, its DATETIME column `at` set
// by NOW()), the mariadb-binlog-pitr tool archiving binlogs through mariadb-binlog while a
// mariadb-backup base backup is taken and the binlog is rotated every few seconds, then three
// RestoreJobs with restoreTime (just after the base, the middle, a few seconds before the newest
// archived binlog) each into a fresh server: every restored server accepts writes and holds
// exactly the rows whose `at` (UTC, whole seconds) is at or before its restoreTime. A restoreTime
// past the window fails with the window in the reason before anything is stopped.
// Retention: with the BackupPolicy controller running, deleting the older of two base backups
// prunes exactly the binlogs only it needed; the kept base restores to points across its window.
import { expect } from "chai";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { AnnotationLogKeepFrom, DataProtectionGroup, type Backup, type BackupPolicy, type RestoreJob } from "@dataprotection/api";
import type { ControllerName, Operator } from "@dataprotection/controllers";
import { BINLOG_PREFIX, mariadbBackupTool, mariadbBinlogPitrTool } from "@dataprotection/tools";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilInNamespace } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, deleteBackup, exists, getBackup, hostPathOf, installShared, REPO, testTimeouts } from "../backup/fixtures.ts";
import { createRestoreJob, waitReady, waitRestore } from "../restore/seed.ts";
import { createCredentials, createDatabaseStatefulSet, freePort, mariadbServerScript, systemUser, type Ids } from "./db-server.ts";

const run = promisify(execFile);
const PASSWORD = "maria-pitr-s3cret";
const INTERVAL_S = 3;
/** The operator's log keep-from margin (a minute by default): shorter, so the test waits seconds past it, not a minute. */
const MARGIN_MS = 10_000;

/** Client options of the test's own connections: TCP as the secret's account (password in MYSQL_PWD). */
const clientArgs = (port: number) => ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "-u", "admin", "--connect-timeout=3"];

/** SQL over TCP; the last result, tab-separated. */
async function sql(port: number, text: string): Promise<string> {
  const { stdout } = await run("mariadb", [...clientArgs(port), "-N", "-B", "-e", text], { env: { ...process.env, MYSQL_PWD: PASSWORD }, maxBuffer: 16 << 20 });
  return stdout.trim();
}

function waitForServer(kc: KubeConfig, ns: string, port: number, what: string): Promise<true> {
  return untilInNamespace(kc, ns, `${what} on 127.0.0.1:${port} read-write`, async () => {
    try {
      return (await sql(port, "SELECT @@read_only")) === "0" ? true : undefined;
    } catch (e) {
      throw new Error(`last error: ${(e as Error).message}`);
    }
  }, 180_000, 500);
}

/**
 * A MariaDB 10.11 StatefulSet `name` (labels app=<name>) on `port`: binary logging (mysql-bin.*
 * in the datadir, server id 1) and UTC as the server's time zone, so NOW() is UTC.
 */
async function createServer(kc: KubeConfig, ns: string, name: string, port: number, ids: Ids): Promise<void> {
  const script = mariadbServerScript(port, "--log-bin=mysql-bin --server-id=1 --default-time-zone=+00:00");
  await createDatabaseStatefulSet(kc, ns, {
    name, labels: { app: name, "app.kubernetes.io/instance": name }, container: "mariadb", image: "mariadb:10.11", script,
    env: [{ name: "ADMIN_PW", value: PASSWORD }], port, ids,
    prepare: `mkdir -p /data/mysql && chown ${ids.uid}:${ids.gid} /data /data/mysql`,
    storage: "500Mi", terminationGracePeriodSeconds: 30, primary: true,
  });
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");
/** The same instant as a DATETIME literal in UTC (the servers' time zone). */
const datetime = (ms: number) => new Date(ms).toISOString().replace("T", " ").replace(/\.\d{3}Z$/, "");

/** Row count, newest id and a digest of every (id, at) of `where`: equal only for exactly the same rows. */
const ROWS = (where: string) =>
  `SET SESSION group_concat_max_len = 16777216; SELECT CONCAT(COUNT(*), ':', COALESCE(MAX(id), 0), ':', COALESCE(MD5(GROUP_CONCAT(id, '@', at ORDER BY id SEPARATOR ',')), '')) FROM shop.t ${where}`;

/** A MariaDB server `maria` with table shop.t and a writer committing a row every ~50 ms (stop() ends it). */
async function startSourceWithWriter(kc: KubeConfig, ns: string, ids: Ids): Promise<{ port: number; stop: () => void }> {
  const port = await freePort();
  await createServer(kc, ns, "maria", port, ids);
  await createCredentials(kc, ns, "maria-cred", "admin", PASSWORD);
  await waitReady(kc, ns, "maria", 1);
  await waitForServer(kc, ns, port, "source");
  expect(await sql(port, "SELECT CONCAT(@@log_bin, ':', @@time_zone)")).to.match(/^(1|ON):\+00:00$/);
  await sql(port, "CREATE DATABASE shop; CREATE TABLE shop.t (id BIGINT AUTO_INCREMENT PRIMARY KEY, at DATETIME NOT NULL) ENGINE=InnoDB");
  // One autocommit transaction per row, committed continuously until the test ends.
  const writer: ChildProcess = spawn("mariadb", [...clientArgs(port), "shop"], { env: { ...process.env, MYSQL_PWD: PASSWORD }, stdio: ["pipe", "ignore", "ignore"] });
  writer.stdin!.on("error", () => undefined);
  const tick = setInterval(() => writer.stdin?.write("INSERT INTO t (at) VALUES (NOW());\n"), 50);
  return {
    port,
    stop: () => {
      clearInterval(tick);
      writer.stdin?.end();
      writer.kill();
    },
  };
}

/**
 * Restores logfile Backup `log` to `t` into a fresh server `name` and checks it accepts writes and
 * holds exactly the rows the source (on `port`) committed at or before `t`.
 */
async function restoreAndCompare(kc: KubeConfig, ns: string, ids: Ids, port: number, log: string, name: string, t: number): Promise<void> {
  const rport = await freePort();
  await createServer(kc, ns, name, rport, ids);
  await waitReady(kc, ns, name, 1);
  await createRestoreJob(kc, ns, `to-${name}`, { backupJobName: log, labels: { app: name }, claim: `data-${name}-0`, restoreTime: iso(t) });
  await waitRestore(kc, ns, `to-${name}`, "Completed");
  await waitForServer(kc, ns, rport, `restored server ${name}`);
  const want = await sql(port, ROWS(`WHERE at <= '${datetime(t)}'`));
  const got = await sql(rport, ROWS(""));
  const later = Number(await sql(port, `SELECT COUNT(*) FROM shop.t WHERE at > '${datetime(t)}'`));
  expect(Number(want.split(":")[0]), `${name}: rows committed by ${iso(t)}`).to.be.greaterThan(10);
  expect(later, `${name}: the source committed rows after ${iso(t)}`).to.be.greaterThan(0);
  expect(got, `${name} at ${iso(t)}: exactly the rows committed at or before it (count:max id:digest)`).to.equal(want);
  // Read-write: the recovered server accepts a write.
  await sql(rport, "INSERT INTO shop.t (at) VALUES (NOW())");
}

const TARGET = { labelsSelector: { matchLabels: { app: "maria" } }, secret: { name: "maria-cred", usernameKey: "username", passwordKey: "password" } };
const PITR_POLICY = {
  schedule: { logfile: { enable: true, cronExpression: `*/${INTERVAL_S} * * * * *` } },
  datafile: { backupToolName: mariadbBackupTool.metadata!.name!, backupRepoName: REPO, target: TARGET },
  logfile: { backupToolName: mariadbBinlogPitrTool.metadata!.name!, backupRepoName: REPO, target: TARGET },
} as BackupPolicy["spec"];

/** The cluster, the shared repo and tools, the mysql user and an operator running `controllers`. */
async function pitrSuite(controllers: ControllerName[]): Promise<{ kc: KubeConfig; op: Operator; ids: Ids }> {
  const kc = (await e2eCluster()).controlPlane.kubeConfig;
  await installShared(kc);
  const ids = await systemUser("mysql");
  const op = await startTestOperator({ controllers, timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 }, logKeepFromMarginMs: MARGIN_MS });
  return { kc, op, ids };
}

describe("MariaDB point-in-time recovery: mariadb-backup + mariadb-binlog-pitr (mariadb-binlog) against a real server (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let op: Operator;
  let ids: Ids;

  before(async () => ({ kc, op, ids } = await pitrSuite(["backup", "backuptool", "restorejob"])));
  after(async () => op?.stop());

  it("restores three points in the archived window, each to exactly the rows committed at or before it, and refuses a point past the window before stopping anything", async () => {
    const ns = await testNamespace(kc, "maria-pitr", 180_000);
    let stopWriter: (() => void) | undefined;
    try {
      const source = await startSourceWithWriter(kc, ns.name, ids);
      const port = source.port;
      stopWriter = source.stop;
      await createPolicy(kc, ns.name, "pitr", PITR_POLICY);
      await createBackup(kc, ns.name, "log1", "pitr", { backupType: "logfile" });
      await until("log1 archiving (its pod available)", async () => ((await getBackup(kc, ns.name, "log1"))?.status?.availableReplicas ?? 0) > 0 ? true : undefined, 180_000, 500);
      await new Promise((r) => setTimeout(r, 2 * INTERVAL_S * 1000));
      await createBackup(kc, ns.name, "base1", "pitr");
      const base = await backupInPhase(kc, ns.name, "base1", ["Completed"], 240_000);

      // Traffic goes on, the binlog rotates (finished files are archived once, across which the
      // replay continues), and the window's end moves with the archive.
      for (let i = 0; i < 5; i++) {
        await new Promise((r) => setTimeout(r, 5_000));
        await sql(port, "FLUSH BINARY LOGS");
      }
      const log = await until("log1's window past the traffic", async () => {
        const b = await getBackup(kc, ns.name, "log1");
        const stop = Date.parse(b?.status?.manifests?.backupLog?.stopTime ?? "");
        return stop > Date.parse(base.status!.completionTimestamp!) + 20_000 ? b : undefined;
      }, 60_000, 500);
      const binlogs = (await sql(port, "SHOW BINARY LOGS")).split("\n").length;
      expect(binlogs, "the binlog was rotated during the window").to.be.greaterThan(4);
      const start = Math.ceil(Date.parse(base.status!.completionTimestamp!) / 1000) * 1000 + 1000;
      const end = Math.floor(Date.parse(log!.status!.manifests!.backupLog!.stopTime!) / 1000) * 1000 - 3 * INTERVAL_S * 1000;
      const points = [start, Math.floor((start + end) / 2000) * 1000, end];
      expect(end - start, "the window is long enough for three distinct points").to.be.greaterThan(5_000);

      for (const [i, t] of points.entries()) await restoreAndCompare(kc, ns.name, ids, port, "log1", `r${i + 1}`, t);

      // Past the window: refused with the window named, the target never scaled down.
      const far = iso(Date.now() + 3_600_000);
      await createRestoreJob(kc, ns.name, "too-late", { backupJobName: "log1", labels: { app: "r1" }, claim: "data-r1-0", restoreTime: far });
      const rj = await waitRestore(kc, ns.name, "too-late", "Failed");
      expect(rj.status!.failureReason).to.match(new RegExp(`^RestoreTimeOutOfWindow: restoreTime ${far} is outside the recoverable window of BackupPolicy "(${ns.name}/)?pitr": \\S+ to \\S+ \\(logfile backup "log1"\\)`));
      const after = await getCustom<RestoreJob>(kc, DataProtectionGroup, "restorejobs", ns.name, "too-late");
      expect(after?.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"], "nothing was scaled down").to.equal(undefined);
    } finally {
      stopWriter?.();
      await ns.cleanup();
    }
  });
});

interface LogManifest {
  files: Array<{ name: string; stopTime?: string }>;
}

describe("MariaDB point-in-time recovery: binlog retention follows the kept base backups (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let op: Operator;
  let ids: Ids;

  before(async () => ({ kc, op, ids } = await pitrSuite(["backup", "backuptool", "restorejob", "backuppolicy"])));
  after(async () => op?.stop());

  it("deleting the older base prunes exactly the binlogs only it needed (finished before the kept base's start less the margin), and the kept base still restores to points across its window", async () => {
    const ns = await testNamespace(kc, "maria-pitr-ret", 180_000);
    let stopWriter: (() => void) | undefined;
    try {
      const source = await startSourceWithWriter(kc, ns.name, ids);
      stopWriter = source.stop;
      await createPolicy(kc, ns.name, "pitr", PITR_POLICY);
      // The policy controller starts the logfile Backup itself.
      const custom = kc.makeApiClient(CustomObjectsApi);
      const logName = await until("the policy's logfile Backup archiving", async () => {
        const list = (await custom.listNamespacedCustomObject({ group: DataProtectionGroup, version: "v1alpha1", namespace: ns.name, plural: "backups" })) as { items: Backup[] };
        const log = list.items.find((b) => b.spec.backupType === "logfile" && (b.status?.availableReplicas ?? 0) > 0);
        return log?.metadata?.name;
      }, 180_000, 500);
      await new Promise((r) => setTimeout(r, 2 * INTERVAL_S * 1000));
      const keepFromOf = async () => (await getBackup(kc, ns.name, logName))?.metadata?.annotations?.[AnnotationLogKeepFrom];
      const minus = (rfc: string, ms: number) => iso(Date.parse(rfc) - ms);

      await createBackup(kc, ns.name, "base1", "pitr");
      const base1 = await backupInPhase(kc, ns.name, "base1", ["Completed"], 240_000);
      expect(await until("keep-from handed over for base1", async () => ((await keepFromOf()) === minus(base1.status!.startTimestamp!, MARGIN_MS) ? true : undefined), 30_000, 500)).to.equal(true);

      // Binlogs only base1 needs: finished (rotated) and archived more than a minute before base2 starts.
      const repoDir = await hostPathOf(kc, ns.name, base1.status!.persistentVolumeClaimName!);
      const manifest = async (): Promise<LogManifest> => JSON.parse(await readFile(join(repoDir, ns.name, logName, "manifest.json"), "utf8")) as LogManifest;
      const finished = (m: LogManifest) => m.files.filter((f) => f.name.startsWith(BINLOG_PREFIX) && !f.name.endsWith(".partial"));
      for (let i = 0; i < 3; i++) {
        await new Promise((r) => setTimeout(r, 1_500));
        await sql(source.port, "FLUSH BINARY LOGS");
      }
      await until("three rotated binlogs archived", async () => (finished(await manifest()).length >= 3 ? true : undefined), 60_000, 500);
      const lastPush = Math.max(...finished(await manifest()).map((f) => Date.parse(f.stopTime!)));
      await new Promise((r) => setTimeout(r, Math.max(0, lastPush + MARGIN_MS + 5_000 - Date.now())));

      await createBackup(kc, ns.name, "base2", "pitr");
      const base2 = await backupInPhase(kc, ns.name, "base2", ["Completed"], 240_000);
      const keepFrom = minus(base2.status!.startTimestamp!, MARGIN_MS);
      for (let i = 0; i < 2; i++) {
        await new Promise((r) => setTimeout(r, 1_500));
        await sql(source.port, "FLUSH BINARY LOGS");
      }
      await until("the binlogs rotated after base2 archived", async () => (finished(await manifest()).some((f) => Date.parse(f.stopTime!) >= Date.parse(base2.status!.startTimestamp!)) ? true : undefined), 60_000, 500);
      const before = finished(await manifest());
      const onlyBase1 = before.filter((f) => Date.parse(f.stopTime!) < Date.parse(keepFrom)).map((f) => f.name);
      const kept = before.filter((f) => Date.parse(f.stopTime!) >= Date.parse(keepFrom)).map((f) => f.name);
      expect(onlyBase1.length, "binlogs only base1 needs").to.be.at.least(3);
      expect(kept.length, "binlogs base2 needs").to.be.at.least(1);
      expect(await keepFromOf(), "nothing is pruned while base1 is kept").to.equal(minus(base1.status!.startTimestamp!, MARGIN_MS));
      for (const n of onlyBase1) expect(finished(await manifest()).map((f) => f.name), "still there while base1 is kept").to.include(n);

      await deleteBackup(kc, ns.name, "base1");
      await until("base1 gone", async () => ((await getBackup(kc, ns.name, "base1")) ? undefined : true), 120_000, 500);
      expect(await until("keep-from moved to base2's start less the margin", async () => ((await keepFromOf()) === keepFrom ? true : undefined), 30_000, 500)).to.equal(true);
      const after = await until("the archiver pruned the binlogs only base1 needed", async () => {
        const names = finished(await manifest()).map((f) => f.name);
        return onlyBase1.every((n) => !names.includes(n)) ? names : undefined;
      }, 60_000, 500);
      for (const n of kept) expect(after, "a binlog base2 needs is kept").to.include(n);
      for (const n of onlyBase1) expect(await exists(join(repoDir, ns.name, logName, n)), `${n}'s object removed`).to.equal(false);

      // The kept base restores across its window: just after it, and near the newest archived binlog.
      await new Promise((r) => setTimeout(r, 10_000));
      const log = await getBackup(kc, ns.name, logName);
      const start = Math.ceil(Date.parse(base2.status!.completionTimestamp!) / 1000) * 1000 + 1000;
      const end = Math.floor(Date.parse(log!.status!.manifests!.backupLog!.stopTime!) / 1000) * 1000 - 3 * INTERVAL_S * 1000;
      expect(end - start, "the window is long enough for two distinct points").to.be.greaterThan(2_000);
      await restoreAndCompare(kc, ns.name, ids, source.port, logName, "k1", start);
      await restoreAndCompare(kc, ns.name, ids, source.port, logName, "k2", end);
    } finally {
      stopWriter?.();
      await ns.cleanup();
    }
  });
});
