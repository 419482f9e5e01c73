// BackupTools written the way the KubeBlocks 0.6 addons write theirs, unchanged: the backup
// commands write plain files into ${BACKUP_DIR} (a tar of the server's physical backup and a
// backup.info with totalSize), the physical restore commands refuse a non-empty ${DATA_DIR} and
// untar into it. Each backs up a real server (PostgreSQL 15 with pg_basebackup, MariaDB 10.11
// with mariadb-backup, Redis 7.0 with redis-cli --rdb) on each kind of repo: a mounted PVC repo
// (files kept in place), an S3 repo and an encrypted PVC repo (files sealed by dp-agent). A
// physical RestoreJob restores into a fresh StatefulSet's claim and the server started on it
// holds exactly the data of backup time. A changed byte in a kept file fails verification
// without touching the target; on the encrypted repo a marker row is nowhere in the repo.
// A 0.6 pitr-type tool as the addons ship it (image "", backupCommands []) is taken as written
// and refuses a datafile Backup; a RestoreJob with an ephemeral target volume (its whole
// volumeClaimTemplate, from the schema generated from Kubernetes' OpenAPI) is stored as written
// and runs its 0.6-style tool (empty image: the target workload's first container's image).
import { expect } from "chai";
import { execFile } from "node:child_process";
import { readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig, type V1Volume } from "@kubernetes/client-node";
import { DataProtectionGroup, LabelRestoreJob, LabelRestoreStage, StorageGroup, type Backup, type BackupTool, type RestoreJob } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { localPvcProvider, s3Provider } from "../../packages/controllers/src/storageprovider/builtin/index.ts";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilInNamespace } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, datafilePolicy, installShared, jobsOf, REPO, testTimeouts } from "../backup/fixtures.ts";
import { startS3Server, type S3Server } from "../backuprepo/s3server.ts";
import { createRestoreJob, pvcHostPath, waitReady, waitRestore } from "../restore/seed.ts";
import { createCredentials, createDatabaseStatefulSet, freePort, postgresServerScript, systemUser, type Ids } from "./db-server.ts";

const run = promisify(execFile);
const V = "v1alpha1";
const PASSWORD = "kb06-s3cret";
const S3_REPO = "kb06-s3";
const ENC_REPO = "kb06-encrypted";
const KEY_SECRET = "kb06-repo-key";
const S3_SECRET = "kb06-s3-credentials";

type RepoKind = "pvc" | "s3" | "encrypted";
const repoName: Record<RepoKind, string> = { pvc: REPO, s3: S3_REPO, encrypted: ENC_REPO };

/** The shape every 0.6 addon tool has: plain files + backup.info, restore refuses a non-empty DATA_DIR. */
function kb06Tool(name: string, dataDir: string, backup: string[], restore: string[], owner: string): BackupTool {
  return {
    apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool", metadata: { name },
    spec: {
      image: "apecloud/kb06-style", deployKind: "job", type: "file",
      env: [{ name: "DATA_DIR", value: dataDir }],
      backupCommands: ["sh", "-c", [
        "set -e",
        "mkdir -p ${BACKUP_DIR}",
        ...backup,
        "TOTAL_SIZE=`du -shx ${BACKUP_DIR} | awk '{print $1}'`",
        'echo "{\\"totalSize\\":\\"$TOTAL_SIZE\\",\\"manifests\\":{\\"backupTool\\":{\\"uploadTotalSize\\":\\"$TOTAL_SIZE\\"}}}" > ${BACKUP_DIR}/backup.info',
      ].join("\n")],
      physical: {
        restoreCommands: ["sh", "-c", [
          "set -e",
          'if [ -d ${DATA_DIR} ] && [ -n "`ls -A ${DATA_DIR}`" ]; then echo "${DATA_DIR} is not empty: refusing to restore over it"; exit 1; fi',
          "mkdir -p ${DATA_DIR}",
          ...restore,
          `chown -R ${owner} \${DATA_DIR}`,
        ].join("\n")],
      },
    },
  };
}

const tools = {
  postgres: kb06Tool("kb06-postgres", "/data/pgdata", [
    "export PGPASSWORD=${DB_PASSWORD}",
    "/usr/lib/postgresql/15/bin/pg_basebackup -Ft -Xs -c fast -D ${BACKUP_DIR} -h ${DB_HOST} -p ${DB_PORT} -U ${DB_USER}",
  ], [
    "tar -xf ${BACKUP_DIR}/base.tar -C ${DATA_DIR}",
    "tar -xf ${BACKUP_DIR}/pg_wal.tar -C ${DATA_DIR}/pg_wal",
    "chmod 700 ${DATA_DIR}",
  ], "postgres:postgres"),
  mariadb: kb06Tool("kb06-mariadb", "/data/mysql", [
    "t=`mktemp -d`",
    "mariadb-backup --no-defaults --backup --target-dir=$t/backup --datadir=${DATA_DIR} --host=${DB_HOST} --port=${DB_PORT} --user=${DB_USER} --password=${DB_PASSWORD} 2> $t/log || { tail -5 $t/log; exit 1; }",
    "tar -cf ${BACKUP_DIR}/${BACKUP_NAME}.tar -C $t/backup .",
    "rm -rf $t",
  ], [
    "t=`mktemp -d`",
    "tar -xf ${BACKUP_DIR}/${BACKUP_NAME}.tar -C $t",
    "mariadb-backup --no-defaults --prepare --target-dir=$t 2> $t.log || { tail -5 $t.log; exit 1; }",
    "mariadb-backup --no-defaults --copy-back --target-dir=$t --datadir=${DATA_DIR} 2>> $t.log || { tail -5 $t.log; exit 1; }",
    "rm -rf $t $t.log",
  ], "mysql:mysql"),
  redis: kb06Tool("kb06-redis", "/data/redis", [
    "t=`mktemp -d`",
    "REDISCLI_AUTH=${DB_PASSWORD} redis-cli -h ${DB_HOST} -p ${DB_PORT} --no-auth-warning --rdb $t/dump.rdb > /dev/null",
    "tar -cf ${BACKUP_DIR}/${BACKUP_NAME}.tar -C $t dump.rdb",
    "rm -rf $t",
  ], [
    "tar -xf ${BACKUP_DIR}/${BACKUP_NAME}.tar -C ${DATA_DIR}",
  ], "redis:redis"),
};
type Engine = keyof typeof tools;

/** A logical 0.6-style tool: pg_dump into BACKUP_DIR, restored by psql into the running server. */
const pgDumpTool: BackupTool = {
  apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool", metadata: { name: "kb06-pgdump" },
  spec: {
    image: "apecloud/kb06-style", deployKind: "job", type: "file",
    backupCommands: ["sh", "-c", [
      "set -e",
      "mkdir -p ${BACKUP_DIR}",
      "PGPASSWORD=${DB_PASSWORD} pg_dump -h ${DB_HOST} -p ${DB_PORT} -U ${DB_USER} -d postgres --clean --if-exists > ${BACKUP_DIR}/${BACKUP_NAME}.sql",
      'echo "{\\"totalSize\\":\\"`du -sh ${BACKUP_DIR} | cut -f1`\\"}" > ${BACKUP_DIR}/backup.info',
    ].join("\n")],
    logical: { restoreCommands: ["sh", "-c", "set -e; PGPASSWORD=${DB_PASSWORD} psql -X -q -h ${DB_HOST} -p ${DB_PORT} -U ${DB_USER} -d postgres -v ON_ERROR_STOP=1 -f ${BACKUP_DIR}/${BACKUP_NAME}.sql"] },
  },
};

/**
 * A pitr-type tool shaped like KubeBlocks 0.6's postgres-pitr: no image (the target's first
 * container's), no backupCommands (the archiving happens in the database), deployKind job, and
 * all its work in restore: stage the archived WAL and write the recovery settings.
 */
const pitrTool: BackupTool = {
  apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool",
  metadata: { name: "kb06-postgres-pitr", labels: { "clusterdefinition.kubeblocks.io/name": "postgresql", "kubeblocks.io/backup-tool-type": "pitr" } },
  spec: {
    image: "", deployKind: "job", type: "pitr",
    env: [
      { name: "VOLUME_DATA_DIR", value: "/home/postgres/pgdata" },
      { name: "PITR_DIR", value: "$(VOLUME_DATA_DIR)/pitr" },
      { name: "DATA_DIR", value: "$(VOLUME_DATA_DIR)/pgroot/data" },
      { name: "CONF_DIR", value: "$(VOLUME_DATA_DIR)/conf" },
      { name: "TIME_FORMAT", value: "2006-01-02 15:04:05 MST" },
    ],
    logical: { restoreCommands: ["sh", "-c", "set -e; rm -f ${CONF_DIR}/recovery.conf; rm -rf ${PITR_DIR}"] },
    physical: {
      restoreCommands: ["sh", "-c", [
        "set -e",
        "mkdir -p ${PITR_DIR} ${CONF_DIR}",
        'for f in `find ${BACKUP_DIR} -name "*.gz"`; do gzip -dc "$f" > ${PITR_DIR}/`basename "$f" .gz`; done',
        "touch ${DATA_DIR}/recovery.signal",
        "echo \"restore_command='cp ${PITR_DIR}/%f %p'\" > ${CONF_DIR}/recovery.conf",
        "echo \"recovery_target_time='${KB_RECOVERY_TIME}'\" >> ${CONF_DIR}/recovery.conf",
      ].join("\n")],
    },
    backupCommands: [],
  },
};

/**
 * A 0.6-style file tool with an empty image (so it runs the target's first container's image):
 * tars DATA_DIR into BACKUP_DIR; the restore unpacks into SCRATCH_DIR (the RestoreJob's ephemeral
 * volume) and copies into an empty DATA_DIR, leaving the backup's name in the scratch volume.
 */
const scratchTool: BackupTool = {
  apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupTool", metadata: { name: "kb06-scratch" },
  spec: {
    image: "", deployKind: "job", type: "file",
    env: [{ name: "DATA_DIR", value: "/data" }, { name: "SCRATCH_DIR", value: "/scratch" }],
    backupCommands: ["sh", "-c", [
      "set -e",
      "mkdir -p ${BACKUP_DIR}",
      "tar -cf ${BACKUP_DIR}/${BACKUP_NAME}.tar -C ${DATA_DIR} .",
      'echo "{\\"totalSize\\":\\"`du -sh ${BACKUP_DIR} | cut -f1`\\"}" > ${BACKUP_DIR}/backup.info',
    ].join("\n")],
    physical: {
      restoreCommands: ["sh", "-c", [
        "set -e",
        'if [ -n "`ls -A ${DATA_DIR}`" ]; then echo "${DATA_DIR} is not empty: refusing to restore over it"; exit 1; fi',
        "mkdir -p ${SCRATCH_DIR}/unpacked",
        "tar -xf ${BACKUP_DIR}/${BACKUP_NAME}.tar -C ${SCRATCH_DIR}/unpacked",
        "cp -a ${SCRATCH_DIR}/unpacked/. ${DATA_DIR}/",
        "echo ${BACKUP_NAME} > ${SCRATCH_DIR}/restored-from",
      ].join("\n")],
    },
  },
};

/** A one-replica StatefulSet of two idle containers with distinct images (the first one's is what an empty tool image means), claim data-<name>-0 at /data. */
async function twoContainerStatefulSet(kc: KubeConfig, ns: string, name: string, labels: Record<string, string>, image: string): Promise<void> {
  const idle = (n: string, img: string) => ({ name: n, image: img, command: ["sh", "-c", "exec sleep 100000"], volumeMounts: [{ name: "data", mountPath: "/data" }] });
  await kc.makeApiClient(AppsV1Api).createNamespacedStatefulSet({ namespace: ns, body: {
    metadata: { name, labels },
    spec: {
      replicas: 1, serviceName: name, selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [idle("db", image), idle("sidecar", "kb06/sidecar:1")], terminationGracePeriodSeconds: 1 } },
      volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "10Mi" } } } }],
    },
  } });
}

/** One database engine: how its server starts (fresh, or waiting for restored data), how data is written and summarized. */
interface Engine06 {
  user: string;
  /** Start script of the source server (initializes an empty data dir) and of the restored one (waits for the restore's files). */
  server(port: number, restored: boolean): string;
  env: Array<{ name: string; value: string }>;
  prepare(ids: Ids): string;
  ready(port: number): Promise<boolean>;
  seed(port: number, marker: string): Promise<void>;
  change(port: number): Promise<void>;
  summary(port: number): Promise<string>;
  files(name: string): string[];
}

const sh = async (cmd: string, args: string[], env: Record<string, string> = {}) => (await run(cmd, args, { env: { ...process.env, ...env }, maxBuffer: 16 << 20 })).stdout.trim();
const psql = (port: number, q: string) => sh("psql", ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", q], { PGPASSWORD: PASSWORD, PGCONNECT_TIMEOUT: "3" });
const maria = (port: number, q: string) => sh("mariadb", ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "-u", "admin", "-N", "-B", "-e", q], { MYSQL_PWD: PASSWORD });
const redis = (port: number, args: string[]) => sh("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--no-raw", "--no-auth-warning", ...args], { REDISCLI_AUTH: PASSWORD });
const answers = (f: () => Promise<unknown>) => f().then(() => true, () => false);

const engines: Record<Engine, Engine06> = {
  postgres: {
    user: "postgres",
    server: (port, restored) => (restored
      ? `set -e\nwhile [ ! -s /data/pgdata/PG_VERSION ]; do sleep 1; done\nexec /usr/lib/postgresql/15/bin/postgres -D /data/pgdata -p ${port} -k /tmp`
      : postgresServerScript(port)),
    env: [{ name: "PGPW", value: PASSWORD }],
    prepare: (ids) => `chown ${ids.uid}:${ids.gid} /data && chmod 700 /data`,
    ready: (port) => answers(() => psql(port, "select 1")),
    seed: async (port, marker) => {
      await psql(port, "create table items (id int primary key, v text); insert into items select g, md5(g::text) from generate_series(1, 20000) g");
      await psql(port, `insert into items values (0, '${marker}'); checkpoint`);
    },
    change: async (port) => void (await psql(port, "delete from items where id % 7 = 0; insert into items values (99999, 'late')")),
    summary: (port) => psql(port, "select count(*) || ':' || md5(string_agg(id || '=' || v, ',' order by id)) from items"),
    files: () => ["backup.info", "backup_manifest", "base.tar", "pg_wal.tar"],
  },
  mariadb: {
    user: "mysql",
    server: (port, restored) => [
      "set -e",
      "D=/data/mysql",
      restored
        ? 'while [ ! -d "$D/mysql" ]; do sleep 1; done'
        : 'if [ ! -d "$D/mysql" ]; then mariadb-install-db --no-defaults --datadir="$D" --auth-root-authentication-method=socket --skip-test-db > /data/install.log 2>&1; fi',
      "run=`mktemp -d`",
      'printf "%s\\n" "CREATE USER IF NOT EXISTS admin@\'%\' IDENTIFIED BY \'$ADMIN_PW\';" "GRANT ALL PRIVILEGES ON *.* TO admin@\'%\' WITH GRANT OPTION;" > "$run/init.sql"',
      `exec mariadbd --no-defaults --datadir="$D" --socket="$run/mysqld.sock" --pid-file="$run/mysqld.pid" --port=${port} --bind-address=127.0.0.1`
        + ' --skip-name-resolve --innodb-buffer-pool-size=32M --init-file="$run/init.sql"',
    ].join("\n"),
    env: [{ name: "ADMIN_PW", value: PASSWORD }],
    prepare: (ids) => `mkdir -p /data/mysql && chown ${ids.uid}:${ids.gid} /data /data/mysql`,
    ready: (port) => answers(() => maria(port, "SELECT 1")),
    seed: async (port, marker) => {
      await maria(port, "CREATE DATABASE shop; CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(64)) ENGINE=InnoDB;"
        + " USE shop; INSERT INTO shop.items SELECT seq, MD5(seq) FROM seq_1_to_20000;");
      await maria(port, `INSERT INTO shop.items VALUES (0, '${marker}')`);
    },
    change: async (port) => void (await maria(port, "DELETE FROM shop.items WHERE id % 7 = 0; INSERT INTO shop.items VALUES (99999, 'late')")),
    summary: (port) => maria(port, "SET SESSION group_concat_max_len = 16777216; SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, '=', v ORDER BY id SEPARATOR ','))) FROM shop.items"),
    files: (name) => ["backup.info", `${name}.tar`],
  },
  redis: {
    user: "redis",
    server: (port, restored) => [
      "set -e",
      restored ? "while [ ! -f /data/redis/dump.rdb ]; do sleep 1; done" : "mkdir -p /data/redis",
      `exec redis-server --port ${port} --bind 127.0.0.1 --dir /data/redis --requirepass "$REDIS_PW" --appendonly no --save '' --enable-debug-command local --protected-mode no --logfile ''`,
    ].join("\n"),
    env: [{ name: "REDIS_PW", value: PASSWORD }],
    prepare: (ids) => `chown ${ids.uid}:${ids.gid} /data && chmod 750 /data`,
    ready: async (port) => (await redis(port, ["PING"]).catch(() => "")) === "PONG",
    seed: async (port, marker) => {
      await redis(port, ["EVAL", "for i = 1, 5000 do redis.call('SET', 'k:' .. i, 'value-' .. i) end for i = 1, 300 do redis.call('HSET', 'h', 'f' .. i, i) end return 1", "0"]);
      await redis(port, ["SET", "marker", marker]);
    },
    change: async (port) => void (await redis(port, ["DEL", "k:1"]), await redis(port, ["SET", "late", "1"])),
    summary: async (port) => `${await redis(port, ["DBSIZE"])} ${await redis(port, ["DEBUG", "DIGEST"])}`,
    files: (name) => ["backup.info", `${name}.tar`],
  },
};

/** Every file under dir, read whole, that contains `needle` (relative paths). */
async function filesContaining(dir: string, needle: string): Promise<string[]> {
  const hits: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile() && (await readFile(join(dir, p))).includes(needle)) hits.push(p);
    }
  };
  await walk("");
  return hits;
}

describe("KubeBlocks 0.6-style tools (plain files in BACKUP_DIR) on PVC, S3 and encrypted repos, restored into fresh StatefulSets (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let op: Operator;
  let s3: S3Server;
  const namespaces: Array<{ cleanup: () => Promise<void> }> = [];
  const custom = () => kc.makeApiClient(CustomObjectsApi);

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc, [...Object.values(tools), pgDumpTool, pitrTool, scratchTool]);
    s3 = await startS3Server("kb06");
    const core = kc.makeApiClient(CoreV1Api);
    await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: S3_SECRET }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
    await core.createNamespacedSecret({ namespace: "default", body: { metadata: { name: KEY_SECRET }, stringData: { passphrase: "kb06 correct horse battery staple" } } });
    const cluster = (plural: string, group: string, body: object) => custom().createClusterCustomObject({ group, version: V, plural, body });
    await cluster("storageproviders", StorageGroup, s3Provider("kb06-s3"));
    await cluster("storageproviders", StorageGroup, localPvcProvider("kb06-pvc"));
    await cluster("backuprepos", DataProtectionGroup, {
      apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name: S3_REPO },
      spec: { storageProviderRef: "kb06-s3", accessMethod: "Tool", pvReclaimPolicy: "Retain", config: { bucket: s3.bucket, endpoint: s3.endpoint, forcePathStyle: "true" }, credential: { name: S3_SECRET, namespace: "default" } },
    });
    await cluster("backuprepos", DataProtectionGroup, {
      apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name: ENC_REPO },
      spec: { storageProviderRef: "kb06-pvc", pvReclaimPolicy: "Delete", volumeCapacity: "1Gi", encryption: { keySecretRef: { name: KEY_SECRET, namespace: "default", key: "passphrase" } } },
    });
    op = await startTestOperator({
      controllers: ["backup", "backuptool", "restorejob", "backuprepo", "storageprovider"],
      timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 },
    });
    for (const name of [S3_REPO, ENC_REPO]) {
      await until(`BackupRepo ${name} Ready`, async () => {
        const r = await getCustom<{ status?: { phase?: string; failureReason?: string } }>(kc, DataProtectionGroup, "backuprepos", undefined, name);
        if (r?.status?.phase === "Failed") throw new Error(`BackupRepo ${name} Failed: ${r.status.failureReason}`);
        return r?.status?.phase === "Ready" ? true : undefined;
      }, 120_000, 500);
    }
  });

  after(async () => {
    // With the operator still running: each Backup's finalizer removes its data from the repo.
    for (const ns of namespaces) await ns.cleanup();
    await op?.stop();
    const del = (group: string, plural: string, name: string) => custom().deleteClusterCustomObject({ group, version: V, plural, name }).catch(() => undefined);
    await del(DataProtectionGroup, "backuprepos", S3_REPO);
    await del(DataProtectionGroup, "backuprepos", ENC_REPO);
    await del(StorageGroup, "storageproviders", "kb06-s3");
    await del(StorageGroup, "storageproviders", "kb06-pvc");
    const core = kc.makeApiClient(CoreV1Api);
    for (const name of [S3_SECRET, KEY_SECRET]) await core.deleteNamespacedSecret({ name, namespace: "default" }).catch(() => undefined);
    await s3?.stop();
  });

  const matrix: Array<[Engine, RepoKind]> = [];
  for (const e of Object.keys(tools) as Engine[]) for (const r of ["pvc", "s3", "encrypted"] as RepoKind[]) matrix.push([e, r]);

  for (const [engine, repo] of matrix) {
    it(`${engine} on the ${repo} repo: backs up with the tool's own commands and a physical RestoreJob brings exactly the data of backup time into a fresh StatefulSet`, async () => {
      const e = engines[engine];
      const tool = tools[engine];
      const ns = await testNamespace(kc, `kb06-${engine}-${repo}`, 180_000);
      namespaces.push(ns);
      const ids = await systemUser(e.user);
      const [port, restoredPort] = [await freePort(), await freePort()];
      const labels = { app: engine, "app.kubernetes.io/instance": `${engine}-cluster` };
      const restoredLabels = { app: `${engine}-restored` };
      const common = { container: engine, image: `${engine}:kb06`, env: e.env, ids, prepare: e.prepare(ids), storage: "500Mi", terminationGracePeriodSeconds: 30 };
      await createDatabaseStatefulSet(kc, ns.name, { ...common, name: engine, labels, script: e.server(port, false), port });
      await createCredentials(kc, ns.name, "db-cred", engine === "postgres" ? "postgres" : engine === "mariadb" ? "admin" : "default", PASSWORD);
      await waitReady(kc, ns.name, engine, 1);
      await untilInNamespace(kc, ns.name, `${engine} on ${port} answering`, async () => ((await e.ready(port)) ? true : undefined), 180_000, 1000);

      const marker = `dpmark${Math.random().toString(36).slice(2, 12)}`;
      await e.seed(port, marker);
      const atBackup = await e.summary(port);

      await createPolicy(kc, ns.name, "kb06", datafilePolicy(tool.metadata!.name!, {
        backupRepoName: repoName[repo],
        target: { labelsSelector: { matchLabels: { app: engine } }, secret: { name: "db-cred", usernameKey: "username", passwordKey: "password" } },
      }));
      await createBackup(kc, ns.name, "full", "kb06");
      const b: Backup = await backupInPhase(kc, ns.name, "full", ["Completed"], 240_000);
      const bt = b.status!.manifests!.backupTool!;
      expect(bt.dataFormat).to.equal(repo === "pvc" ? "PlainFiles" : "SealedPlainFiles");
      expect(bt.checksum).to.match(/^sha256:[0-9a-f]{64}$/);
      expect(bt.encrypted).to.equal(repo === "encrypted");
      // backup.info's totalSize, as du -sh printed it (what 0.6 users see), next to the measured bytes.
      expect(b.status!.totalSize).to.match(/^[0-9.]+[KMG]$/);
      expect(bt.uploadTotalSize).to.match(/^[0-9.]+(Ki|Mi|Gi)?$/);
      expect((bt.files ?? []).map((f) => f.name).sort()).to.deep.equal(repo === "pvc" ? e.files("full") : ["plain-files.dpar"]);

      if (repo !== "s3") {
        const repoDir = await pvcHostPath(kc, ns.name, b.status!.persistentVolumeClaimName!);
        const hits = await filesContaining(repoDir, marker);
        if (repo === "encrypted") expect(hits, "the marker row reached the encrypted repo in plain text").to.deep.equal([]);
        else expect(hits.length, "the check can see the marker in plain files kept in place").to.be.greaterThan(0);
      }

      await e.change(port);
      expect(await e.summary(port)).to.not.equal(atBackup);

      // A fresh StatefulSet whose server waits for restored data on its empty claim.
      await createDatabaseStatefulSet(kc, ns.name, { ...common, name: `${engine}-restored`, labels: restoredLabels, script: e.server(restoredPort, true), port: restoredPort });
      const claim = `data-${engine}-restored-0`;
      await until(`pod ${engine}-restored-0 running`, async () => {
        const p = await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: `${engine}-restored-0`, namespace: ns.name }).catch(() => undefined);
        return p?.status?.phase === "Running" ? true : undefined;
      }, 120_000);

      if (repo === "pvc" && engine === "redis") {
        // One byte changed in a kept file: verification fails, the target is neither stopped nor written.
        const repoDir = await pvcHostPath(kc, ns.name, b.status!.persistentVolumeClaimName!);
        const file = join(repoDir, ns.name, "full", "full.tar");
        const bytes = await readFile(file);
        bytes[bytes.length >> 1] ^= 0x20;
        await writeFile(file, bytes);
        await createRestoreJob(kc, ns.name, "tampered", { backupJobName: "full", labels: restoredLabels, claim });
        const bad = await waitRestore(kc, ns.name, "tampered", "Failed");
        expect(bad.status!.failureReason).to.match(/^VerificationFailed: Backup ".*\/full" failed verification, the target was not touched: .*have checksum sha256:[0-9a-f]{64}, not sha256:/);
        expect(bad.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"], "nothing was scaled down").to.equal(undefined);
        const sts = await kc.makeApiClient(AppsV1Api).readNamespacedStatefulSet({ name: `${engine}-restored`, namespace: ns.name });
        expect(sts.spec?.replicas).to.equal(1);
        expect(await readdir(await pvcHostPath(kc, ns.name, claim)), "the target claim was not written").to.deep.equal([]);
        bytes[bytes.length >> 1] ^= 0x20;
        await writeFile(file, bytes);
      }

      await createRestoreJob(kc, ns.name, "restore", { backupJobName: "full", labels: restoredLabels, claim });
      const rj = await waitRestore(kc, ns.name, "restore", "Completed");
      expect(rj.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");
      await waitReady(kc, ns.name, `${engine}-restored`, 1);
      await untilInNamespace(kc, ns.name, `restored ${engine} on ${restoredPort} answering`, async () => ((await e.ready(restoredPort)) ? true : undefined), 180_000, 1000);
      expect(await e.summary(restoredPort), "the restored server holds the data of backup time").to.equal(atBackup);
      // The restore ran the tool's own script: it refuses a non-empty DATA_DIR, and the files are the server's user's.
      const restoredDir = await pvcHostPath(kc, ns.name, claim);
      const dataDir = join(restoredDir, tool.spec.env![0]!.value!.replace(/^\/data\//, ""));
      expect((await stat(dataDir)).uid).to.equal(ids.uid);
    });
  }

  it("a logical 0.6-style tool (pg_dump into BACKUP_DIR) on the S3 repo: the sealed dump is unpacked and a logical RestoreJob's psql brings the running server back to backup time", async () => {
    const e = engines.postgres;
    const ns = await testNamespace(kc, "kb06-pgdump-s3", 180_000);
    namespaces.push(ns);
    const ids = await systemUser(e.user);
    const port = await freePort();
    await createDatabaseStatefulSet(kc, ns.name, {
      name: "pg", labels: { app: "pg", "app.kubernetes.io/instance": "pg-cluster" }, container: "postgres", image: "postgres:kb06", env: e.env, ids,
      prepare: e.prepare(ids), storage: "500Mi", terminationGracePeriodSeconds: 30, script: e.server(port, false), port, primary: true,
    });
    await createCredentials(kc, ns.name, "db-cred", "postgres", PASSWORD);
    await waitReady(kc, ns.name, "pg", 1);
    await untilInNamespace(kc, ns.name, `postgres on ${port} answering`, async () => ((await e.ready(port)) ? true : undefined), 180_000, 1000);
    await e.seed(port, "logical-marker");
    const atBackup = await e.summary(port);
    await createPolicy(kc, ns.name, "dump", datafilePolicy(pgDumpTool.metadata!.name!, {
      backupRepoName: S3_REPO,
      target: { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "db-cred", usernameKey: "username", passwordKey: "password" } },
    }));
    await createBackup(kc, ns.name, "dump", "dump");
    const b = await backupInPhase(kc, ns.name, "dump", ["Completed"], 240_000);
    expect(b.status!.manifests!.backupTool!.dataFormat).to.equal("SealedPlainFiles");
    await e.change(port);
    expect(await e.summary(port)).to.not.equal(atBackup);
    await createRestoreJob(kc, ns.name, "from-dump", { backupJobName: "dump", labels: { app: "pg" }, secret: "db-cred" });
    const rj = await waitRestore(kc, ns.name, "from-dump", "Completed");
    expect(rj.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");
    expect(await e.summary(port), "the running server holds the data of backup time").to.equal(atBackup);
  });

  it("a KubeBlocks 0.6 pitr-type tool (image \"\", backupCommands []) is accepted by the API server as written and reported Valid (restore only); a datafile Backup with it fails ToolUnsuitable before any Job", async () => {
    const ns = await testNamespace(kc, "kb06-pitr-tool", 180_000);
    namespaces.push(ns);
    const name = pitrTool.metadata!.name!;
    const stored = (await custom().getClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuptools", name })) as BackupTool;
    expect(stored.spec.image).to.equal("");
    expect(stored.spec.backupCommands).to.deep.equal([]);
    expect([stored.spec.type, stored.spec.deployKind]).to.deep.equal(["pitr", "job"]);
    expect(stored.spec.env).to.deep.equal(pitrTool.spec.env);
    const valid = await until(`BackupTool ${name} checked`, async () => {
      const t = await getCustom<BackupTool>(kc, DataProtectionGroup, "backuptools", undefined, name);
      return t?.status?.conditions?.find((c) => c.type === "Valid");
    }, 60_000, 500);
    expect(valid).to.include({ status: "True", reason: "Valid" });
    expect(valid.message).to.match(/^restore only: no backupCommands .*; empty image: the target's first container's image is used$/);

    await createPolicy(kc, ns.name, "pitr", datafilePolicy(name));
    await createBackup(kc, ns.name, "base", "pitr");
    const b = await backupInPhase(kc, ns.name, "base", ["Failed"], 60_000);
    expect(b.status!.failureReason).to.equal(`ToolUnsuitable: BackupTool "${name}" has no backupCommands (a restore-only tool, like the KubeBlocks 0.6 pitr tools), so it cannot make a datafile backup: use a tool with backupCommands in BackupPolicy "${ns.name}/pitr" .spec.datafile.backupToolName`);
    expect(await jobsOf(kc, ns.name, "base"), "nothing ran").to.deep.equal([]);
  });

  it("a RestoreJob with an ephemeral target volume is stored with its whole volumeClaimTemplate and runs a 0.6-style tool (empty image: the target's first container's) with the scratch claim mounted", async () => {
    const ns = await testNamespace(kc, "kb06-ephemeral", 180_000);
    namespaces.push(ns);
    const core = kc.makeApiClient(CoreV1Api);
    const [labels, restoredLabels] = [{ app: "files" }, { app: "files-restored" }];
    await twoContainerStatefulSet(kc, ns.name, "files", labels, "kb06/files-db:1");
    await waitReady(kc, ns.name, "files", 1);
    const source = await pvcHostPath(kc, ns.name, "data-files-0");
    const marker = `dpmark${Math.random().toString(36).slice(2, 12)}`;
    await writeFile(join(source, "table.dat"), `${marker}\n`.repeat(1000));
    await writeFile(join(source, "table.idx"), marker);

    await createPolicy(kc, ns.name, "files", datafilePolicy(scratchTool.metadata!.name!, { target: { labelsSelector: { matchLabels: labels } } }));
    await createBackup(kc, ns.name, "full", "files");
    const b = await backupInPhase(kc, ns.name, "full", ["Completed"], 240_000);
    expect(b.status!.manifests!.backupTool!.dataFormat).to.equal("PlainFiles");
    const [backupJob] = await jobsOf(kc, ns.name, "full");
    expect(backupJob!.spec!.template.spec!.containers[0]!.image, "the target pod's first container's image").to.equal("kb06/files-db:1");

    await twoContainerStatefulSet(kc, ns.name, "files-restored", restoredLabels, "kb06/files-restored:1");
    await waitReady(kc, ns.name, "files-restored", 1);
    const scratch: V1Volume = { name: "scratch", ephemeral: { volumeClaimTemplate: {
      metadata: { labels: { "dataprotection.e2e/scratch": "kb06" }, annotations: { "dataprotection.e2e/purpose": "restore scratch space" } },
      spec: { accessModes: ["ReadWriteOnce"], storageClassName: "local-path", volumeMode: "Filesystem", resources: { requests: { storage: "10Mi" } } },
    } } };
    const spec = {
      backupJobName: "full",
      target: { labelsSelector: { matchLabels: restoredLabels } },
      targetVolumes: [{ name: "data", persistentVolumeClaim: { claimName: "data-files-restored-0" } }, scratch],
      targetVolumeMounts: [{ name: "data", mountPath: "/data" }, { name: "scratch", mountPath: "/scratch" }],
    };
    const created = (await custom().createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "restorejobs", body: {
      apiVersion: `${DataProtectionGroup}/${V}`, kind: "RestoreJob", metadata: { name: "to-scratch" }, spec,
    } })) as RestoreJob;
    expect(created.spec.targetVolumes, "the API server kept every field of the ephemeral volume").to.deep.equal(spec.targetVolumes);

    const rj = await waitRestore(kc, ns.name, "to-scratch", "Completed");
    expect(rj.status?.conditions?.find((c) => c.type === "Verified")?.status).to.equal("True");
    const selector = `${LabelRestoreJob}=to-scratch,${LabelRestoreStage}=physical`;
    const [job] = (await kc.makeApiClient(BatchV1Api).listNamespacedJob({ namespace: ns.name, labelSelector: selector })).items;
    const podSpec = job!.spec!.template.spec!;
    expect(podSpec.containers.map((c) => c.image), "the target StatefulSet pod template's first container's image").to.deep.equal(["kb06/files-restored:1"]);
    // Labels and annotations reached the Job (the API server may add an empty creationTimestamp).
    expect(podSpec.volumes!.find((v) => v.name === "scratch")?.ephemeral?.volumeClaimTemplate?.metadata).to.deep.include(scratch.ephemeral!.volumeClaimTemplate!.metadata!);

    // The ephemeral claim (<pod>-scratch, made from the template, labels included) held the unpacked files.
    const [restorePod] = (await core.listNamespacedPod({ namespace: ns.name, labelSelector: selector })).items;
    const claim = await core.readNamespacedPersistentVolumeClaim({ name: `${restorePod!.metadata!.name}-scratch`, namespace: ns.name });
    expect(claim.metadata?.labels).to.include({ "dataprotection.e2e/scratch": "kb06" });
    expect(claim.metadata?.ownerReferences?.[0]).to.include({ kind: "Pod", name: restorePod!.metadata!.name });
    const scratchDir = await pvcHostPath(kc, ns.name, claim.metadata!.name!);
    expect((await readFile(join(scratchDir, "restored-from"), "utf8")).trim()).to.equal("full");
    expect(await readFile(join(scratchDir, "unpacked", "table.idx"), "utf8")).to.equal(marker);

    // The restored claim holds exactly the files of backup time.
    await waitReady(kc, ns.name, "files-restored", 1);
    const restored = await pvcHostPath(kc, ns.name, "data-files-restored-0");
    expect((await readdir(restored)).sort()).to.deep.equal(["table.dat", "table.idx"]);
    expect(await readFile(join(restored, "table.dat"), "utf8")).to.equal(`${marker}\n`.repeat(1000));
    expect(await readFile(join(restored, "table.idx"), "utf8")).to.equal(marker);
  });
});
