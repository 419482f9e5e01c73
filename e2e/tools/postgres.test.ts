// The built-in PostgreSQL tools end to end: a real PostgreSQL 15 server runs as a one-replica
// StatefulSet on the local node (data on its PVC, md5 auth), the operator backs it up with
// postgres-dump / postgres-basebackup, rows change, and a RestoreJob (logical / physical) brings
// the server back to the rows it had at backup time.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { postgresBasebackupTool, postgresDumpTool } from "@dataprotection/tools";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons, untilInNamespace } from "../harness.ts";
import { createBackup, createPolicy, datafilePolicy, installShared, testTimeouts } from "../backup/fixtures.ts";
import { createRestoreJob, waitReady, waitRestore } from "../restore/seed.ts";
import { createCredentials, createDatabaseStatefulSet, expectToolBackup, freePort, postgresServerScript, systemUser } from "./db-server.ts";

const run = promisify(execFile);
const PASSWORD = "pg-s3cret";
const SUMMARY = "select count(*) || ':' || sum(id) || ':' || md5(string_agg(id || '=' || v, ',' order by id)) from items";

async function psql(port: number, sql: string, db = "postgres", password = PASSWORD): Promise<string> {
  const { stdout } = await run("psql", ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], {
    env: { ...process.env, PGPASSWORD: password, PGCONNECT_TIMEOUT: "3" },
  });
  return stdout.trim();
}

/** Polls until the server answers a query; a timeout also describes the namespace. */
function waitForServer(kc: KubeConfig, ns: string, port: number): Promise<true> {
  let last = "";
  return untilInNamespace(kc, ns, `postgres on 127.0.0.1:${port} accepting queries`, async () => {
    try {
      return (await psql(port, "select 1")) === "1" ? true : undefined;
    } catch (e) {
      last = (e as Error).message;
      throw new Error(`last error: ${last}`);
    }
  }, 120_000, 500);
}

/**
 * A one-replica StatefulSet "pg" running PostgreSQL 15 as the postgres user on `port`, its data
 * in /data/pgdata on the PVC data-pg-0 (initdb on first start, md5 auth, a replication entry for
 * pg_basebackup). An init container, as root, gives the postgres user the data directory.
 */
async function createPostgres(kc: KubeConfig, ns: string, port: number, ids: { uid: number; gid: number }): Promise<void> {
  const labels = { app: "pg", "app.kubernetes.io/instance": "pg-cluster" };
  const server = postgresServerScript(port);
  await createDatabaseStatefulSet(kc, ns, {
    name: "pg", labels, container: "postgresql", image: "postgres:15", script: server,
    env: [{ name: "PGPW", value: PASSWORD }], port, ids,
    prepare: `mkdir -p /data/pgdata && chown ${ids.uid}:${ids.gid} /data /data/pgdata && chmod 700 /data/pgdata`,
    storage: "200Mi", terminationGracePeriodSeconds: 20, primary: true,
  });
  await createCredentials(kc, ns, "pg-cred", "postgres", PASSWORD);
}

const policy = (tool: string) => datafilePolicy(tool, {
  target: { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "pg-cred", usernameKey: "username", passwordKey: "password" } },
});

describe("Built-in PostgreSQL tools against a real PostgreSQL 15 StatefulSet (e2e)", function () {
  this.timeout(600_000);
  let kc: KubeConfig;
  let op: Operator;
  let ids: { uid: number; gid: number };
  const namespaces: Array<{ cleanup: () => Promise<void> }> = [];

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    ids = await systemUser("postgres");
    op = await startTestOperator({
      controllers: ["backup", "backuptool", "restorejob"],
      timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 },
    });
  });
  after(async () => {
    // With the operator still running: the Backups' finalizers delete their data first.
    // Deleting a namespace stops its pods (SIGTERM to the servers) and frees their PVCs.
    try {
      for (const ns of namespaces) await ns.cleanup();
    } finally {
      await op?.stop();
    }
  });

  /** A running server with `items` (5000 rows) in postgres and `orders` in a second database. */
  async function startSeededServer(prefix: string): Promise<{ ns: string; port: number }> {
    const ns = await testNamespace(kc, prefix, 180_000);
    namespaces.push(ns);
    const port = await freePort();
    await createPostgres(kc, ns.name, port, ids);
    await waitReady(kc, ns.name, "pg", 1);
    await waitForServer(kc, ns.name, port);
    const wrong = await psql(port, "select 1", "postgres", "wrong").then(() => "connected", (e: Error) => e.message);
    expect(wrong, "md5 auth is enforced: the tools connect with the secret's password").to.contain("password authentication failed");
    await psql(port, "create table items (id int primary key, v text not null)");
    await psql(port, "insert into items select i, md5(i::text) from generate_series(1, 5000) i");
    await psql(port, "create database shop");
    await psql(port, "create table orders (id int primary key, qty int not null); insert into orders select i, i % 7 from generate_series(1, 300) i", "shop");
    return { ns: ns.name, port };
  }

  /** Changes after the backup that a restore must undo. */
  async function changeRows(port: number): Promise<void> {
    await psql(port, "insert into items values (5001, 'after-backup')");
    await psql(port, "update items set v = 'changed' where id <= 10");
    await psql(port, "delete from orders where id > 100", "shop");
  }

  const expectBackup = (ns: string, name: string, tool: string, object: string) => expectToolBackup(kc, ns, name, { tool, cluster: "pg-cluster", object });

  it("postgres-dump: pg_dumpall through dp-agent, then a logical RestoreJob into the running server brings back the rows of backup time in every database", async () => {
    const { ns, port } = await startSeededServer("tool-pgdump");
    const items = await psql(port, SUMMARY);
    expect(items).to.match(/^5000:12502500:[0-9a-f]{32}$/);
    const orders = await psql(port, "select count(*) || ':' || sum(qty) from orders", "shop");

    await createPolicy(kc, ns, "pg", policy(postgresDumpTool.metadata!.name!));
    await createBackup(kc, ns, "dump1", "pg");
    await expectBackup(ns, "dump1", "postgres-dump", "dump.sql");

    await changeRows(port);
    expect(await psql(port, SUMMARY)).to.not.equal(items);
    const podUid = (await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: "pg-0", namespace: ns })).metadata!.uid;

    await createRestoreJob(kc, ns, "from-dump1", { backupJobName: "dump1", labels: { app: "pg" }, secret: "pg-cred" });
    await waitRestore(kc, ns, "from-dump1", "Completed");

    expect(await psql(port, SUMMARY)).to.equal(items);
    expect(await psql(port, "select count(*) from items where id = 5001")).to.equal("0");
    expect(await psql(port, "select count(*) || ':' || sum(qty) from orders", "shop")).to.equal(orders);
    // Logical: the server kept running; the role's password still works (ALTER ROLE from the dump).
    const pod = await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: "pg-0", namespace: ns });
    expect(pod.metadata!.uid).to.equal(podUid);
    expect(pod.status?.containerStatuses?.[0]?.restartCount).to.equal(0);
    const events = await untilEventReasons(kc, ns, "from-dump1", ["LogicalRestoring", "Completed"]);
    expect(events.map((e) => e.reason)).to.not.include("ScalingDown");
  });

  it("postgres-basebackup: pg_basebackup -Ft -X fetch through dp-agent, then a physical RestoreJob into the scaled-down StatefulSet starts a server with the rows of backup time", async () => {
    const { ns, port } = await startSeededServer("tool-pgbase");
    const items = await psql(port, SUMMARY);
    expect(items).to.match(/^5000:12502500:[0-9a-f]{32}$/);
    const orders = await psql(port, "select count(*) || ':' || sum(qty) from orders", "shop");

    await createPolicy(kc, ns, "pg", policy(postgresBasebackupTool.metadata!.name!));
    await createBackup(kc, ns, "base1", "pg");
    await expectBackup(ns, "base1", "postgres-basebackup", "base.tar");

    await changeRows(port);
    expect(await psql(port, SUMMARY)).to.not.equal(items);

    await createRestoreJob(kc, ns, "from-base1", { backupJobName: "base1", labels: { app: "pg" }, claim: "data-pg-0" });
    const rj = await waitRestore(kc, ns, "from-base1", "Completed");
    expect(rj.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"]).to.equal("pg=1");
    await waitReady(kc, ns, "pg", 1);
    await waitForServer(kc, ns, port);

    expect(await psql(port, SUMMARY)).to.equal(items);
    expect(await psql(port, "select count(*) from items where id = 5001"), "the row added after the backup is gone").to.equal("0");
    expect(await psql(port, "select count(*) || ':' || sum(qty) from orders", "shop")).to.equal(orders);
    expect(await psql(port, "select pg_is_in_recovery()")).to.equal("f");
    // The restored server accepts writes.
    await psql(port, "insert into items values (6000, 'after-restore')");
    const events = await untilEventReasons(kc, ns, "from-base1", ["ScalingDown", "Restoring", "ScalingUp", "Completed"]);
    expect(events.map((e) => e.reason)).to.include.members(["ScalingDown", "Restoring", "ScalingUp", "Completed"]);
  });
});
