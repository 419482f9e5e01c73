// The built-in redis-rdb tool end to end: a real Redis 7.0 server runs as a one-replica
// StatefulSet on the local node (data in /data on its PVC, requirepass), the operator backs it
// up with redis-cli --rdb through dp-agent, keys change, and a physical RestoreJob puts the RDB
// back into the scaled-down StatefulSet: with appendonly no (dump.rdb is loaded) and with
// appendonly yes (the AOF directory is replaced, else Redis would load the newer AOF).
import { expect } from "chai";
import { execFile } from "node:child_process";
import { readdir } from "node:fs/promises";
import { promisify } from "node:util";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Operator } from "@dataprotection/controllers";
import { redisRdbTool } from "@dataprotection/tools";
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

/**
 * A one-replica StatefulSet "redis" running redis-server as the redis user on `port` with its
 * `dir` /data on the PVC data-redis-0; an init container, as root, gives the user /data.
 */
async function createRedis(kc: KubeConfig, ns: string, port: number, ids: { uid: number; gid: number }, appendonly: boolean): Promise<void> {
  const labels = { app: "redis", "app.kubernetes.io/instance": "redis-cluster" };
  const server = [
    "set -e",
    `exec redis-server --port ${port} --bind 127.0.0.1 --dir /data --requirepass "$REDIS_PW" --appendonly ${appendonly ? "yes" : "no"}`
      + " --save '3600 1' --enable-debug-command local --protected-mode no --logfile ''",
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
});
