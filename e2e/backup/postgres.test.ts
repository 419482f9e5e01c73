// A KubeBlocks 0.6-style PostgreSQL tool (pg_basebackup -Ft -Xs into BACKUP_DIR, restore with tar -xf)
// run unchanged against a real PostgreSQL 15 server running as the target pod on the local node.
// The base backup is then restored into a fresh directory, a second server is started over it,
// and the table's rows are compared with the source's.
import { expect } from "chai";
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { chown, chmod, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { DataProtectionGroup, type BackupTool } from "@dataprotection/api";
import { e2eCluster, startTestOperator, testNamespace, until } from "../harness.ts";
import { backupInPhase, createBackup, createPolicy, createPVC, datafilePolicy, exists, hostPathOf, installShared, runJob, testTimeouts, tool } from "./fixtures.ts";
import { freePort, postgresServerScript, systemUser } from "../tools/db-server.ts";

const run = promisify(execFile);
const PASSWORD = "pg-s3cret";
const PGDATA = "/data/pgdata";

/**
 * KubeBlocks 0.6's postgres-basebackup, unchanged: the password is piped into `pg_basebackup -W`
 * (tool pods have no controlling terminal, so the prompt reads stdin).
 */
const pgBasebackupTool: BackupTool = tool("e2e-postgres-basebackup", [
  "sh", "-c",
  "set -e; mkdir -p ${BACKUP_DIR}; echo ${DB_PASSWORD} | pg_basebackup -Ft -Pv -c fast -Xs -D ${BACKUP_DIR} -h ${DB_HOST} -p ${DB_PORT:-5432} -U ${DB_USER} -W",
], {
  image: "registry.cn-hangzhou.aliyuncs.com/apecloud/postgresql:14.8.0",
  env: [{ name: "DATA_DIR", value: PGDATA }],
  physical: {
    restoreCommands: ["sh", "-c", "set -e; mkdir -p ${DATA_DIR}; tar -xf ${BACKUP_DIR}/base.tar -C ${DATA_DIR}; tar -xf ${BACKUP_DIR}/pg_wal.tar -C ${DATA_DIR}/pg_wal"],
  },
});

async function psql(port: number, sql: string, password = PASSWORD): Promise<string> {
  const { stdout } = await run("psql", ["-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], {
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "3" },
  });
  return stdout.trim();
}

const waitForServer = (port: number, timeoutMs = 60_000) =>
  until(`postgres on 127.0.0.1:${port} accepting queries`, async () => psql(port, "select 1").then((r) => (r === "1" ? true : undefined), () => undefined), timeoutMs, 300);

const SUMMARY = "select count(*) || ':' || sum(id) || ':' || md5(string_agg(id || '=' || v, ',' order by id)) from items";

describe("Backup: a KubeBlocks 0.6-style pg_basebackup tool against a real PostgreSQL 15", function () {
  this.timeout(240_000);
  let op: Operator;
  const procs: ChildProcess[] = [];
  const dirs: string[] = [];

  before(async () => {
    const { controlPlane } = await e2eCluster();
    await installShared(controlPlane.kubeConfig, [pgBasebackupTool]);
    op = await startTestOperator({ controllers: ["backup", "backuptool"], timeouts: testTimeouts });
  });
  after(async () => {
    for (const p of procs) {
      if (p.exitCode === null && p.signalCode === null) {
        const exited = new Promise((r) => p.once("exit", r));
        p.kill("SIGINT");
        await exited;
      }
    }
    for (const d of dirs) await rm(d, { recursive: true, force: true });
    await op?.stop();
    const { controlPlane } = await e2eCluster();
    await controlPlane.kubeConfig.makeApiClient(CustomObjectsApi)
      .deleteClusterCustomObject({ group: DataProtectionGroup, version: "v1alpha1", plural: "backuptools", name: pgBasebackupTool.metadata!.name! })
      .catch((e: { code?: number }) => { if (e.code !== 404) throw e; });
  });

  it("backs up a running server with pg_basebackup -Ft -Xs into BACKUP_DIR as the postgres user, and the base.tar + pg_wal.tar start a second server with the same rows", async () => {
    const { controlPlane } = await e2eCluster();
    const kc = controlPlane.kubeConfig;
    const core = kc.makeApiClient(CoreV1Api);
    const { uid, gid } = await systemUser("postgres");
    const port = await freePort();
    const ns = await testNamespace(kc, "bk-postgres");
    try {
      await createPVC(kc, ns.name, "data");
      // The data dir must belong to postgres (initdb refuses root and a foreign owner).
      await runJob(kc, ns.name, "prepare", `mkdir -p ${PGDATA} && chown ${uid}:${gid} ${PGDATA} && chmod 700 ${PGDATA}`, [{ claim: "data", path: "/data" }]);
      await core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: "pg-cred" }, stringData: { username: "postgres", password: PASSWORD } } });
      const script = postgresServerScript(port);
      await core.createNamespacedPod({
        namespace: ns.name,
        body: {
          metadata: { name: "pg-0", labels: { app: "db", "app.kubernetes.io/instance": "pg-cluster" } },
          spec: {
            containers: [{
              name: "postgresql", image: "postgres:15", command: ["sh", "-c", script],
              env: [{ name: "PGPW", value: PASSWORD }],
              ports: [{ containerPort: port }],
              securityContext: { runAsUser: uid, runAsGroup: gid },
              volumeMounts: [{ name: "data", mountPath: "/data" }],
            }],
            volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }],
            terminationGracePeriodSeconds: 5,
          },
        },
      });
      await until("pod pg-0 Running", async () => {
        const p = await core.readNamespacedPod({ name: "pg-0", namespace: ns.name });
        if (p.status?.phase === "Failed" || p.status?.phase === "Succeeded") throw new Error(`pg-0 ${p.status.phase}: ${JSON.stringify(p.status.containerStatuses?.[0]?.state)}`);
        return p.status?.phase === "Running" ? p : undefined;
      }, 60_000);
      await waitForServer(port);
      // md5 auth is enforced, so the tool can only connect with the secret's password.
      const wrong = await psql(port, "select 1", "wrong").then(() => "connected", (e: Error) => e.message);
      expect(wrong).to.contain("password authentication failed");
      await psql(port, "create table items (id int primary key, v text not null); insert into items select i, md5(i::text) from generate_series(1, 5000) i");
      const source = await psql(port, SUMMARY);
      expect(source).to.match(/^5000:12502500:[0-9a-f]{32}$/);

      await createPolicy(kc, ns.name, "pg", datafilePolicy(pgBasebackupTool.metadata!.name!, {
        target: { labelsSelector: { matchLabels: { app: "db" } }, secret: { name: "pg-cred", usernameKey: "username", passwordKey: "password" } },
      }));
      await createBackup(kc, ns.name, "pg1", "pg");
      const b = await backupInPhase(kc, ns.name, "pg1", ["Completed"], 120_000);
      const s = b.status!;
      expect(s.backupToolName).to.equal("e2e-postgres-basebackup");
      expect(s.sourceCluster).to.equal("pg-cluster");
      expect(s.totalSize).to.match(/^[0-9.]+(Ki|Mi|Gi)$/);
      const bt = s.manifests!.backupTool!;
      expect(bt.filePath).to.equal(`/${ns.name}/pg1`);
      expect(bt.checksum).to.match(/^sha256:[0-9a-f]{64}$/);
      expect((bt.files ?? []).map((f) => f.name)).to.include.members(["base.tar", "pg_wal.tar"]);
      const dir = join(await hostPathOf(kc, ns.name, s.persistentVolumeClaimName!), ns.name, "pg1");
      expect(await exists(join(dir, "base.tar"))).to.equal(true);
      expect((await stat(join(dir, "base.tar"))).uid).to.equal(uid);

      // Rows written after the backup must not appear in the restored server.
      await psql(port, "insert into items values (5001, 'after-backup')");

      // Physical restore exactly as the tool's restoreCommands do it, into a fresh data dir.
      const restored = await mkdtemp(join(tmpdir(), "pg-restore-"));
      dirs.push(restored);
      const data = join(restored, "data");
      const sock = join(restored, "sock");
      await run("mkdir", ["-p", join(data, "pg_wal"), sock]);
      await run("tar", ["-xf", join(dir, "base.tar"), "-C", data]);
      await run("tar", ["-xf", join(dir, "pg_wal.tar"), "-C", join(data, "pg_wal")]);
      await run("chown", ["-R", `${uid}:${gid}`, restored]);
      await chown(restored, uid, gid);
      await chmod(data, 0o700);
      expect(await exists(join(data, "backup_label"))).to.equal(true);
      const port2 = await freePort();
      const second = spawn("setpriv", ["--reuid", String(uid), "--regid", String(gid), "--init-groups", "postgres", "-D", data, "-p", String(port2), "-k", sock], { stdio: ["ignore", "ignore", "pipe"] });
      procs.push(second);
      let log = "";
      second.stderr!.on("data", (c: Buffer) => { log += c.toString(); });
      await waitForServer(port2).catch((e: Error) => { throw new Error(`${e.message}\n${log}`); });
      expect(await psql(port2, SUMMARY)).to.equal(source);
      expect(await psql(port2, "select count(*) from items where id = 5001")).to.equal("0");
      expect(await psql(port2, "select pg_is_in_recovery()")).to.equal("f");
    } finally {
      await ns.cleanup();
    }
  });
});
