// The built-in redis-rdb tools end to end: a real Redis 7.0 server runs as a one-replica
// StatefulSet on the local node (data in /data on its PVC, requirepass), the operator backs it
// up with redis-cli --rdb through dp-agent, keys change, and a physical RestoreJob puts the RDB
// back into the scaled-down StatefulSet: with appendonly no (dump.rdb is loaded) and with
// appendonly yes (the AOF directory is replaced, else Redis would load the newer AOF).
// redis-rdb-online takes the same backup and a logical RestoreJob loads it into the running
// server (a temporary redis-server in the tool pod MIGRATEs every key to it).
import { expect } from "chai";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { promisify } from "node:util";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { redisRdbOnlineTool, redisRdbTool } from "@dataprotection/tools";
import { e2eCluster, startTestOperator, testNamespace, untilEventReasons, untilInNamespace } from "../harness.ts";
import { createBackup, createPolicy, datafilePolicy, installShared, testTimeouts } from "../backup/fixtures.ts";
import { createRestoreJob, pvcHostPath, waitReady, waitRestore } from "../restore/seed.ts";
import { createCredentials, createDatabaseStatefulSet, expectToolBackup, freePort, systemUser } from "./db-server.ts";

const run = promisify(execFile);
const PASSWORD = "redis-s3cret";

/** One command through redis-cli (password in REDISCLI_AUTH); a server error reply is thrown. */
async function redis(port: number, args: string[], password = PASSWORD): Promise<string> {
  const { stdout } = await run("redis-cli", ["-h", "127.0.0.1", "-p", String(port), "--no-raw", ...args], {
    env: { ...process.env, REDISCLI_AUTH: password },
    maxBuffer: 64 << 20,
  });
  const out = stdout.trim();
  if (out.startsWith("(error)")) throw new Error(`redis ${args[0]}: ${out}`);
  return out;
}

function waitForServer(kc: KubeConfig, ns: string, port: number): Promise<true> {
  return untilInNamespace(kc, ns, `redis on 127.0.0.1:${port} answering PING`, async () => {
    try {
      return (await redis(port, ["PING"])) === "PONG" ? true : undefined;
    } catch (e) {
      throw new Error(`last error: ${(e as Error).message}`);
    }
  }, 120_000, 500);
}

/**
 * The dataset: 3000 strings, a hash of 500 fields, a list of 1000 elements and a set, written
 * by one script. Its summary is DEBUG DIGEST (a hash of every key, type and value) plus DBSIZE.
 */
const SEED = `
for i = 1, 3000 do redis.call('SET', 'k:' .. i, 'value-' .. i) end
for i = 1, 500 do redis.call('HSET', 'h', 'f' .. i, i * 7) end
for i = 1, 1000 do redis.call('RPUSH', 'l', 'e' .. i) end
for i = 1, 200 do redis.call('SADD', 's', 'm' .. i) end
return redis.call('DBSIZE')`;

async function summary(port: number): Promise<string> {
  return `${await redis(port, ["DBSIZE"])} ${await redis(port, ["DEBUG", "DIGEST"])}`;
}

/** DEBUG DIGEST (every database) and the DBSIZE of each of the 16 databases. */
async function summaryByDb(port: number): Promise<string> {
  const sizes: string[] = [];
  for (let db = 0; db < 16; db++) sizes.push(`db${db}=${(await redis(port, ["-n", String(db), "DBSIZE"])).replace("(integer) ", "")}`);
  return `${await redis(port, ["DEBUG", "DIGEST"])} ${sizes.join(" ")}`;
}

/** Keys whose names redis-cli's quoting would get wrong, set by a script: a newline, a space, a double quote, a backslash, non-UTF-8 bytes and a NUL. */
const ODD_KEYS = String.raw`
redis.call('SET', 'odd\nnewline', 'v1')
redis.call('SET', 'odd space', 'v2')
redis.call('SET', 'odd"quote', 'v3')
redis.call('SET', 'odd\\backslash', 'v4')
redis.call('SET', 'odd\255\254\0bin', 'v5')
redis.call('HSET', 'odd hash\n', 'f\255', 'x')
return redis.call('DBSIZE')`;

/** A 5 MiB value LZF cannot shrink: 64 KiB of (seeded) random bytes repeated, the repeats further apart than its window. */
const BIG = String.raw`
local t = {}
for i = 1, 65536 do t[i] = string.char(math.random(0, 255)) end
redis.call('SET', 'big', string.rep(table.concat(t), 80))
return redis.call('STRLEN', 'big')`;

/** Database 3: a hundred strings, a hash and an odd name. */
const DB3 = String.raw`
for i = 1, 100 do redis.call('SET', 'three:' .. i, i) end
redis.call('HSET', 'h3', 'a', '1', 'b', '2')
redis.call('SET', 'db3 "odd"\n\\', 'x')
return redis.call('DBSIZE')`;

/** INFO server's run_id: a new one on every start of the server. */
async function runId(port: number): Promise<string> {
  const m = /run_id:([0-9a-f]+)/.exec(await redis(port, ["INFO", "server"]));
  return m![1]!;
}

/**
 * A one-replica StatefulSet "redis" running redis-server as the redis user on `port` with its
 * `dir` /data on the PVC data-redis-0; an init container, as root, gives the user /data.
 */
async function createRedis(kc: KubeConfig, ns: string, port: number, ids: { uid: number; gid: number }, appendonly: boolean, options = ""): Promise<void> {
  const labels = { app: "redis", "app.kubernetes.io/instance": "redis-cluster" };
  const server = [
    "set -e",
    `exec redis-server --port ${port} --bind 127.0.0.1 --dir /data --requirepass "$REDIS_PW" --appendonly ${appendonly ? "yes" : "no"}`
      + " --save '3600 1' --enable-debug-command local --protected-mode no --logfile ''" + (options ? ` ${options}` : ""),
  ].join("\n");
  await createDatabaseStatefulSet(kc, ns, {
    name: "redis", labels, container: "redis", image: "redis:7.0", script: server,
    env: [{ name: "REDIS_PW", value: PASSWORD }], port, ids,
    prepare: `chown ${ids.uid}:${ids.gid} /data && chmod 750 /data`,
    storage: "100Mi", terminationGracePeriodSeconds: 20,
  });
  await createCredentials(kc, ns, "redis-cred", "default", PASSWORD);
}

describe("Built-in redis-rdb tool against a real Redis 7.0 StatefulSet (e2e)", function () {
  this.timeout(600_000);
  let kc: KubeConfig;
  let op: Operator;
  let ids: { uid: number; gid: number };
  const namespaces: Array<{ cleanup: () => Promise<void> }> = [];

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    await installShared(kc);
    ids = await systemUser("redis");
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

  for (const appendonly of [false, true]) {
    it(`appendonly ${appendonly ? "yes" : "no"}: backs up with redis-cli --rdb through dp-agent, and a physical RestoreJob brings back exactly the keys of backup time`, async () => {
      const ns = await testNamespace(kc, appendonly ? "tool-redis-aof" : "tool-redis-rdb", 180_000);
      namespaces.push(ns);
      const port = await freePort();
      await createRedis(kc, ns.name, port, ids, appendonly);
      await waitReady(kc, ns.name, "redis", 1);
      await waitForServer(kc, ns.name, port);
      const denied = await redis(port, ["PING"], "wrong").then((r) => r, (e: Error) => e.message);
      expect(denied, "requirepass is enforced: the tool authenticates with the secret's password").to.match(/WRONGPASS|NOAUTH/);

      expect(await redis(port, ["EVAL", SEED, "0"])).to.equal("(integer) 3003");
      const atBackup = await summary(port);
      const hashAtBackup = await redis(port, ["HGETALL", "h"]);
      const listAtBackup = await redis(port, ["LRANGE", "l", "0", "-1"]);

      await createPolicy(kc, ns.name, "redis", datafilePolicy(redisRdbTool.metadata!.name!, {
        target: { labelsSelector: { matchLabels: { app: "redis" } }, secret: { name: "redis-cred", usernameKey: "username", passwordKey: "password" } },
      }));
      await createBackup(kc, ns.name, "rdb1", "redis");
      await expectToolBackup(kc, ns.name, "rdb1", { tool: "redis-rdb", cluster: "redis-cluster", object: "dump.rdb" });

      // Changes after the backup, written to disk (RDB or AOF) before the server goes down.
      await redis(port, ["SET", "late", "after-backup"]);
      await redis(port, ["DEL", "k:1", "k:2"]);
      await redis(port, ["HSET", "h", "f1", "changed"]);
      await redis(port, ["RPUSH", "l", "tail"]);
      await redis(port, ["SAVE"]);
      expect(await summary(port)).to.not.equal(atBackup);

      await createRestoreJob(kc, ns.name, "from-rdb1", { backupJobName: "rdb1", labels: { app: "redis" }, claim: "data-redis-0" });
      const rj = await waitRestore(kc, ns.name, "from-rdb1", "Completed");
      expect(rj.metadata?.annotations?.["dataprotection.kubeblocks.io/original-replicas"]).to.equal("redis=1");
      await waitReady(kc, ns.name, "redis", 1);
      await waitForServer(kc, ns.name, port);

      expect(await summary(port)).to.equal(atBackup);
      expect(await redis(port, ["EXISTS", "late"]), "the key added after the backup is gone").to.equal("(integer) 0");
      expect(await redis(port, ["GET", "k:1"])).to.equal('"value-1"');
      expect(await redis(port, ["HGETALL", "h"])).to.equal(hashAtBackup);
      expect(await redis(port, ["LRANGE", "l", "0", "-1"])).to.equal(listAtBackup);
      expect(await redis(port, ["CONFIG", "GET", "appendonly"])).to.contain(appendonly ? "yes" : "no");

      const dir = await pvcHostPath(kc, ns.name, "data-redis-0");
      const files = await readdir(dir);
      expect(files.filter((f) => f.includes(".restoring")), "no temp file left behind").to.deep.equal([]);
      if (appendonly) expect(files).to.include("appendonlydir");
      else expect(files).to.not.include("appendonlydir");
      const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns.name, labelSelector: "job-name=from-rdb1-restore" });
      const log = await (await e2eCluster()).node.logs(ns.name, pods.items[0]!.metadata!.name!, "restore-0");
      expect(log).to.contain("restored rdb1 into /data/dump.rdb");
      if (appendonly) expect(log).to.contain("replaced /data/appendonlydir with a base-only AOF");
      // The restored server persists new writes (its files are the redis user's).
      await redis(port, ["SET", "after-restore", "1"]);
      await redis(port, [appendonly ? "BGREWRITEAOF" : "SAVE"]);
      const events = await untilEventReasons(kc, ns.name, "from-rdb1", ["ScalingDown", "Restoring", "ScalingUp", "Completed"]);
      expect(events.map((e) => e.reason)).to.include.members(["ScalingDown", "Restoring", "ScalingUp", "Completed"]);
    });
  }

  it("redis-rdb-online: the same RDB backup, and a logical RestoreJob loads it into the running server (same pod, same run_id) with odd key names, two databases, TTLs and a 5 MiB value", async () => {
    const ns = await testNamespace(kc, "tool-redis-online", 180_000);
    namespaces.push(ns);
    const port = await freePort();
    // No 5 s wait before the snapshot of a diskless SYNC: the short-lived key below must be in it.
    await createRedis(kc, ns.name, port, ids, false, "--repl-diskless-sync-delay 0");
    await waitReady(kc, ns.name, "redis", 1);
    await waitForServer(kc, ns.name, port);

    expect(await redis(port, ["EVAL", SEED, "0"])).to.equal("(integer) 3003");
    expect(await redis(port, ["EVAL", ODD_KEYS, "0"])).to.equal("(integer) 3009");
    expect(await redis(port, ["EVAL", BIG, "0"])).to.equal(`(integer) ${5 << 20}`);
    await redis(port, ["SET", "ttl-key", "kept", "EX", "3600"]);
    expect(await redis(port, ["-n", "3", "EVAL", DB3, "0"])).to.equal("(integer) 102");
    // What the restore must bring back: taken before the short-lived key exists, which is in
    // the backup but expires before the restore (its absolute expiry time has passed).
    const atBackup = await summaryByDb(port);
    expect(atBackup).to.match(/ db0=3011 db1=0 db2=0 db3=102 db4=0 /);
    const SHORT_TTL_MS = 10_000;
    await redis(port, ["SET", "short-lived", "x", "PX", String(SHORT_TTL_MS)]);
    const backupStart = Date.now();

    await createPolicy(kc, ns.name, "redis", datafilePolicy(redisRdbOnlineTool.metadata!.name!, {
      target: { labelsSelector: { matchLabels: { app: "redis" } }, secret: { name: "redis-cred", usernameKey: "username", passwordKey: "password" } },
    }));
    await createBackup(kc, ns.name, "online1", "redis");
    const b = await expectToolBackup(kc, ns.name, "online1", { tool: "redis-rdb-online", cluster: "redis-cluster", object: "dump.rdb" });
    const backupMs = Date.now() - backupStart;
    const repoDir = await pvcHostPath(kc, ns.name, b.status!.persistentVolumeClaimName!);
    const { stdout: rdb } = await run("dp-agent", ["pull", "dump.rdb"], {
      env: { ...process.env, DP_REPO_KIND: "filesystem", DP_REPO_PATH: repoDir, DP_BACKUP_PATH: `${ns.name}/online1` },
      encoding: "buffer",
      maxBuffer: 64 << 20,
    });
    expect(rdb.subarray(0, 5).toString()).to.equal("REDIS");
    expect(rdb.includes(Buffer.from("short-lived")), `the short-lived key is in the RDB (the backup took ${backupMs} ms of its ${SHORT_TTL_MS} ms)`).to.equal(true);

    // Changes after the backup that the restore must undo.
    await redis(port, ["EVAL", "redis.call('DEL', 'odd\\nnewline', 'k:1', 'h'); return 1", "0"]);
    await redis(port, ["SET", "late", "after-backup"]);
    await redis(port, ["SET", "big", "small now"]);
    await redis(port, ["PERSIST", "ttl-key"]);
    await redis(port, ["-n", "3", "FLUSHDB"]);
    await redis(port, ["-n", "5", "SET", "late-in-db5", "x"]);
    expect(await summaryByDb(port)).to.not.equal(atBackup);
    // The short-lived key expires (absolute time) before the RestoreJob starts.
    await untilInNamespace(kc, ns.name, "short-lived expired", async () => ((await redis(port, ["PTTL", "short-lived"])) === "(integer) -2" ? true : undefined), SHORT_TTL_MS + 10_000, 200);

    const core = kc.makeApiClient(CoreV1Api);
    const before = await core.readNamespacedPod({ name: "redis-0", namespace: ns.name });
    const runIdBefore = await runId(port);
    await createRestoreJob(kc, ns.name, "from-online1", { backupJobName: "online1", labels: { app: "redis" }, secret: "redis-cred" });
    await waitRestore(kc, ns.name, "from-online1", "Completed");

    // The same server process kept running: same pod, no restart, same run_id.
    const after = await core.readNamespacedPod({ name: "redis-0", namespace: ns.name });
    expect(after.metadata!.uid).to.equal(before.metadata!.uid);
    expect(after.status?.containerStatuses?.[0]?.restartCount).to.equal(0);
    expect(await runId(port)).to.equal(runIdBefore);

    expect(await summaryByDb(port), "every key, type and value of backup time, in its database").to.equal(atBackup);
    expect(await redis(port, ["EXISTS", "short-lived", "late"]), "the expired key and the key added after the backup are gone").to.equal("(integer) 0");
    expect(await redis(port, ["-n", "5", "DBSIZE"])).to.equal("(integer) 0");
    expect(await redis(port, ["EVAL", "return redis.call('GET', 'odd\\nnewline')", "0"])).to.equal('"v1"');
    expect(await redis(port, ["EVAL", "return redis.call('GET', 'odd\\255\\254\\0bin')", "0"])).to.equal('"v5"');
    expect(await redis(port, ["STRLEN", "big"])).to.equal(`(integer) ${5 << 20}`);
    const ttl = Number((await redis(port, ["TTL", "ttl-key"])).replace("(integer) ", ""));
    expect(ttl, "the TTL is kept (less the time since the backup)").to.be.greaterThan(0).and.at.most(3600);

    const pods = await core.listNamespacedPod({ namespace: ns.name });
    const logical = pods.items.filter((p) => p.metadata!.name!.startsWith("from-online1-logic"));
    expect(logical, "one logical restore pod").to.have.length(1);
    const log = await (await e2eCluster()).node.logs(ns.name, logical[0]!.metadata!.name!, "restore-0");
    expect(log).to.contain(`restored online1 into 127.0.0.1:${port}: 3113 keys in 2 databases`);
    expect(log, "the password never shows in the log").to.not.contain(PASSWORD);
    const events = await untilEventReasons(kc, ns.name, "from-online1", ["LogicalRestoring", "Completed"]);
    expect(events.map((e) => e.reason)).to.not.include("ScalingDown");
  });
});
