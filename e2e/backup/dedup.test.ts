// Issue 18, must-show 4: a BackupRepo with deduplication on. Two policies take scheduled Backups:
// the volume tool (push-dir of a volume) and postgres-dump (pg_dumpall streamed through
// dp-agent push) against a real PostgreSQL 15 server. Between their first and second Backups the
// data changes; the second volume Backup stores only what changed. backupsHistoryLimit 1 deletes
// the first ones (their delete Jobs forget their snapshots), the operator's scheduled prune
// frees the chunks only they used, and the second Backups restore byte-identical (the volume)
// and to the rows of their time (the database).
import { expect } from "chai";
import { execFile } from "node:child_process";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import type { KubeConfig } from "@kubernetes/client-node";
import { DataProtectionGroup, type BackupPolicy, type BackupRepo } from "@dataprotection/api";
import { Kinds, type Operator } from "@dataprotection/controllers";
import type { KubeClient } from "@dataprotection/runtime";
import { postgresDumpTool } from "@dataprotection/tools";
import { e2eCluster, getCustom, startTestOperator, testNamespace, until, untilInNamespace } from "../harness.ts";
import { backupsOf, kube, type BackupObject } from "../backuppolicy/helpers.ts";
import { createRestoreJob, waitReady, waitRestore } from "../restore/seed.ts";
import { createCredentials, createDatabaseStatefulSet, freePort, postgresServerScript, systemUser, type Ids } from "../tools/db-server.ts";
import { createEncryptedRepo, createPVC, createPolicy, expectRestoredTree, hostPathOf, installShared, runJob, seedScript, startTargetPod, testTimeouts } from "./fixtures.ts";

const run = promisify(execFile);
const REPO = "e2e-dedup";
const PASSWORD = "pg-dedup-s3cret";
const SUMMARY = "select count(*) || ':' || sum(id) || ':' || md5(string_agg(id || '=' || v, ',' order by id)) from items";
const EVERY_20S = "*/20 * * * * *";
const HELD_PRUNE = "0 0 0 29 2 *";

async function psql(port: number, sql: string): Promise<string> {
  const { stdout } = await run("psql", ["-X", "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-At", "-c", sql], {
    env: { ...process.env, PGPASSWORD: PASSWORD, PGCONNECT_TIMEOUT: "3" },
  });
  return stdout.trim();
}

/** A PostgreSQL 15 StatefulSet "pg" (labels app=pg) on `port` with table items of 5000 rows. */
async function startPostgres(kc: KubeConfig, ns: string, ids: Ids): Promise<number> {
  const port = await freePort();
  await createDatabaseStatefulSet(kc, ns, {
    name: "pg", labels: { app: "pg", "app.kubernetes.io/instance": "pg" }, container: "postgresql", image: "postgres:15", script: postgresServerScript(port),
    env: [{ name: "PGPW", value: PASSWORD }], port, ids,
    prepare: `mkdir -p /data/pgdata && chown ${ids.uid}:${ids.gid} /data /data/pgdata && chmod 700 /data/pgdata`,
    storage: "200Mi", terminationGracePeriodSeconds: 20, primary: true,
  });
  await createCredentials(kc, ns, "pg-cred", "postgres", PASSWORD);
  await waitReady(kc, ns, "pg", 1);
  await untilInNamespace(kc, ns, `postgres on 127.0.0.1:${port}`, async () => ((await psql(port, "select 1").catch(() => "")) === "1" ? true : undefined), 120_000, 500);
  await psql(port, "create table items (id int primary key, v text not null); insert into items select i, md5(i::text) from generate_series(1, 5000) i");
  return port;
}

/** Bytes of a status size such as "10.05Mi" (NaN when absent). */
function quantityBytes(q: string | undefined): number {
  const m = /^([\d.]+)(Ki|Mi|Gi)?$/.exec(q ?? "");
  return m ? Number(m[1]) * ({ Ki: 1024, Mi: 1 << 20, Gi: 1 << 30 }[m[2] ?? ""] ?? 1) : NaN;
}

/**
 * Bytes of the pack files under a dedup repo's `dir` (0 when absent). A file gone between the
 * listing and its stat (a Job of the operator working in the repo meanwhile) counts as 0.
 */
async function packBytesUnder(dir: string): Promise<number> {
  let total = 0;
  for (const e of await readdir(join(dir, "packs"), { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (e.isFile()) total += (await stat(join(e.parentPath, e.name)).catch(() => ({ size: 0 }))).size;
  }
  return total;
}

/** Turns a policy's datafile schedule on, waits for its next Backup to complete, and turns it off again. */
async function oneScheduledBackup(c: KubeClient, ns: string, policy: string, known: ReadonlySet<string>): Promise<BackupObject> {
  await c.patch(Kinds.BackupPolicy, policy, ns, { spec: { schedule: { datafile: { cronExpression: EVERY_20S, enable: true } } } });
  const b = await until(`a new scheduled Backup of ${policy} Completed`, async () => {
    for (const x of await backupsOf(c, ns, policy)) {
      if (known.has(x.metadata.name ?? "")) continue;
      if (x.status?.phase === "Failed") throw new Error(`Backup ${x.metadata.name} failed: ${x.status.failureReason}`);
      if (x.status?.phase === "Completed") return x;
    }
    return undefined;
  }, 180_000, 500);
  await c.patch(Kinds.BackupPolicy, policy, ns, { spec: { schedule: { datafile: { enable: false } } } });
  return b;
}

describe("Deduplicated repository through the operator: scheduled backups, retention, the operator's prune, restores (e2e)", function () {
  this.timeout(900_000);
  let kc: KubeConfig;
  let c: KubeClient;
  let op: Operator;
  let ids: Ids;
  let removeRepo: (() => Promise<void>) | undefined;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    c = kube(kc);
    await installShared(kc);
    ids = await systemUser("postgres");
    op = await startTestOperator({
      controllers: ["backuppolicy", "backup", "backuptool", "restorejob", "backuprepo", "storageprovider"],
      timeouts: { ...testTimeouts, targetPodWaitMs: 60_000, podStartMs: 90_000 },
    });
    // No prune until the test has measured the repo with both volume backups in it (a tick on 29 February).
    removeRepo = await createEncryptedRepo(kc, REPO, { deduplication: { enabled: true, pruneSchedule: HELD_PRUNE } });
  });
  after(async () => {
    await op?.stop();
    await removeRepo?.();
    c?.close();
  });

  it("stores the second backup of a volume at the cost of what changed, forgets the first on retention, prunes its chunks on schedule, and restores the second volume and dump exactly", async () => {
    const ns = await testNamespace(kc, "dedup", 180_000);
    try {
      // A volume: 40 small files, 4 MiB shared by both backups, 4 MiB only the first one sees.
      await createPVC(kc, ns.name, "data");
      await runJob(kc, ns.name, "seed", `${seedScript(40)}; head -c 4194304 /dev/urandom > /data/common.bin; head -c 4194304 /dev/urandom > /data/only-first.bin`, [{ claim: "data", path: "/data" }]);
      await startTargetPod(kc, ns.name);
      const port = await startPostgres(kc, ns.name, ids);

      const schedule = { datafile: { cronExpression: EVERY_20S, enable: false } };
      await createPolicy(kc, ns.name, "vol", { retention: { ttl: "7d" }, schedule, datafile: { backupToolName: "volume", backupRepoName: REPO, backupsHistoryLimit: 1, target: { labelsSelector: { matchLabels: { app: "db" } } } } } as BackupPolicy["spec"]);
      await createPolicy(kc, ns.name, "db", {
        retention: { ttl: "7d" }, schedule,
        datafile: { backupToolName: postgresDumpTool.metadata!.name!, backupRepoName: REPO, backupsHistoryLimit: 1, target: { labelsSelector: { matchLabels: { app: "pg" } }, secret: { name: "pg-cred", usernameKey: "username", passwordKey: "password" } } },
      } as BackupPolicy["spec"]);

      const vol1 = await oneScheduledBackup(c, ns.name, "vol", new Set());
      const db1 = await oneScheduledBackup(c, ns.name, "db", new Set());
      expect(vol1.status?.manifests?.backupTool?.encrypted).to.equal(true);

      // Day 2: the volume loses one file and gains another; the database changes.
      await runJob(kc, ns.name, "day2", "rm /data/only-first.bin; head -c 2097152 /dev/urandom > /data/only-second.bin; echo changed >> /data/dir1/file-1.bin", [{ claim: "data", path: "/data" }]);
      await psql(port, "insert into items values (5001, 'day 2'); update items set v = 'changed' where id <= 10");
      const rowsAtDb2 = await psql(port, SUMMARY);
      const dedupDir = join(await hostPathOf(kc, ns.name, vol1.status!.persistentVolumeClaimName!), ns.name, ".dedup");
      const vol2 = await oneScheduledBackup(c, ns.name, "vol", new Set([vol1.metadata.name!]));
      // Measured while no prune can run (HELD_PRUNE): retention's delete Job may already have
      // forgotten vol1's snapshot, but its chunks stay in the packs until a prune.
      const before = await packBytesUnder(dedupDir);
      const db2 = await oneScheduledBackup(c, ns.name, "db", new Set([db1.metadata.name!]));

      // What each volume backup added to the repo: the second, about the 2 MiB that changed.
      const stored1 = quantityBytes(vol1.status?.totalSize);
      const stored2 = quantityBytes(vol2.status?.totalSize);
      expect(stored1, "first backup: everything, ~8 MiB").to.be.greaterThan(7.5 * (1 << 20));
      expect(stored2, "second backup: what changed, ~2 MiB").to.be.within(1 << 20, 4 << 20);

      // Retention (backupsHistoryLimit 1) deletes the first ones; their delete Jobs forget their snapshots.
      for (const [policy, old] of [["vol", vol1], ["db", db1]] as const) {
        await until(`${old.metadata.name} deleted by retention`, async () => ((await backupsOf(c, ns.name, policy)).some((b) => b.metadata.name === old.metadata.name) ? undefined : true), 120_000, 500);
      }
      const deletedAt = Date.now();
      await c.patch(Kinds.BackupRepo, REPO, undefined, { spec: { deduplication: { pruneSchedule: "*/15 * * * * *" } } });

      // The operator's next scheduled prune (every 15 s from now on) in this namespace frees what only the first
      // ones used (their 4 MiB are half of the pack they share with common.bin: it is repacked).
      const repo = await until("a prune after the deletions succeeded", async () => {
        const r = await getCustom<BackupRepo>(kc, DataProtectionGroup, "backuprepos", undefined, REPO);
        const d = r?.status?.deduplication;
        if (d?.lastPruneResult?.startsWith("Failed")) throw new Error(`prune failed: ${d.lastPruneResult}`);
        return d?.lastPruneResult === "Succeeded" && Date.parse(d.lastPruneTime ?? "") > deletedAt ? r : undefined;
      }, 120_000, 500);
      expect(repo.status?.deduplication?.lastPruneJobs?.some((j) => j.startsWith(`${ns.name}/`)), "a prune Job ran in the namespace").to.equal(true);
      expect(Date.parse(repo.status?.deduplication?.nextPruneTime ?? "")).to.be.greaterThan(Date.parse(repo.status!.deduplication!.lastPruneTime!));
      const after = await packBytesUnder(dedupDir);
      expect(before, "both volume backups' data").to.be.greaterThan(9.5 * (1 << 20));
      expect(before - after, `the prune freed the first backup's own 4 MiB (${before} -> ${after} bytes)`).to.be.greaterThan(3.5 * (1 << 20));

      // The second backups restore: the volume byte for byte, the dump to the rows of its time.
      await expectRestoredTree(kc, ns.name, vol2.metadata.name!, "data", 42);
      await psql(port, "delete from items where id > 100");
      await createRestoreJob(kc, ns.name, "from-db2", { backupJobName: db2.metadata.name!, labels: { app: "pg" }, secret: "pg-cred" });
      await waitRestore(kc, ns.name, "from-db2", "Completed");
      expect(await psql(port, SUMMARY)).to.equal(rowsAtDb2);
    } finally {
      await ns.cleanup();
    }
  });
});
