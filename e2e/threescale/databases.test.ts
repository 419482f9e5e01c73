// spec.includeDatabases end to end: a 3scale namespace whose system-database Secret points at a
// real MariaDB 10.11 (or PostgreSQL 15), whose zync Secret points at a real PostgreSQL 15 and
// whose system-redis / backend-redis Secrets point at real Redis 7.0 servers (StatefulSets on
// the local node, password auth, URLs as 3scale writes them). One APIManagerBackup takes the
// databases with the built-in tools (targetless endpoint copies) and then the APIManager into
// its PVC; rows and keys then change, and generic RestoreJobs of the component Backups bring
// back rows and keys (TTLs kept as absolute expiry times; the restore side of includeDatabases,
// which would drive them, is not built yet). A database that cannot be reached fails the whole
// APIManagerBackup, naming the component.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { APIManagerBackupStatus, Backup } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { threescaleControllers } from "@dataprotection/threescale";
import { e2eCluster, getCustom, startTestOperator, testNamespace, untilEventReasons, untilInNamespace } from "../harness.ts";
import { installShared, testTimeouts } from "../backup/fixtures.ts";
import { createRestoreJob, waitReady, waitRestore } from "../restore/seed.ts";
import { createDatabaseStatefulSet, freePort, mariadbServerScript, postgresServerScript, systemUser, type Ids } from "../tools/db-server.ts";
import { G, StandIn3scale, V, apiManager, crStatus, installApiManagerCrd, seed3scale, seedSystemStorage } from "./fixtures.ts";

const run = promisify(execFile);
const MARIA_PW = "maria-s3cret:@/";
const REDIS_PW = "redis-s3cret";
const PG_PW = "pg-super-s3cret";
const ZYNC_PW = "zync-s3cret";
const done = (s: { completed?: boolean; failureReason?: string }) => s.completed === true || !!s.failureReason;

async function sql(port: number, text: string): Promise<string> {
  const { stdout } = await run("mariadb", ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "-u", "admin", "-N", "-B", "-e", text], { env: { ...process.env, MYSQL_PWD: MARIA_PW } });
  return stdout.trim();
}

async function psql(port: number, text: string, db = "postgres", user = "postgres", password = PG_PW): Promise<string> {
  const { stdout } = await run("psql", ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", user, "-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", text], { env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "3" } });
  return stdout.trim();
}

async function createPostgres(kc: KubeConfig, ns: string, name: string, port: number, ids: Ids): Promise<void> {
  await createDatabaseStatefulSet(kc, ns, {
    name, labels: { app: name }, container: "postgresql", image: "postgres:15", script: postgresServerScript(port),
    env: [{ name: "PGPW", value: PG_PW }], port, ids,
    prepare: `mkdir -p /data/pgdata && chown ${ids.uid}:${ids.gid} /data /data/pgdata && chmod 700 /data/pgdata`, storage: "200Mi", terminationGracePeriodSeconds: 20,
  });
}

async function redis(port: number, args: string[]): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--no-raw", ...args], { env: { ...process.env, REDISCLI_AUTH: REDIS_PW } });
  const out = stdout.trim();
  if (out.startsWith("(error)")) throw new Error(`redis ${args[0]}: ${out}`);
  return out;
}

const answering = (kc: KubeConfig, ns: string, what: string, probe: () => Promise<boolean>) =>
  untilInNamespace(kc, ns, what, async () => {
    try {
      return (await probe()) ? true : undefined;
    } catch (e) {
      throw new Error(`last error: ${(e as Error).message}`);
    }
  }, 180_000, 1000);

async function createMariadb(kc: KubeConfig, ns: string, port: number, ids: Ids): Promise<void> {
  await createDatabaseStatefulSet(kc, ns, {
    name: "system-mysql", labels: { app: "system-mysql" }, container: "mariadb", image: "mariadb:10.11", script: mariadbServerScript(port),
    env: [{ name: "ADMIN_PW", value: MARIA_PW }], port, ids,
    prepare: `mkdir -p /data/mysql && chown ${ids.uid}:${ids.gid} /data /data/mysql`, storage: "500Mi", terminationGracePeriodSeconds: 30,
  });
}

async function createRedis(kc: KubeConfig, ns: string, name: string, port: number, ids: Ids): Promise<void> {
  await createDatabaseStatefulSet(kc, ns, {
    name, labels: { app: name }, container: "redis", image: "redis:7.0",
    script: `exec redis-server --port ${port} --bind 127.0.0.1 --dir /data --requirepass "$REDIS_PW" --appendonly no --save '3600 1' --enable-debug-command local --protected-mode no --logfile ''`,
    env: [{ name: "REDIS_PW", value: REDIS_PW }], port, ids,
    prepare: `chown ${ids.uid}:${ids.gid} /data && chmod 750 /data`, storage: "100Mi", terminationGracePeriodSeconds: 20,
  });
}

/** Points the seeded 3scale Secrets at the servers, as a 3scale installation with external databases has them. */
/** One APIManagerBackup "full" with includeDatabases onto a new claim; its status once it ended. */
async function backUpWithDatabases(kc: KubeConfig, ns: string): Promise<APIManagerBackupStatus> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: G, version: V, namespace: ns, plural: "apimanagerbackups", body: {
    apiVersion: `${G}/${V}`, kind: "APIManagerBackup", metadata: { name: "full" },
    spec: { includeDatabases: true, backupDestination: { persistentVolumeClaim: { resources: { requests: "1Gi" } } } },
  } });
  return crStatus<APIManagerBackupStatus>(kc, "apimanagerbackups", ns, "full", done, 600_000);
}

async function pointSecrets(kc: KubeConfig, ns: string, urls: { database: string; systemRedis: string; backendRedis: string; zync?: string }): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  const set = async (name: string, data: Record<string, string>) => {
    const s = await core.readNamespacedSecret({ name, namespace: ns });
    await core.replaceNamespacedSecret({ name, namespace: ns, body: { ...s, data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) } });
  };
  await set("system-database", { URL: urls.database, DB_USER: "admin", DB_PASSWORD: MARIA_PW });
  await set("system-redis", { URL: urls.systemRedis });
  await set("backend-redis", { REDIS_STORAGE_URL: urls.backendRedis, REDIS_QUEUES_URL: `${urls.backendRedis.replace(/\/0$/, "")}/1` });
  if (urls.zync) await set("zync", { DATABASE_URL: urls.zync, DATABASE_PASSWORD: ZYNC_PW, ZYNC_AUTHENTICATION_TOKEN: "token" });
}

/** What a restore of a component Backup needs (the restore side of includeDatabases will create it): its endpoint Secret. */
async function endpointSecret(kc: KubeConfig, ns: string, component: string, data: Record<string, string>): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await core.deleteNamespacedSecret({ name: `threescale-${component}-endpoint`, namespace: ns }).catch(() => undefined);
  await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name: `threescale-${component}-endpoint` }, stringData: data } });
}

const mariaSummary = (port: number) => sql(port, "SELECT CONCAT((SELECT COUNT(*) FROM system.accounts), ':', (SELECT MD5(GROUP_CONCAT(id, org_name ORDER BY id)) FROM system.accounts), ':', (SELECT COUNT(*) FROM system.services), ':', (SELECT MD5(GROUP_CONCAT(id, account_id, name ORDER BY id)) FROM system.services))");
const zyncSummary = (port: number) => psql(port, "SELECT count(*) || ':' || md5(string_agg(id || model || record_id, ',' ORDER BY id)) FROM entries", "zync_production", "zync", ZYNC_PW);
const redisSummary = async (port: number) => `${await redis(port, ["-n", "0", "DBSIZE"])} ${await redis(port, ["-n", "1", "DBSIZE"])} ${await redis(port, ["DEBUG", "DIGEST"])}`;

describe("3scale: APIManagerBackup with includeDatabases, real MariaDB and Redis (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let op: Operator;
  let standIn: StandIn3scale;
  const namespaces: Array<{ cleanup: () => Promise<void> }> = [];

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    await installApiManagerCrd(kc);
    standIn = new StandIn3scale(kc);
    standIn.start();
    op = await startTestOperator(
      { controllers: ["backup", "backuptool", "restorejob"], timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 } },
      [threescaleControllers({ readyTimeoutSeconds: 30, jobDeadlineSeconds: 600, env: [{ name: "THREESCALE_POLL_MS", value: "300" }, { name: "DP_COMPRESSION_THREADS", value: "1" }] })],
    );
  });
  after(async () => {
    standIn?.stop();
    for (const ns of namespaces) await ns.cleanup();
    await op?.stop();
  });

  it("takes system-database (MariaDB), zync-database (PostgreSQL), system-redis and backend-redis, then the APIManager, into one PVC; RestoreJobs of the components bring back rows and keys", async () => {
    const ns = await testNamespace(kc, "apim-db", 240_000);
    namespaces.push(ns);
    standIn.namespaces.add(ns.name);
    const [mport, sport, bport, zport] = [await freePort(), await freePort(), await freePort(), await freePort()];
    await createMariadb(kc, ns.name, mport, await systemUser("mysql"));
    await createPostgres(kc, ns.name, "zync-database", zport, await systemUser("postgres"));
    const rids = await systemUser("redis");
    await createRedis(kc, ns.name, "system-redis", sport, rids);
    await createRedis(kc, ns.name, "backend-redis", bport, rids);
    for (const n of ["system-mysql", "system-redis", "backend-redis", "zync-database"]) await waitReady(kc, ns.name, n, 1);
    await answering(kc, ns.name, "postgresql", async () => (await psql(zport, "SELECT 1")) === "1");
    // zync's account owns its database and is no superuser (pg_dumpall would not do).
    await psql(zport, `CREATE ROLE zync LOGIN PASSWORD '${ZYNC_PW}'`);
    await psql(zport, "CREATE DATABASE zync_production OWNER zync");
    await psql(zport, "CREATE TABLE entries (id serial PRIMARY KEY, model text NOT NULL, record_id int NOT NULL); INSERT INTO entries (model, record_id) SELECT 'Application', g FROM generate_series(1, 300) g", "zync_production", "zync", ZYNC_PW);
    await answering(kc, ns.name, "mariadb", async () => (await sql(mport, "SELECT 1")) === "1");
    for (const p of [sport, bport]) await answering(kc, ns.name, `redis ${p}`, async () => (await redis(p, ["PING"])) === "PONG");

    await sql(mport, [
      "CREATE DATABASE system",
      "USE system",
      "CREATE TABLE system.accounts (id INT PRIMARY KEY, org_name VARCHAR(64) NOT NULL) ENGINE=InnoDB",
      "CREATE TABLE system.services (id INT PRIMARY KEY, account_id INT NOT NULL, name VARCHAR(64) NOT NULL) ENGINE=InnoDB",
      "INSERT INTO system.accounts SELECT seq, CONCAT('org-', seq) FROM seq_1_to_200",
      "INSERT INTO system.services SELECT seq, 1 + seq % 200, CONCAT('api-', MD5(seq)) FROM seq_1_to_600",
    ].join(";\n"));
    for (const p of [sport, bport]) {
      await redis(p, ["-n", "0", "EVAL", "for i = 1, 500 do redis.call('SET', 'stats/' .. i, i) end return 1", "0"]);
      await redis(p, ["-n", "1", "EVAL", "for i = 1, 100 do redis.call('SET', 'resque:job:' .. i, 'j' .. i, 'EX', 3600) end return 1", "0"]);
      await redis(p, ["-n", "0", "HSET", "service/1", "state", "live"]);
    }
    const maria0 = await mariaSummary(mport);
    const sys0 = await redisSummary(sport);
    const be0 = await redisSummary(bport);
    const zync0 = await zyncSummary(zport);

    await seedSystemStorage(kc, ns.name, 20);
    await seed3scale(kc, ns.name, apiManager("example-apimanager", { persistentVolumeClaim: { resources: { requests: "200Mi" } } }));
    // The password holds URL-special characters: percent-encoded in the URL as 3scale writes it.
    await pointSecrets(kc, ns.name, {
      database: `mysql2://admin:${encodeURIComponent(MARIA_PW)}@127.0.0.1:${mport}/system`,
      systemRedis: `redis://:${REDIS_PW}@127.0.0.1:${sport}/1`,
      backendRedis: `redis://:${REDIS_PW}@127.0.0.1:${bport}/0`,
      zync: `postgresql://zync@127.0.0.1:${zport}/zync_production`,
    });

    const bs = await backUpWithDatabases(kc, ns.name);
    expect(bs.failureReason).to.equal(undefined);
    expect(bs.completed).to.equal(true);
    expect(bs.mainStepsCompleted).to.deep.include({ databasesBackedUp: true, apiManagerBackedUp: true, systemFileStorageBackedUp: true });
    expect(bs.databases?.map((d) => [d.name, d.engine, d.phase])).to.deep.equal([
      ["system-database", "mysql", "Completed"], ["zync-database", "postgresql", "Completed"], ["system-redis", "redis", "Completed"], ["backend-redis", "redis", "Completed"],
    ]);
    for (const d of bs.databases!) {
      expect(d.totalSize, d.name).to.match(/^[0-9.]+(Ki|Mi|Gi)?$/);
      expect(Date.parse(d.completionTime!), d.name).to.be.at.most(Date.parse(bs.completionTime!));
    }
    // Each component is a generic Backup in the same destination PVC, made by its endpoint tool.
    for (const d of bs.databases!) {
      const b = (await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, d.backupName))!;
      expect(b.status?.backupToolName).to.equal(d.backupToolName);
      expect(b.status?.persistentVolumeClaimName ?? "full").to.equal("full");
    }
    // No endpoint Secret (credentials) is left behind; no credential in the CR's status or Events.
    const core = kc.makeApiClient(CoreV1Api);
    const left = (await core.listNamespacedSecret({ namespace: ns.name })).items.map((s) => s.metadata!.name!).filter((n) => n.endsWith("-endpoint"));
    expect(left).to.deep.equal([]);
    expect(JSON.stringify(bs)).not.to.contain(REDIS_PW).and.not.to.contain("maria-s3cret").and.not.to.contain(ZYNC_PW);
    const events = await untilEventReasons(kc, ns.name, "full", ["BackupStarted", "DatabasesBackedUp", "BackupCompleted"]);
    expect(JSON.stringify(events.map((e) => e.message))).not.to.contain(REDIS_PW);

    // Data changes after the backup.
    await sql(mport, "DELETE FROM system.services WHERE id > 300; UPDATE system.accounts SET org_name = 'changed' WHERE id < 50; INSERT INTO system.accounts VALUES (9999, 'late')");
    for (const p of [sport, bport]) {
      await redis(p, ["-n", "0", "DEL", "stats/1", "stats/2"]);
      await redis(p, ["-n", "1", "FLUSHDB"]);
      await redis(p, ["-n", "0", "SET", "late", "x"]);
      await redis(p, ["SAVE"]);
    }
    expect(await mariaSummary(mport)).to.not.equal(maria0);
    await psql(zport, "DELETE FROM entries WHERE id % 3 = 0; INSERT INTO entries (model, record_id) VALUES ('Late', 1)", "zync_production", "zync", ZYNC_PW);
    expect(await zyncSummary(zport)).to.not.equal(zync0);

    // The restore side of includeDatabases is not built yet: generic RestoreJobs of the components.
    await endpointSecret(kc, ns.name, "system-database", { host: "127.0.0.1", port: String(mport), username: "admin", password: MARIA_PW, database: "system" });
    await createRestoreJob(kc, ns.name, "db-restore", { backupJobName: bs.databases![0]!.backupName, labels: {} });
    await waitRestore(kc, ns.name, "db-restore", "Completed");
    expect(await mariaSummary(mport)).to.equal(maria0);
    await endpointSecret(kc, ns.name, "zync-database", { host: "127.0.0.1", port: String(zport), username: "zync", password: ZYNC_PW, database: "zync_production" });
    await createRestoreJob(kc, ns.name, "zync-restore", { backupJobName: bs.databases![1]!.backupName, labels: {} });
    await waitRestore(kc, ns.name, "zync-restore", "Completed");
    expect(await zyncSummary(zport)).to.equal(zync0);

    for (const [name, port, want] of [["system-redis", sport, sys0], ["backend-redis", bport, be0]] as const) {
      await endpointSecret(kc, ns.name, name, { host: "127.0.0.1", port: String(port), password: REDIS_PW });
      const entry = bs.databases!.find((d) => d.name === name)!;
      await createRestoreJob(kc, ns.name, `${name}-restore`, { backupJobName: entry.backupName, labels: { app: name }, claim: `data-${name}-0` });
      await waitRestore(kc, ns.name, `${name}-restore`, "Completed");
      await waitReady(kc, ns.name, name, 1);
      await answering(kc, ns.name, `redis ${port} after restore`, async () => (await redis(port, ["PING"])) === "PONG");
      // An RDB keeps absolute expiry times: keys with a TTL come back with what is left of it.
      expect(await redisSummary(port), name).to.equal(want);
      expect(await redis(port, ["-n", "0", "EXISTS", "late"]), name).to.equal("(integer) 0");
      const ttl = Number((await redis(port, ["-n", "1", "TTL", "resque:job:7"])).replace(/\D/g, ""));
      expect(ttl, `${name}: TTL kept`).to.be.within(1, 3600);
      expect(await redis(port, ["-n", "0", "TTL", "stats/7"]), `${name}: no TTL stays none`).to.equal("(integer) -1");
    }
  });

  it("takes a PostgreSQL system database (its owner account, no superuser) and restores its rows", async () => {
    const ns = await testNamespace(kc, "apim-db-pg", 240_000);
    namespaces.push(ns);
    standIn.namespaces.add(ns.name);
    const [pport, rport] = [await freePort(), await freePort()];
    await createPostgres(kc, ns.name, "system-postgresql", pport, await systemUser("postgres"));
    await createRedis(kc, ns.name, "redis", rport, await systemUser("redis"));
    for (const n of ["system-postgresql", "redis"]) await waitReady(kc, ns.name, n, 1);
    await answering(kc, ns.name, "postgresql", async () => (await psql(pport, "SELECT 1")) === "1");
    await answering(kc, ns.name, "redis", async () => (await redis(rport, ["PING"])) === "PONG");
    await psql(pport, `CREATE ROLE app LOGIN PASSWORD '${ZYNC_PW}'`);
    await psql(pport, "CREATE DATABASE system OWNER app");
    const rows = (sqlText: string) => psql(pport, sqlText, "system", "app", ZYNC_PW);
    await rows("CREATE TABLE accounts (id int PRIMARY KEY, org_name text NOT NULL); INSERT INTO accounts SELECT g, 'org-' || g FROM generate_series(1, 250) g");
    const summary = () => rows("SELECT count(*) || ':' || md5(string_agg(id || org_name, ',' ORDER BY id)) FROM accounts");
    const before = await summary();
    await seedSystemStorage(kc, ns.name, 3);
    await seed3scale(kc, ns.name, apiManager("example-apimanager", { persistentVolumeClaim: { resources: { requests: "200Mi" } } }));
    await pointSecrets(kc, ns.name, {
      database: `postgresql://app:${ZYNC_PW}@127.0.0.1:${pport}/system`,
      systemRedis: `redis://:${REDIS_PW}@127.0.0.1:${rport}/1`,
      backendRedis: `redis://:${REDIS_PW}@127.0.0.1:${rport}/0`,
    });
    const bs = await backUpWithDatabases(kc, ns.name);
    expect(bs.failureReason).to.equal(undefined);
    expect(bs.completed).to.equal(true);
    expect(bs.databases?.map((d) => [d.name, d.engine, d.backupToolName, d.phase])).to.deep.equal([
      ["system-database", "postgresql", "threescale-system-database-postgres-dump", "Completed"],
      ["system-redis", "redis", "threescale-system-redis-redis-rdb", "Completed"],
      ["backend-redis", "redis", "threescale-backend-redis-redis-rdb", "Completed"],
    ]);
    await rows("DELETE FROM accounts WHERE id > 100; UPDATE accounts SET org_name = 'x' WHERE id = 1");
    expect(await summary()).to.not.equal(before);
    await endpointSecret(kc, ns.name, "system-database", { host: "127.0.0.1", port: String(pport), username: "app", password: ZYNC_PW, database: "system" });
    await createRestoreJob(kc, ns.name, "db-restore", { backupJobName: bs.databases![0]!.backupName, labels: {} });
    await waitRestore(kc, ns.name, "db-restore", "Completed");
    expect(await summary()).to.equal(before);
  });

  it("fails the whole APIManagerBackup, naming the component, when a database cannot be reached; nothing claims to be complete", async () => {
    const ns = await testNamespace(kc, "apim-db-down", 240_000);
    namespaces.push(ns);
    standIn.namespaces.add(ns.name);
    const mport = await freePort();
    await createMariadb(kc, ns.name, mport, await systemUser("mysql"));
    await waitReady(kc, ns.name, "system-mysql", 1);
    await answering(kc, ns.name, "mariadb", async () => (await sql(mport, "SELECT 1")) === "1");
    await sql(mport, "CREATE DATABASE system; CREATE TABLE system.accounts (id INT PRIMARY KEY)");
    await seedSystemStorage(kc, ns.name, 3);
    await seed3scale(kc, ns.name, apiManager("example-apimanager", { persistentVolumeClaim: { resources: { requests: "200Mi" } } }));
    const down = await freePort();
    await pointSecrets(kc, ns.name, {
      database: `mysql2://admin:${encodeURIComponent(MARIA_PW)}@127.0.0.1:${mport}/system`,
      systemRedis: `redis://:${REDIS_PW}@127.0.0.1:${down}/1`,
      backendRedis: `redis://:${REDIS_PW}@127.0.0.1:${down}/0`,
    });
    const bs = await backUpWithDatabases(kc, ns.name);
    expect(bs.completed).to.equal(false);
    expect(bs.failureReason).to.match(/^DatabaseBackupFailed: includeDatabases: component (system-redis|backend-redis): /).and.match(/not a full backup/);
    expect(bs.conditions?.[0]).to.deep.include({ type: "Failed", reason: "DatabaseBackupFailed" });
    // The APIManager's own Backup never started: nothing of this backup claims to be complete.
    expect(await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, "full")).to.equal(undefined);
    expect(bs.mainStepsCompleted?.apiManagerBackedUp).to.not.equal(true);
  });
});
