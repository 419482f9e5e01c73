// spec.includeDatabases end to end: a 3scale namespace whose system-database Secret points at a
// real MariaDB 10.11 (or PostgreSQL 15), whose zync Secret points at a real PostgreSQL 15 and
// whose system-redis / backend-redis Secrets point at real Redis 7.0 servers (StatefulSets on
// the local node, password auth, URLs as 3scale writes them). One APIManagerBackup takes the
// databases with the built-in tools (targetless endpoint copies) and then the APIManager into
// its PVC (the PostgreSQL case: an encrypted BackupRepo); then everything is lost (the
// APIManager, its restored Secrets and ConfigMaps, its files, every row and key) and one
// APIManagerRestore brings the databases back first and then the APIManager: rows, keys (TTLs
// kept as absolute expiry times), objects and files. A database that cannot be reached fails
// the whole APIManagerBackup, naming the component; a database restore that fails stops the
// APIManagerRestore before the APIManager is created. Disaster recovery: from an encrypted S3
// repo alone, into a new namespace with empty servers of its own (a PostgreSQL system database;
// a MariaDB one with zync's PostgreSQL, which the APIManager runs: the stand-in 3scale operator
// makes its server after the restored APIManager appears, and the restore fills it before the
// resync), every row, key, object and file comes back.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { AppsV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import type { APIManagerBackupStatus, APIManagerRestoreStatus, Backup } from "@dataprotection/api";
import { KubeClient } from "@dataprotection/runtime";
import type { Operator } from "@dataprotection/controllers";
import { layout, threescaleControllers } from "@dataprotection/threescale";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilEventReasons, untilInNamespace } from "../harness.ts";
import { createEncryptedS3Repo, hostPathOf, installShared, readTree, setNamespaceLabels, testTimeouts } from "../backup/fixtures.ts";
import { startS3Server } from "../../packages/storage/test/s3-server.ts";
import { waitReady } from "../restore/seed.ts";
import { createDatabaseStatefulSet, freePort, mariadbServerScript, postgresServerScript, systemUser, type Ids } from "../tools/db-server.ts";
import { APIManagerKind, G, StandIn3scale, V, apiManager, comparable, createEncryptedRepo, crStatus, exists, installApiManagerCrd, seed3scale, seedSystemStorage, snapshot, type Snapshot } from "./fixtures.ts";

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
/** One APIManagerBackup "full" with includeDatabases (onto a new claim unless told otherwise); its status once it ended. */
async function backUpWithDatabases(kc: KubeConfig, ns: string, backupDestination: object = { persistentVolumeClaim: { resources: { requests: "1Gi" } } }): Promise<APIManagerBackupStatus> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: G, version: V, namespace: ns, plural: "apimanagerbackups", body: {
    apiVersion: `${G}/${V}`, kind: "APIManagerBackup", metadata: { name: "full" },
    spec: { includeDatabases: true, backupDestination },
  } });
  return crStatus<APIManagerBackupStatus>(kc, "apimanagerbackups", ns, "full", done, 600_000);
}

async function pointSecrets(kc: KubeConfig, ns: string, urls: { database: string; systemRedis: string; backendRedis: string; zync?: string }): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  // Replaced as seed3scale made them; created in a namespace that has none (a new one to restore into).
  const set = async (name: string, data: Record<string, string>) => {
    const body = { data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) };
    const s = await core.readNamespacedSecret({ name, namespace: ns }).catch(() => undefined);
    if (s) await core.replaceNamespacedSecret({ name, namespace: ns, body: { ...s, ...body } });
    else await core.createNamespacedSecret({ namespace: ns, body: { metadata: { name }, ...body } });
  };
  await set("system-database", { URL: urls.database, DB_USER: "admin", DB_PASSWORD: MARIA_PW });
  await set("system-redis", { URL: urls.systemRedis });
  await set("backend-redis", { REDIS_STORAGE_URL: urls.backendRedis, REDIS_QUEUES_URL: `${urls.backendRedis.replace(/\/0$/, "")}/1` });
  if (urls.zync) await set("zync", { DATABASE_URL: urls.zync, DATABASE_PASSWORD: ZYNC_PW, ZYNC_AUTHENTICATION_TOKEN: "token" });
}

/** One APIManagerRestore `name` of the APIManagerBackup "full" (or of another source); its status once it ended. */
async function restoreWithDatabases(kc: KubeConfig, ns: string, name: string, restoreSource: object = { apiManagerBackup: { name: "full" } }): Promise<APIManagerRestoreStatus> {
  await kc.makeApiClient(CustomObjectsApi).createNamespacedCustomObject({ group: G, version: V, namespace: ns, plural: "apimanagerrestores", body: {
    apiVersion: `${G}/${V}`, kind: "APIManagerRestore", metadata: { name }, spec: { restoreSource },
  } });
  return crStatus<APIManagerRestoreStatus>(kc, "apimanagerrestores", ns, name, done, 600_000);
}

/**
 * The 3scale installation lost, as before a restore: the APIManager, the Secrets the restore
 * brings back (the 3scale procedure has the user restore system-database, system-redis and
 * backend-redis first; includeDatabases also wants zync, which names its database), the
 * ConfigMaps, the operator's system-sidekiq and the system-storage PVC with its files.
 */
async function lose3scale(kc: KubeConfig, ns: string): Promise<void> {
  const core = kc.makeApiClient(CoreV1Api);
  await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: G, version: V, namespace: ns, plural: APIManagerKind.plural, name: "example-apimanager" });
  for (const name of layout.RESTORED_SECRETS.filter((n) => n !== "zync")) await core.deleteNamespacedSecret({ name, namespace: ns }).catch(() => undefined);
  for (const name of layout.BACKED_UP_CONFIGMAPS) await core.deleteNamespacedConfigMap({ name, namespace: ns });
  await kc.makeApiClient(AppsV1Api).deleteNamespacedDeployment({ name: "system-sidekiq", namespace: ns }).catch(() => undefined);
  // Finished pods that mounted it (the seeding Job's) would hold the claim (pvc-protection).
  for (const p of (await core.listNamespacedPod({ namespace: ns })).items) {
    if (p.spec?.volumes?.some((v) => v.persistentVolumeClaim?.claimName === "system-storage")) await core.deleteNamespacedPod({ name: p.metadata!.name!, namespace: ns, gracePeriodSeconds: 0 });
  }
  await core.deleteNamespacedPersistentVolumeClaim({ name: "system-storage", namespace: ns });
  await until("system-storage gone", async () => (await core.readNamespacedPersistentVolumeClaim({ name: "system-storage", namespace: ns }).then(() => undefined, () => true)), 60_000, 300);
}

/**
 * What the APIManager's restore brought back into `ns` equals what was backed up, modulo removed
 * fields: the Secrets a restore recreates (but those in `kept`, which the namespace had and the
 * restore leaves), both ConfigMaps, the APIManager, and every file of System FileStorage. The
 * restored objects, for more checks.
 */
async function expectRestored3scale(kc: KubeConfig, ns: string, objects0: Snapshot, files0: Map<string, Buffer>, kept: readonly string[] = []): Promise<Snapshot> {
  const objects1 = await snapshot(kc, ns, "example-apimanager");
  for (const name of layout.RESTORED_SECRETS.filter((n) => !kept.includes(n))) expect(comparable(objects1.secrets.get(name)), name).to.deep.equal(comparable(objects0.secrets.get(name)));
  for (const [name, cm] of objects0.configMaps) expect(comparable(objects1.configMaps.get(name)), name).to.deep.equal(comparable(cm));
  expect(comparable(objects1.apimanager)).to.deep.equal(comparable(objects0.apimanager));
  const files1 = await readTree(await hostPathOf(kc, ns, "system-storage"));
  expect([...files1.keys()].sort()).to.deep.equal([...files0.keys()].sort());
  for (const [k, v] of files0) expect(files1.get(k)?.equals(v), k).to.equal(true);
  return objects1;
}

/** MariaDB's system database as the tests seed it: 200 accounts, 600 services. */
const SEED_SYSTEM_SQL = [
  "CREATE DATABASE system",
  "USE system",
  "CREATE TABLE system.accounts (id INT PRIMARY KEY, org_name VARCHAR(64) NOT NULL) ENGINE=InnoDB",
  "CREATE TABLE system.services (id INT PRIMARY KEY, account_id INT NOT NULL, name VARCHAR(64) NOT NULL) ENGINE=InnoDB",
  "INSERT INTO system.accounts SELECT seq, CONCAT('org-', seq) FROM seq_1_to_200",
  "INSERT INTO system.services SELECT seq, 1 + seq % 200, CONCAT('api-', MD5(seq)) FROM seq_1_to_600",
].join(";\n");
const mariaSummary = (port: number) => sql(port, "SELECT CONCAT((SELECT COUNT(*) FROM system.accounts), ':', (SELECT MD5(GROUP_CONCAT(id, org_name ORDER BY id)) FROM system.accounts), ':', (SELECT COUNT(*) FROM system.services), ':', (SELECT MD5(GROUP_CONCAT(id, account_id, name ORDER BY id)) FROM system.services))");
const zyncSummary = (port: number) => psql(port, "SELECT count(*) || ':' || md5(string_agg(id || model || record_id, ',' ORDER BY id)) FROM entries", "zync_production", "zync", ZYNC_PW);
const redisSummary = async (port: number) => `${await redis(port, ["-n", "0", "DBSIZE"])} ${await redis(port, ["-n", "1", "DBSIZE"])} ${await redis(port, ["DEBUG", "DIGEST"])}`;

describe("3scale: APIManagerBackup with includeDatabases, real MariaDB and Redis (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let op: Operator;
  let standIn: StandIn3scale;
  const namespaces: Array<{ cleanup: () => Promise<void> }> = [];
  let client: KubeClient;
  let repo: { name: string; remove: () => Promise<void> } | undefined;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    await installApiManagerCrd(kc);
    standIn = new StandIn3scale(kc);
    standIn.start();
    client = new KubeClient(kc);
    op = await startTestOperator(
      { controllers: ["backup", "backuptool", "restorejob", "backuprepo", "storageprovider"], timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 } },
      [threescaleControllers({ readyTimeoutSeconds: 180, jobDeadlineSeconds: 600, env: [{ name: "THREESCALE_POLL_MS", value: "300" }, { name: "DP_COMPRESSION_THREADS", value: "1" }] })],
    );
  });
  after(async () => {
    standIn?.stop();
    for (const ns of namespaces) await ns.cleanup();
    await repo?.remove();
    await op?.stop();
    client?.close();
  });

  it("takes system-database (MariaDB), zync-database (PostgreSQL), system-redis and backend-redis, then the APIManager, into one PVC; after all is lost one APIManagerRestore brings back the external databases first, then the APIManager, then zync's database (which the APIManager runs) before the resync: every row, key, object and file", async () => {
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

    await sql(mport, SEED_SYSTEM_SQL);
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

    const objects0 = await snapshot(kc, ns.name, "example-apimanager");
    const files0 = await readTree(await hostPathOf(kc, ns.name, "system-storage"));
    expect(files0.size).to.equal(20);

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

    // Everything is lost: the APIManager's objects and files, every row and key (the servers
    // and their accounts stay: a restore goes into the endpoints the Secrets name).
    await lose3scale(kc, ns.name);
    await sql(mport, "DROP DATABASE system");
    await psql(zport, "DROP DATABASE zync_production");
    await psql(zport, "CREATE DATABASE zync_production OWNER zync");
    for (const p of [sport, bport]) {
      await redis(p, ["FLUSHALL"]);
      await redis(p, ["-n", "0", "SET", "late", "x"]);
    }
    expect(await sql(mport, "SELECT COUNT(*) FROM information_schema.schemata WHERE schema_name = 'system'")).to.equal("0");

    const rs = await restoreWithDatabases(kc, ns.name, "all");
    expect(rs.failureReason, rs.failureReason).to.equal(undefined);
    expect(rs.completed).to.equal(true);
    expect(rs.mainStepsCompleted).to.deep.include({ databasesRestored: true, secretsRestored: true, configMapsRestored: true, systemFileStorageRestored: true, apiManagerRestored: true, routesResynced: true });
    expect(rs.databases?.map((d) => [d.name, d.backupName, d.phase])).to.deep.equal(bs.databases!.map((d) => [d.name, d.backupName, "Completed"]));
    // The restore gate the tool's resync waited at goes with the restore (deleted after the status that completes it).
    await until("the restore gate deleted", async () => ((await core.listNamespacedConfigMap({ namespace: ns.name })).items.some((c) => c.metadata!.name === "all-threescale-databases") ? undefined : true), 30_000, 300);
    // The external databases were restored before the APIManager's own RestoreJob started;
    // zync's, which the APIManager runs (the APIManager does not mark it external), once the
    // restored APIManager ran it, before the resync.
    expect(bs.databases?.filter((d) => d.runByAPIManager).map((d) => d.name)).to.deep.equal(["zync-database"]);
    expect(rs.mainStepsCompleted?.apiManagerDatabasesRestored).to.equal(true);
    const main = (await getCustom<{ status?: { startTimestamp?: string } }>(kc, "dataprotection.kubeblocks.io", "restorejobs", ns.name, "all-threescale"))!;
    for (const d of rs.databases!) {
      if (d.runByAPIManager) expect(Date.parse(d.startTime!), d.name).to.be.at.least(Date.parse(main.status!.startTimestamp!));
      else expect(Date.parse(d.completionTime!), d.name).to.be.at.most(Date.parse(main.status!.startTimestamp!));
    }

    expect(await mariaSummary(mport)).to.equal(maria0);
    expect(await zyncSummary(zport)).to.equal(zync0);
    for (const [name, port, want] of [["system-redis", sport, sys0], ["backend-redis", bport, be0]] as const) {
      // An RDB keeps absolute expiry times: keys with a TTL come back with what is left of it.
      expect(await redisSummary(port), name).to.equal(want);
      expect(await redis(port, ["-n", "0", "EXISTS", "late"]), `${name}: a key written after the backup is gone`).to.equal("(integer) 0");
      const ttl = Number((await redis(port, ["-n", "1", "TTL", "resque:job:7"])).replace(/\D/g, ""));
      expect(ttl, `${name}: TTL kept`).to.be.within(1, 3600);
      expect(await redis(port, ["-n", "0", "TTL", "stats/7"]), `${name}: no TTL stays none`).to.equal("(integer) -1");
    }
    await expectRestored3scale(kc, ns.name, objects0, files0);
    expect(await standIn.resyncLog(ns.name)).to.deep.equal(["exec rake zync:resync:domains"]);
    // No endpoint Secret left behind, no credential in the restore's status or Events.
    const leftAfter = (await core.listNamespacedSecret({ namespace: ns.name })).items.map((x) => x.metadata!.name!).filter((n) => n.endsWith("-endpoint"));
    expect(leftAfter).to.deep.equal([]);
    expect(JSON.stringify(rs)).not.to.contain(REDIS_PW).and.not.to.contain("maria-s3cret").and.not.to.contain(ZYNC_PW);
    const revents = await untilEventReasons(kc, ns.name, "all", ["RestoreStarted", "DatabasesRestored", "RestoreCompleted"]);
    expect(JSON.stringify(revents.map((e) => e.message))).not.to.contain(REDIS_PW);
  });

  it("takes a PostgreSQL system database (its owner account, no superuser) into an encrypted BackupRepo; a restore whose Redis restore fails stops before the APIManager, naming it; the next restore brings the rows back", async () => {
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
    // An encrypted BackupRepo on a PVC of the namespace.
    repo = await createEncryptedRepo(client, "apim-db", "Delete");
    const REPO = repo.name;
    const bs = await backUpWithDatabases(kc, ns.name, { backupRepo: { name: REPO } });
    expect(bs.failureReason).to.equal(undefined);
    expect(bs.completed).to.equal(true);
    expect(bs.backupRepoName).to.equal(REPO);
    // Every component went into the same repo, encrypted, as the APIManager's own Backup.
    for (const name of ["full", ...bs.databases!.map((d) => d.backupName)]) {
      const b = (await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", ns.name, name))!;
      expect(b.status?.backupRepoName, name).to.equal(REPO);
      expect(b.status?.manifests?.backupTool?.encrypted, name).to.equal(true);
    }
    expect(bs.databases?.map((d) => [d.name, d.engine, d.backupToolName, d.phase])).to.deep.equal([
      ["system-database", "postgresql", "threescale-system-database-postgres-dump", "Completed"],
      ["system-redis", "redis", "threescale-system-redis-redis-rdb-online", "Completed"],
      ["backend-redis", "redis", "threescale-backend-redis-redis-rdb-online", "Completed"],
    ]);
    await rows("DELETE FROM accounts WHERE id > 100; UPDATE accounts SET org_name = 'x' WHERE id = 1");
    expect(await summary()).to.not.equal(before);
    await kc.makeApiClient(CustomObjectsApi).deleteNamespacedCustomObject({ group: G, version: V, namespace: ns.name, plural: APIManagerKind.plural, name: "example-apimanager" });
    await until("APIManager gone", async () => ((await exists(kc, APIManagerKind, "example-apimanager", ns.name)) ? undefined : true), 60_000, 300);

    // backend-redis now names a server that does not answer: its restore fails, and the
    // APIManager is not created.
    const down = await freePort();
    await pointSecrets(kc, ns.name, {
      database: `postgresql://app:${ZYNC_PW}@127.0.0.1:${pport}/system`,
      systemRedis: `redis://:${REDIS_PW}@127.0.0.1:${rport}/1`,
      backendRedis: `redis://:${REDIS_PW}@127.0.0.1:${down}/0`,
    });
    const broken = await restoreWithDatabases(kc, ns.name, "broken");
    expect(broken.completed).to.equal(false);
    expect(broken.failureReason).to.match(/^DatabaseRestoreFailed: includeDatabases: component backend-redis: RestoreJob "[^"]+\/broken-backend-redis" failed/).and.match(/the APIManager was not restored/);
    expect(broken.conditions?.[0]).to.deep.include({ type: "Failed", reason: "DatabaseRestoreFailed" });
    expect(broken.mainStepsCompleted?.databasesRestored).to.not.equal(true);
    expect(broken.databases?.find((d) => d.name === "backend-redis")?.phase).to.equal("Failed");
    expect(await exists(kc, APIManagerKind, "example-apimanager", ns.name), "APIManager created").to.equal(false);
    expect(await getCustom(kc, "dataprotection.kubeblocks.io", "restorejobs", ns.name, "broken-threescale"), "the APIManager's RestoreJob").to.equal(undefined);
    await untilEventReasons(kc, ns.name, "broken", ["RestoreStarted", "DatabaseRestoreFailed"]);

    // Pointed back at the server: a new APIManagerRestore completes.
    await pointSecrets(kc, ns.name, {
      database: `postgresql://app:${ZYNC_PW}@127.0.0.1:${pport}/system`,
      systemRedis: `redis://:${REDIS_PW}@127.0.0.1:${rport}/1`,
      backendRedis: `redis://:${REDIS_PW}@127.0.0.1:${rport}/0`,
    });
    const rs = await restoreWithDatabases(kc, ns.name, "fixed");
    expect(rs.failureReason, rs.failureReason).to.equal(undefined);
    expect(rs.completed).to.equal(true);
    expect(rs.databases?.map((d) => [d.name, d.phase])).to.deep.equal([["system-database", "Completed"], ["system-redis", "Completed"], ["backend-redis", "Completed"]]);
    expect(await summary()).to.equal(before);
    expect(await exists(kc, APIManagerKind, "example-apimanager", ns.name)).to.equal(true);
  });

  // Two cases: a PostgreSQL system database (one Redis for system and backend), and a MariaDB
  // system database with zync's PostgreSQL and a Redis for each.
  for (const engine of ["postgresql", "mariadb"] as const) {
    const withZync = engine === "mariadb";
    const systemServer = engine === "postgresql" ? "system-postgresql" : "system-mysql";
    const components = withZync ? ["system-database", "zync-database", "system-redis", "backend-redis"] : ["system-database", "system-redis", "backend-redis"];
    const what = withZync ? "MariaDB system database, zync's PostgreSQL, two Redis" : "PostgreSQL system database, one Redis";
    it(`restores into a new namespace from the repo alone (disaster recovery; ${what}): the APIManager's backup and the databases its manifest records are imported, restored into the new namespace's servers first, then the APIManager${withZync ? ", then zync's database into the server the restored APIManager runs, before the resync" : ""}`, async () => {
      const tag = withZync ? "apim-drm" : "apim-dr";
      const tenant = { "dp-e2e-tenant": tag };
      const s3 = await startS3Server([tag]);
      const removeS3Repo = await createEncryptedS3Repo(kc, tag, s3, tag, tenant);
      try {
        interface Servers { dport: number; sport: number; bport: number; zport?: number }
        // zync's server as the 3scale operator runs it for an APIManager that does not mark it
        // external: its role (the zync Secret's password) and an empty database.
        const zyncServer = async (ns: string, zport: number) => {
          await createPostgres(kc, ns, "zync-database", zport, await systemUser("postgres"));
          await waitReady(kc, ns, "zync-database", 1);
          await answering(kc, ns, "zync's postgresql", async () => (await psql(zport, "SELECT 1")) === "1");
          await psql(zport, `CREATE ROLE zync LOGIN PASSWORD '${ZYNC_PW}'`);
          await psql(zport, "CREATE DATABASE zync_production OWNER zync");
        };
        // A namespace's own servers, empty: the system database (its account and database for
        // PostgreSQL; the dump brings MariaDB's database), Redis; zync's when `zyncNow`.
        const servers = async (ns: string, zyncNow: boolean): Promise<Servers> => {
          const [dport, sport, bport, zport] = [await freePort(), await freePort(), withZync ? await freePort() : 0, withZync ? await freePort() : 0];
          if (engine === "postgresql") await createPostgres(kc, ns, systemServer, dport, await systemUser("postgres"));
          else await createMariadb(kc, ns, dport, await systemUser("mysql"));
          const rids = await systemUser("redis");
          await createRedis(kc, ns, "system-redis", sport, rids);
          if (withZync) await createRedis(kc, ns, "backend-redis", bport, rids);
          for (const n of [systemServer, "system-redis", ...(withZync ? ["backend-redis"] : [])]) await waitReady(kc, ns, n, 1);
          for (const p of withZync ? [sport, bport] : [sport]) await answering(kc, ns, `redis ${p}`, async () => (await redis(p, ["PING"])) === "PONG");
          if (engine === "postgresql") {
            await answering(kc, ns, "postgresql", async () => (await psql(dport, "SELECT 1")) === "1");
            await psql(dport, `CREATE ROLE app LOGIN PASSWORD '${ZYNC_PW}'`);
            await psql(dport, "CREATE DATABASE system OWNER app");
          } else {
            await answering(kc, ns, "mariadb", async () => (await sql(dport, "SELECT 1")) === "1");
          }
          if (withZync && zyncNow) await zyncServer(ns, zport);
          return { dport, sport, bport: withZync ? bport : sport, ...(withZync ? { zport } : {}) };
        };
        const pgRows = (x: Servers, q: string) => psql(x.dport, q, "system", "app", ZYNC_PW);
        const systemSummary = (x: Servers) => (engine === "postgresql" ? pgRows(x, "SELECT count(*) || ':' || md5(string_agg(id || org_name, ',' ORDER BY id)) FROM accounts") : mariaSummary(x.dport));
        const redisSummaries = async (x: Servers) => [await redisSummary(x.sport), await redisSummary(x.bport)];
        const zyncUrl = (x: Servers) => `postgresql://zync@127.0.0.1:${x.zport}/zync_production`;
        const pointAt = (ns: string, x: Servers) => pointSecrets(kc, ns, {
          database: engine === "postgresql" ? `postgresql://app:${ZYNC_PW}@127.0.0.1:${x.dport}/system` : `mysql2://admin:${encodeURIComponent(MARIA_PW)}@127.0.0.1:${x.dport}/system`,
          systemRedis: `redis://:${REDIS_PW}@127.0.0.1:${x.sport}/1`,
          backendRedis: `redis://:${REDIS_PW}@127.0.0.1:${x.bport}/0`,
          ...(withZync ? { zync: zyncUrl(x) } : {}),
        });

        // The namespace that made the backup: rows, keys (some with a TTL), zync's entries, files.
        const made = await testNamespace(kc, `${tag}-made`, 240_000);
        namespaces.push(made);
        standIn.namespaces.add(made.name);
        await setNamespaceLabels(kc, made.name, tenant);
        const a = await servers(made.name, true);
        if (engine === "postgresql") {
          await pgRows(a, "CREATE TABLE accounts (id int PRIMARY KEY, org_name text NOT NULL); INSERT INTO accounts SELECT g, 'org-' || g FROM generate_series(1, 250) g");
        } else {
          await sql(a.dport, SEED_SYSTEM_SQL);
        }
        if (a.zport) await psql(a.zport, "CREATE TABLE entries (id serial PRIMARY KEY, model text NOT NULL, record_id int NOT NULL); INSERT INTO entries (model, record_id) SELECT 'Application', g FROM generate_series(1, 300) g", "zync_production", "zync", ZYNC_PW);
        for (const p of new Set([a.sport, a.bport])) {
          await redis(p, ["-n", "0", "EVAL", "for i = 1, 300 do redis.call('SET', 'stats/' .. i, i) end return 1", "0"]);
          await redis(p, ["-n", "1", "SET", "session", "s", "EX", "3600"]);
        }
        const rows0 = await systemSummary(a);
        const keys0 = await redisSummaries(a);
        const zync0 = a.zport ? await zyncSummary(a.zport) : undefined;
        await seedSystemStorage(kc, made.name, 5);
        // The APIManager's own Secrets come from the backup; seed3scale's database ones are pointed at the servers above.
        await seed3scale(kc, made.name, apiManager("example-apimanager", { persistentVolumeClaim: { resources: { requests: "200Mi" } } }));
        await pointAt(made.name, a);
        const objects0 = await snapshot(kc, made.name, "example-apimanager");
        const files0 = await readTree(await hostPathOf(kc, made.name, "system-storage"));
        const bs = await backUpWithDatabases(kc, made.name, { backupRepo: { name: tag } });
        expect(bs.failureReason).to.equal(undefined);
        expect(bs.databases?.map((d) => [d.name, d.backupPath])).to.deep.equal(components.map((n) => [n, `/${made.name}/full-${n}`]));

        // A new namespace with nothing of it: empty servers of its own and the database Secrets
        // naming them (as the 3scale restore procedure asks), the repo's path of the backup.
        const dr = await testNamespace(kc, `${tag}-to`, 240_000);
        namespaces.push(dr);
        standIn.namespaces.add(dr.name);
        await setNamespaceLabels(kc, dr.name, tenant);
        const b = await servers(dr.name, false);
        // The APIManager runs zync's database (the APIManager does not mark it external): the
        // new namespace has no server for it until the restored APIManager runs one; the zync
        // Secret names where it will be (as the restored one would, by the Service's name).
        standIn.runDatabase = async (ns, deployment) => {
          if (ns === dr.name && deployment === "zync-database" && b.zport) await zyncServer(ns, b.zport);
        };
        await pointAt(dr.name, b);
        const rs = await restoreWithDatabases(kc, dr.name, "dr", { backupRepo: { name: tag, path: bs.backupPath } });
        expect(rs.failureReason, rs.failureReason).to.equal(undefined);
        expect(rs.completed).to.equal(true);
        expect(rs.mainStepsCompleted).to.deep.include({ backupsImported: true, databasesRestored: true, secretsRestored: true, configMapsRestored: true, systemFileStorageRestored: true, apiManagerRestored: true, routesResynced: true });
        expect(rs.databases?.map((d) => [d.name, d.phase])).to.deep.equal(components.map((n) => [n, "Completed"]));
        if (withZync) {
          // zync's database was restored into the server the restored APIManager ran, made after it.
          expect(rs.mainStepsCompleted?.apiManagerDatabasesRestored).to.equal(true);
          expect(rs.databases?.filter((d) => d.runByAPIManager).map((d) => d.name)).to.deep.equal(["zync-database"]);
          const amMade = Date.parse((await getCustom<Backup>(kc, G, APIManagerKind.plural, dr.name, "example-apimanager"))!.metadata!.creationTimestamp as unknown as string);
          const zyncMade = Date.parse(String((await kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: "zync-database", namespace: dr.name })).metadata!.creationTimestamp));
          expect(zyncMade, "zync's server made after the APIManager").to.be.at.least(amMade);
        }
        // The imports are Backups of the new namespace, bound to the originals.
        for (const d of bs.databases!) {
          const original = (await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", made.name, d.backupName))!;
          const imported = (await getCustom<Backup>(kc, "dataprotection.kubeblocks.io", "backups", dr.name, rs.databases!.find((x) => x.name === d.name)!.backupName))!;
          expect(imported.status?.manifests?.backupTool?.backupId, d.name).to.equal(original.metadata?.uid);
        }
        expect(await systemSummary(b)).to.equal(rows0);
        expect(await redisSummaries(b)).to.deep.equal(keys0);
        if (b.zport) expect(await zyncSummary(b.zport), "zync's entries").to.equal(zync0);
        const objects1 = await expectRestored3scale(kc, dr.name, objects0, files0, withZync ? ["zync"] : []);
        // A Secret the namespace already has is kept: zync still names the new namespace's database.
        if (withZync) expect(Buffer.from(objects1.secrets.get("zync")?.data?.DATABASE_URL ?? "", "base64").toString(), "zync's DATABASE_URL").to.equal(zyncUrl(b));
        expect(await standIn.resyncLog(dr.name)).to.deep.equal(["exec rake zync:resync:domains"]);
        await untilEventReasons(kc, dr.name, "dr", ["ImportStarted", "BackupsImported", "DatabasesRestored", "RestoreCompleted"]);
      } finally {
        standIn.runDatabase = undefined;
        await removeS3Repo();
        await s3.stop();
      }
    });
  }

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
