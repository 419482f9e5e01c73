// The built-in MariaDB tools end to end: a real MariaDB 10.11 server runs as a one-replica
// StatefulSet on the local node (datadir on its PVC, password auth over TCP), the operator
// backs it up with mariadb-dump (or mariadb-backup) through dp-agent, rows and objects change,
// and a RestoreJob, logical into the running server (physical into the scaled-down StatefulSet),
// brings the user databases back to backup time.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { mariadbBackupTool, mariadbDumpTool } from "@dataprotection/tools";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons, untilInNamespace } from "../harness.ts";
import { createBackup, createPolicy, datafilePolicy, hostPathOf, installShared, testTimeouts } from "../backup/fixtures.ts";
import { createRestoreJob, waitReady, waitRestore } from "../restore/seed.ts";
import { createCredentials, createDatabaseStatefulSet, expectToolBackup, freePort, mariadbServerScript, systemUser } from "./db-server.ts";

const run = promisify(execFile);
const PASSWORD = "maria-s3cret";
const SUMMARY =
  "SET SESSION group_concat_max_len = 16777216; SELECT CONCAT(COUNT(*), ':', SUM(id), ':', MD5(GROUP_CONCAT(id, '=', v ORDER BY id SEPARATOR ','))) FROM shop.items";

/** SQL over TCP as the secret's account (password in MYSQL_PWD); the last result, tab-separated. */
async function sql(port: number, text: string, password = PASSWORD): Promise<string> {
  const { stdout } = await run("mariadb", ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "-u", "admin", "-N", "-B", "-e", text], {
    env: { ...process.env, MYSQL_PWD: password },
    maxBuffer: 16 << 20,
  });
  return stdout.trim();
}

function waitForServer(kc: KubeConfig, ns: string, port: number): Promise<true> {
  return untilInNamespace(kc, ns, `mariadb on 127.0.0.1:${port} accepting queries`, async () => {
    try {
      return (await sql(port, "SELECT 1")) === "1" ? true : undefined;
    } catch (e) {
      throw new Error(`last error: ${(e as Error).message}`);
    }
  }, 180_000, 1000);
}

/**
 * A one-replica StatefulSet "maria" running mariadbd as the mysql user on `port` (127.0.0.1
 * only, socket in a temp dir), its datadir /data/mysql on the PVC data-maria-0, made by
 * mariadb-install-db on first start. Every start runs an init file that (re)creates the account
 * admin@'%' with the secret's password: root@localhost stays socket-only.
 */
async function createMariadb(kc: KubeConfig, ns: string, port: number, ids: { uid: number; gid: number }): Promise<void> {
  const labels = { app: "maria", "app.kubernetes.io/instance": "maria-cluster" };
  const server = mariadbServerScript(port);
  await createDatabaseStatefulSet(kc, ns, {
    name: "maria", labels, container: "mariadb", image: "mariadb:10.11", script: server,
    env: [{ name: "ADMIN_PW", value: PASSWORD }], port, ids,
    prepare: `mkdir -p /data/mysql && chown ${ids.uid}:${ids.gid} /data /data/mysql`,
    storage: "500Mi", terminationGracePeriodSeconds: 30, primary: true,
  });
  await createCredentials(kc, ns, "maria-cred", "admin", PASSWORD);
}

describe("Built-in mariadb-dump tool against a real MariaDB 10.11 StatefulSet (e2e)", function () {
  this.timeout(600_000);
  let kc: KubeConfig;
  let op: Operator;
  const namespaces: Array<{ cleanup: () => Promise<void> }> = [];

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    op = await startTestOperator({
      controllers: ["backup", "backuptool", "restorejob"],
      timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 },
    });
  });
  after(async () => {
    // With the operator still running: a Backup's finalizer deletes its data in the repo.
    // Deleting a namespace stops its pods (SIGTERM to the servers) and frees their PVCs.
    for (const ns of namespaces) await ns.cleanup();
    await op?.stop();
  });

  it("backs up the user databases with mariadb-dump through dp-agent, and a logical RestoreJob into the running server brings back rows, routines and triggers of backup time", async () => {
    const ns = await testNamespace(kc, "tool-mariadb", 180_000);
    namespaces.push(ns);
    const port = await freePort();
    await createMariadb(kc, ns.name, port, await systemUser("mysql"));
    await waitReady(kc, ns.name, "maria", 1);
    await waitForServer(kc, ns.name, port);
    const denied = await sql(port, "SELECT 1", "wrong").then(() => "connected", (e: Error) => e.message);
    expect(denied, "password auth is enforced: the tool connects with the secret's password").to.contain("Access denied");

    await sql(port, [
      "CREATE DATABASE shop",
      "CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL, updated INT NOT NULL DEFAULT 0) ENGINE=InnoDB",
      "USE shop",
      "INSERT INTO items (id, v) SELECT seq, MD5(seq) FROM seq_1_to_5000",
      "CREATE FUNCTION doubled(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
      "CREATE TRIGGER items_touch BEFORE UPDATE ON items FOR EACH ROW SET NEW.updated = OLD.updated + 1",
      "CREATE DATABASE `crm db`",
      "CREATE TABLE `crm db`.customers (id INT PRIMARY KEY, name VARCHAR(32), photo BLOB)",
      "INSERT INTO `crm db`.customers SELECT seq, CONCAT('c', seq), UNHEX(MD5(seq)) FROM seq_1_to_300",
    ].join(";\n"));
    const items = await sql(port, SUMMARY);
    expect(items).to.match(/^5000:12502500:[0-9a-f]{32}$/);
    const customers = await sql(port, "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, name, HEX(photo) ORDER BY id))) FROM `crm db`.customers");

    await createPolicy(kc, ns.name, "maria", datafilePolicy(mariadbDumpTool.metadata!.name!, {
      target: { labelsSelector: { matchLabels: { app: "maria" } }, secret: { name: "maria-cred", usernameKey: "username", passwordKey: "password" } },
    }));
    await createBackup(kc, ns.name, "dump1", "maria");
    const b = await expectToolBackup(kc, ns.name, "dump1", { tool: "mariadb-dump", cluster: "maria-cluster", object: "dump.sql" });

    // The dump holds the two user databases and no system schema.
    const repoDir = await hostPathOf(kc, ns.name, b.status!.persistentVolumeClaimName!);
    const { stdout: dump } = await run("dp-agent", ["pull", "dump.sql"], {
      env: { ...process.env, DP_REPO_KIND: "filesystem", DP_REPO_PATH: repoDir, DP_BACKUP_PATH: `${ns.name}/dump1` },
      maxBuffer: 64 << 20,
    });
    const created = [...dump.matchAll(/^CREATE DATABASE .*?`([^`]+)`/gm)].map((m) => m[1]);
    expect(created).to.deep.equal(["crm db", "shop"]);
    expect(dump).to.not.match(/^USE `(mysql|sys|performance_schema)`/m);

    // Changes after the backup that the restore must undo.
    await sql(port, [
      "USE shop",
      "INSERT INTO items (id, v) VALUES (5001, 'after-backup')",
      "UPDATE items SET v = 'changed' WHERE id <= 10",
      "DELETE FROM items WHERE id BETWEEN 100 AND 199",
      "DROP FUNCTION doubled",
      "CREATE TABLE late (id INT)",
      "DELETE FROM `crm db`.customers WHERE id > 100",
    ].join(";\n"));
    expect(await sql(port, SUMMARY)).to.not.equal(items);
    const podUid = (await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: "maria-0", namespace: ns.name })).metadata!.uid;

    await createRestoreJob(kc, ns.name, "from-dump1", { backupJobName: "dump1", labels: { app: "maria" }, secret: "maria-cred" });
    await waitRestore(kc, ns.name, "from-dump1", "Completed");

    expect(await sql(port, SUMMARY)).to.equal(items);
    expect(await sql(port, "SELECT COUNT(*) FROM shop.items WHERE id = 5001"), "the row added after the backup is gone").to.equal("0");
    expect(await sql(port, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop' AND table_name = 'late'"), "--add-drop-database: a table created after the backup is gone").to.equal("0");
    expect(await sql(port, "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, name, HEX(photo) ORDER BY id))) FROM `crm db`.customers")).to.equal(customers);
    expect(await sql(port, "SELECT shop.doubled(21)"), "the routine is back").to.equal("42");
    await sql(port, "UPDATE shop.items SET v = 'x' WHERE id = 1");
    expect(await sql(port, "SELECT updated FROM shop.items WHERE id = 1"), "the trigger is back").to.equal("1");
    // Logical: the server kept running, and its accounts (not in the dump) still work.
    const pod = await kc.makeApiClient(CoreV1Api).readNamespacedPod({ name: "maria-0", namespace: ns.name });
    expect(pod.metadata!.uid).to.equal(podUid);
    expect(pod.status?.containerStatuses?.[0]?.restartCount).to.equal(0);
    const events = await untilEventReasons(kc, ns.name, "from-dump1", ["LogicalRestoring", "Completed"]);
    expect(events.map((e) => e.reason)).to.not.include("ScalingDown");
  });

  it("mariadb-backup: a hot physical copy of the datadir streamed through dp-agent, then a physical RestoreJob into the scaled-down StatefulSet starts a server with the rows, routines and accounts of backup time", async () => {
    const ns = await testNamespace(kc, "tool-mariabase", 180_000);
    namespaces.push(ns);
    const port = await freePort();
    await createMariadb(kc, ns.name, port, await systemUser("mysql"));
    await waitReady(kc, ns.name, "maria", 1);
    await waitForServer(kc, ns.name, port);

    await sql(port, [
      "CREATE DATABASE shop",
      "CREATE TABLE shop.items (id INT PRIMARY KEY, v VARCHAR(64) NOT NULL, updated INT NOT NULL DEFAULT 0) ENGINE=InnoDB",
      "USE shop",
      "INSERT INTO items (id, v) SELECT seq, MD5(seq) FROM seq_1_to_5000",
      "CREATE FUNCTION doubled(x INT) RETURNS INT DETERMINISTIC RETURN x * 2",
      "CREATE TABLE shop.notes (id INT PRIMARY KEY, body TEXT) ENGINE=Aria",
      "INSERT INTO shop.notes SELECT seq, REPEAT('n', seq) FROM seq_1_to_200",
      "CREATE USER reader@'%' IDENTIFIED BY 'reader-pw'",
      "GRANT SELECT ON shop.* TO reader@'%'",
    ].join(";\n"));
    const items = await sql(port, SUMMARY);
    expect(items).to.match(/^5000:12502500:[0-9a-f]{32}$/);
    const notes = await sql(port, "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, body ORDER BY id))) FROM shop.notes");

    await createPolicy(kc, ns.name, "maria", datafilePolicy(mariadbBackupTool.metadata!.name!, {
      target: { labelsSelector: { matchLabels: { app: "maria" } }, secret: { name: "maria-cred", usernameKey: "username", passwordKey: "password" } },
    }));
    await createBackup(kc, ns.name, "base1", "maria");
    await expectToolBackup(kc, ns.name, "base1", { tool: "mariadb-backup", cluster: "maria-cluster", object: "backup.xbstream" });

    // Changes after the backup that the restore must undo, accounts included.
    await sql(port, [
      "USE shop",
      "INSERT INTO items (id, v) VALUES (5001, 'after-backup')",
      "UPDATE items SET v = 'changed' WHERE id <= 10",
      "DELETE FROM items WHERE id BETWEEN 100 AND 199",
      "DROP FUNCTION doubled",
      "CREATE TABLE late (id INT)",
      "DELETE FROM notes WHERE id > 100",
      "DROP USER reader@'%'",
    ].join(";\n"));
    expect(await sql(port, SUMMARY)).to.not.equal(items);

    await createRestoreJob(kc, ns.name, "from-base1", { backupJobName: "base1", labels: { app: "maria" }, claim: "data-maria-0" });
    const rj = await waitRestore(kc, ns.name, "from-base1", "Completed");
    expect(rj.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"]).to.equal("maria=1");
    await waitReady(kc, ns.name, "maria", 1);
    await waitForServer(kc, ns.name, port);

    expect(await sql(port, SUMMARY)).to.equal(items);
    expect(await sql(port, "SELECT COUNT(*) FROM shop.items WHERE id = 5001"), "the row added after the backup is gone").to.equal("0");
    expect(await sql(port, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'shop' AND table_name = 'late'"), "a table created after the backup is gone").to.equal("0");
    expect(await sql(port, "SELECT CONCAT(COUNT(*), ':', MD5(GROUP_CONCAT(id, body ORDER BY id))) FROM shop.notes"), "Aria tables come back too").to.equal(notes);
    expect(await sql(port, "SELECT shop.doubled(21)"), "the routine is back").to.equal("42");
    // Physical: the whole server, its accounts included, is as it was at backup time.
    const reader = await run("mariadb", ["--no-defaults", "--protocol=tcp", "-h", "127.0.0.1", "-P", String(port), "-u", "reader", "-N", "-B", "-e", "SELECT COUNT(*) FROM shop.items"], {
      env: { ...process.env, MYSQL_PWD: "reader-pw" },
    });
    expect(reader.stdout.trim(), "the account dropped after the backup is back").to.equal("5000");
    // The restored server accepts writes.
    await sql(port, "INSERT INTO shop.items (id, v) VALUES (6000, 'after-restore')");
    const events = await untilEventReasons(kc, ns.name, "from-base1", ["ScalingDown", "Restoring", "ScalingUp", "Completed"]);
    expect(events.map((e) => e.reason)).to.include.members(["ScalingDown", "Restoring", "ScalingUp", "Completed"]);
  });
});
