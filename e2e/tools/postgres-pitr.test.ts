// PostgreSQL point-in-time recovery end to end: a real PostgreSQL 15 server, a writer committing
// a row every ~50 ms, the postgres-pitr tool archiving WAL through pg_receivewal while a
// postgres-basebackup base backup is taken, then three RestoreJobs with restoreTime (just after
// the base, the middle, a few seconds before the newest archived WAL) each into a fresh server:
// every restored server is read-write and holds exactly the rows whose commit timestamp (on the
// source, track_commit_timestamp) is at or before its restoreTime. A restoreTime past the window
// fails with the window in the reason before anything is stopped.
// Retention: with the BackupPolicy controller running, deleting the older of two base backups
// prunes exactly the WAL only it needed; the kept base restores to points across its window.
import { expect } from "chai";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { AnnotationLogKeepFrom, DataProtectionGroup, LabelBackupName, LabelJobRole, type Backup, type BackupPolicy, type RestoreJob } from "@dataprotection/api";
import type { ControllerName, Operator } from "@dataprotection/controllers";
import { postgresBasebackupTool, postgresPitrTool } from "@dataprotection/tools";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilInNamespace } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, deleteBackup, exists, getBackup, hostPathOf, installShared, REPO, testTimeouts } from "../backup/fixtures.ts";
import { createRestoreJob, waitReady, waitRestore } from "../restore/seed.ts";
import { createCredentials, createDatabaseStatefulSet, freePort, postgresServerScript, systemUser, type Ids } from "./db-server.ts";

const run = promisify(execFile);
const PASSWORD = "pg-s3cret";
const INTERVAL_S = 3;
/** The operator's log keep-from margin (a minute by default): shorter, so the test waits seconds past it, not a minute. */
const MARGIN_MS = 10_000;

async function psql(port: number, sql: string): Promise<string> {
  const { stdout } = await run("psql", ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], {
    env: { ...process.env, PGPASSWORD: PASSWORD, PGCONNECT_TIMEOUT: "3" },
  });
  return stdout.trim();
}

function waitForServer(kc: KubeConfig, ns: string, port: number, what: string): Promise<true> {
  return untilInNamespace(kc, ns, `${what} on 127.0.0.1:${port} read-write`, async () => {
    try {
      return (await psql(port, "select pg_is_in_recovery()")) === "f" ? true : undefined;
    } catch (e) {
      throw new Error(`last error: ${(e as Error).message}`);
    }
  }, 180_000, 500);
}

/** A PostgreSQL 15 StatefulSet `name` (labels app=<name>) on `port`; commit timestamps tracked. */
async function createServer(kc: KubeConfig, ns: string, name: string, port: number, ids: Ids): Promise<void> {
  const script = postgresServerScript(port).replace(
    `  echo "listen_addresses='127.0.0.1'" >> "$D/postgresql.conf"`,
    `  echo "listen_addresses='127.0.0.1'" >> "$D/postgresql.conf"\n  echo "track_commit_timestamp = on" >> "$D/postgresql.conf"`,
  );
  expect(script, "the server script still has the line the test extends").to.contain("track_commit_timestamp");
  await createDatabaseStatefulSet(kc, ns, {
    name, labels: { app: name, "app.kubernetes.io/instance": name }, container: "postgresql", image: "postgres:15", script,
    env: [{ name: "PGPW", value: PASSWORD }], port, ids,
    prepare: `mkdir -p /data/pgdata && chown ${ids.uid}:${ids.gid} /data /data/pgdata && chmod 700 /data/pgdata`,
    storage: "300Mi", terminationGracePeriodSeconds: 20, primary: true,
  });
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/**
 * Restores logfile Backup `log` to `t` into a fresh server `name` and checks it is read-write and
 * holds exactly the rows the source (on `port`) committed at or before `t`.
 */
async function restoreAndCompare(kc: KubeConfig, ns: string, ids: Ids, port: number, log: string, name: string, t: number): Promise<void> {
  const rport = await freePort();
  await createServer(kc, ns, name, rport, ids);
  await waitReady(kc, ns, name, 1);
  await createRestoreJob(kc, ns, `to-${name}`, { backupJobName: log, labels: { app: name }, claim: `data-${name}-0`, restoreTime: iso(t) });
  await waitRestore(kc, ns, `to-${name}`, "Completed");
  await waitForServer(kc, ns, rport, `restored server ${name}`);
  const want = await psql(port, `select coalesce(string_agg(id::text, ',' order by id), '') from t where pg_xact_commit_timestamp(xmin) <= '${iso(t)}'`);
  const got = await psql(rport, "select coalesce(string_agg(id::text, ',' order by id), '') from t");
  const later = Number(await psql(port, `select count(*) from t where pg_xact_commit_timestamp(xmin) > '${iso(t)}'`));
  expect(want.split(",").length, `${name}: rows committed by ${iso(t)}`).to.be.greaterThan(10);
  expect(later, `${name}: the source committed rows after ${iso(t)}`).to.be.greaterThan(0);
  expect(got, `${name} at ${iso(t)}: exactly the rows committed at or before it`).to.equal(want);
  // Read-write: the recovered server accepts a write.
  await psql(rport, "insert into t default values");
}

/** A PostgreSQL 15 server `pg` with table t and a writer committing a row every ~50 ms. */
async function startSourceWithWriter(kc: KubeConfig, ns: string, ids: Ids): Promise<{ port: number; writer: ChildProcess }> {
  const port = await freePort();
  await createServer(kc, ns, "pg", port, ids);
  await createCredentials(kc, ns, "pg-cred", "postgres", PASSWORD);
  await waitReady(kc, ns, "pg", 1);
  await waitForServer(kc, ns, port, "source");
  await psql(port, "create table t (id bigserial primary key, at timestamptz not null default clock_timestamp())");
  await psql(port, "create procedure w() language plpgsql as $w$ begin loop insert into t default values; commit; perform pg_sleep(0.05); end loop; end $w$");
  // One transaction per row, committed continuously until the test ends.
  const writer = spawn("psql", ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-c", "call w()"], { env: { ...process.env, PGPASSWORD: PASSWORD }, stdio: "ignore" });
  return { port, writer };
}

const TARGET = { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "pg-cred", usernameKey: "username", passwordKey: "password" } };
const PITR_POLICY = {
  schedule: { logfile: { enable: true, cronExpression: `*/${INTERVAL_S} * * * * *` } },
  datafile: { backupToolName: postgresBasebackupTool.metadata!.name!, backupRepoName: REPO, target: TARGET },
  logfile: { backupToolName: postgresPitrTool.metadata!.name!, backupRepoName: REPO, target: TARGET },
} as BackupPolicy["spec"];

/** The cluster, the shared repo and tools, the postgres user and an operator running `controllers`. */
async function pitrSuite(controllers: ControllerName[]): Promise<{ kc: KubeConfig; op: Operator; ids: Ids }> {
  const kc = (await e2eCluster()).controlPlane.kubeConfig;
  await installShared(kc);
  const ids = await systemUser("postgres");
  const op = await startTestOperator({ controllers, timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 }, logKeepFromMarginMs: MARGIN_MS });
  return { kc, op, ids };
}

describe("PostgreSQL point-in-time recovery: postgres-basebackup + postgres-pitr (pg_receivewal) against a real server (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let op: Operator;
  let ids: Ids;

  before(async () => ({ kc, op, ids } = await pitrSuite(["backup", "backuptool", "restorejob"])));
  after(async () => op?.stop());

  it("restores three points in the archived window, each to exactly the rows committed at or before it, and refuses a point past the window before stopping anything", async () => {
    const ns = await testNamespace(kc, "pg-pitr", 180_000);
    let writer: ChildProcess | undefined;
    try {
      const source = await startSourceWithWriter(kc, ns.name, ids);
      const port = source.port;
      writer = source.writer;
      await createPolicy(kc, ns.name, "pitr", PITR_POLICY);
      await createBackup(kc, ns.name, "log1", "pitr", { backupType: "logfile" });
      await until("log1 archiving (its pod available)", async () => ((await getBackup(kc, ns.name, "log1"))?.status?.availableReplicas ?? 0) > 0 ? true : undefined, 180_000, 500);
      await new Promise((r) => setTimeout(r, 2 * INTERVAL_S * 1000));
      await createBackup(kc, ns.name, "base1", "pitr");
      const base = await backupInPhase(kc, ns.name, "base1", ["Completed"], 240_000);

      // The archiver's container dies right after a segment switch, before its next push: the
      // segment, already confirmed to the slot, is pushed from the spool by the restarted container.
      const switched = await killArchiverAfterSwitch(kc, ns.name, port, "log1");
      const repoDir = await hostPathOf(kc, ns.name, base.status!.persistentVolumeClaimName!);
      const segments = await until(`segment ${switched}, switched just before the kill, archived`, async () => {
        const m = JSON.parse(await readFile(join(repoDir, ns.name, "log1", "manifest.json"), "utf8")) as LogManifest;
        const names = m.files.map((f) => f.name).filter((n) => /^wal\/[0-9A-F]{24}$/.test(n)).map((n) => n.slice(4)).sort();
        return names.includes(switched) ? names : undefined;
      }, 60_000, 500);
      expect(segments.length, "segments archived from before the base to the switch").to.be.at.least(2);
      expect(gaps(segments), "finished WAL segments archived without a gap").to.deep.equal([]);

      // Traffic goes on; the window's end moves with the archive.
      await new Promise((r) => setTimeout(r, 25_000));
      const log = await until("log1's window past the traffic", async () => {
        const b = await getBackup(kc, ns.name, "log1");
        const stop = Date.parse(b?.status?.manifests?.backupLog?.stopTime ?? "");
        return stop > Date.parse(base.status!.completionTimestamp!) + 20_000 ? b : undefined;
      }, 60_000, 500);
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
      writer?.kill();
      await ns.cleanup();
    }
  });
});

/** Names missing between consecutive archived WAL segment names (16 MiB segments, one timeline). */
function gaps(names: string[]): string[] {
  const segno = (n: string) => parseInt(n.slice(8, 16), 16) * 256 + parseInt(n.slice(16, 24), 16);
  const name = (tl: string, no: number) => `${tl}${Math.floor(no / 256).toString(16).toUpperCase().padStart(8, "0")}${(no % 256).toString(16).toUpperCase().padStart(8, "0")}`;
  const missing: string[] = [];
  for (let i = 1; i < names.length; i++) for (let no = segno(names[i - 1]) + 1; no < segno(names[i]); no++) missing.push(name(names[i].slice(0, 8), no));
  return missing;
}

/**
 * Switches the source's WAL segment, then at once SIGKILLs the first process of logfile Backup
 * `log`'s archiver container (the local node's containerID is local://<pid>), and waits until the
 * container restarted. Returns the name of the segment the switch finished.
 */
async function killArchiverAfterSwitch(kc: KubeConfig, ns: string, port: number, log: string): Promise<string> {
  const core = kc.makeApiClient(CoreV1Api);
  const selector = `${LabelBackupName}=${log},${LabelJobRole}=logfile`;
  const pod = (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items[0];
  const pid = Number(/^local:\/\/(\d+)$/.exec(pod?.status?.containerStatuses?.[0]?.containerID ?? "")?.[1]);
  expect(pid, `the archiver pod's container pid (${selector})`).to.be.greaterThan(0);
  const switched = await psql(port, "select pg_walfile_name(pg_switch_wal())");
  await new Promise((r) => setTimeout(r, 300));
  process.kill(pid, "SIGKILL");
  await until("the archiver container restarted and running", async () => {
    const p = (await core.listNamespacedPod({ namespace: ns, labelSelector: selector })).items[0];
    const st = p?.status?.containerStatuses?.[0];
    return (st?.restartCount ?? 0) >= 1 && st?.state?.running ? true : undefined;
  }, 120_000, 500);
  return switched;
}

interface LogManifest {
  files: Array<{ name: string; stopTime?: string }>;
}

describe("PostgreSQL point-in-time recovery: WAL retention follows the kept base backups (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let op: Operator;
  let ids: Ids;

  before(async () => ({ kc, op, ids } = await pitrSuite(["backup", "backuptool", "restorejob", "backuppolicy"])));
  after(async () => op?.stop());

  it("deleting the older base prunes exactly the WAL only it needed (pushed before the kept base's start less the margin), and the kept base still restores to points across its window", async () => {
    const ns = await testNamespace(kc, "pg-pitr-ret", 180_000);
    let writer: ChildProcess | undefined;
    try {
      const source = await startSourceWithWriter(kc, ns.name, ids);
      writer = source.writer;
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

      // WAL only base1 needs: segments finished and pushed more than a minute before base2 starts.
      const repoDir = await hostPathOf(kc, ns.name, base1.status!.persistentVolumeClaimName!);
      const manifest = async (): Promise<LogManifest> => JSON.parse(await readFile(join(repoDir, ns.name, logName, "manifest.json"), "utf8")) as LogManifest;
      const finished = (m: LogManifest) => m.files.filter((f) => /^wal\/[0-9A-F]{24}$/.test(f.name));
      for (let i = 0; i < 3; i++) {
        await psql(source.port, "select pg_switch_wal()");
        await new Promise((r) => setTimeout(r, 1_500));
      }
      await until("three switched segments archived", async () => (finished(await manifest()).length >= 3 ? true : undefined), 60_000, 500);
      const lastPush = Math.max(...finished(await manifest()).map((f) => Date.parse(f.stopTime!)));
      await new Promise((r) => setTimeout(r, Math.max(0, lastPush + MARGIN_MS + 5_000 - Date.now())));

      await createBackup(kc, ns.name, "base2", "pitr");
      const base2 = await backupInPhase(kc, ns.name, "base2", ["Completed"], 240_000);
      const keepFrom = minus(base2.status!.startTimestamp!, MARGIN_MS);
      for (let i = 0; i < 2; i++) {
        await psql(source.port, "select pg_switch_wal()");
        await new Promise((r) => setTimeout(r, 1_500));
      }
      const before = finished(await manifest());
      const onlyBase1 = before.filter((f) => Date.parse(f.stopTime!) < Date.parse(keepFrom)).map((f) => f.name);
      const kept = before.filter((f) => Date.parse(f.stopTime!) >= Date.parse(keepFrom)).map((f) => f.name);
      expect(onlyBase1.length, "segments only base1 needs").to.be.at.least(3);
      expect(kept.length, "segments base2 needs").to.be.at.least(1);
      expect(await keepFromOf(), "nothing is pruned while base1 is kept").to.equal(minus(base1.status!.startTimestamp!, MARGIN_MS));
      for (const n of onlyBase1) expect(finished(await manifest()).map((f) => f.name), "still there while base1 is kept").to.include(n);

      await deleteBackup(kc, ns.name, "base1");
      await until("base1 gone", async () => ((await getBackup(kc, ns.name, "base1")) ? undefined : true), 120_000, 500);
      expect(await until("keep-from moved to base2's start less the margin", async () => ((await keepFromOf()) === keepFrom ? true : undefined), 30_000, 500)).to.equal(true);
      const after = await until("the archiver pruned the WAL only base1 needed", async () => {
        const names = finished(await manifest()).map((f) => f.name);
        return onlyBase1.every((n) => !names.includes(n)) ? names : undefined;
      }, 60_000, 500);
      for (const n of kept) expect(after, "a segment base2 needs is kept").to.include(n);
      for (const n of onlyBase1) expect(await exists(join(repoDir, ns.name, logName, n)), `${n}'s object removed`).to.equal(false);

      // The kept base restores across its window: just after it, and near the newest archived WAL.
      await new Promise((r) => setTimeout(r, 10_000));
      const log = await getBackup(kc, ns.name, logName);
      const start = Math.ceil(Date.parse(base2.status!.completionTimestamp!) / 1000) * 1000 + 1000;
      const end = Math.floor(Date.parse(log!.status!.manifests!.backupLog!.stopTime!) / 1000) * 1000 - 3 * INTERVAL_S * 1000;
      expect(end - start, "the window is long enough for two distinct points").to.be.greaterThan(2_000);
      await restoreAndCompare(kc, ns.name, ids, source.port, logName, "k1", start);
      await restoreAndCompare(kc, ns.name, ids, source.port, logName, "k2", end);
    } finally {
      writer?.kill();
      await ns.cleanup();
    }
  });
});

