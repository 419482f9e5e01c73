// npm run test:chaos:size: chaos at size, once per seed (DP_CHAOS_SEEDS, default "1,2,3"). 50
// Backups, 10 RestoreJobs, deletions and a scheduled policy at once, while the operator is
// SIGKILLed every 1-3.5 s, kube-apiserver and etcd are each restarted once, and the S3 repo sits
// behind Toxiproxy (latency all the time, connection resets in bursts), for 5 minutes at least
// (DP_CHAOS_SIZE_MINUTES) so the schedule ticks several times under fire. Afterwards nothing is
// stuck, no Job has a twin, no tick ran twice, no restored byte differs and nothing was deleted
// that should stay. Each seed's figures are printed and written by this suite into its table in
// docs/reliability.md.
import { expect } from "chai";
import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { DataProtectionGroup, LabelBackupPolicy, StorageGroup, type Backup, type RestoreJob } from "@dataprotection/api";
import { startToxiproxy, type ToxiProxy, type ToxiproxyServer } from "@dataprotection/testenv";
import { s3Provider } from "../../packages/controllers/src/storageprovider/builtin/index.ts";
import { startS3Server, type S3Server } from "../../packages/storage/test/s3-server.ts";
import { e2eCluster, getCustom, operatorIdentity, testNamespace, until } from "../harness.ts";
import { jobsOf } from "../backup/fixtures.ts";
import { createRestoreJob, createStatefulSet, createTool, deleteClusterObjects, pvcHostPath, treeDigest, waitReady } from "../restore/seed.ts";
import { Chaos, rng } from "./chaos.ts";

const run = promisify(execFile);
const SEEDS = (process.env.DP_CHAOS_SEEDS ?? "1,2,3").split(",").map(Number);
const BACKUPS = Number(process.env.DP_CHAOS_SIZE_BACKUPS ?? "50");
const RESTORES = Number(process.env.DP_CHAOS_SIZE_RESTORES ?? "10");
const DELETIONS = Number(process.env.DP_CHAOS_SIZE_DELETIONS ?? "20");
const MINUTES = Number(process.env.DP_CHAOS_SIZE_MINUTES ?? "5");
const V = "v1alpha1";
const BUCKET = "chaos";
const REPO = "chaos-size-s3";
const TOOL = "chaos-size-volume";
const CONTROLLERS = ["backup", "restorejob", "backuppolicy", "backuprepo", "storageprovider"] as const;
const DOC = join(dirname(fileURLToPath(import.meta.url)), "../../docs/reliability.md");

/** Connection resets in bursts of 1-2 s every 4-9 s (seeded) on top of steady latency; counts the bursts. */
class StorageFaults {
  bursts = 0;
  private running = true;
  private loop?: Promise<void>;

  constructor(private readonly proxy: ToxiProxy, private readonly random: () => number) {}

  async start(): Promise<void> {
    await this.proxy.add({ name: "latency-up", type: "latency", stream: "upstream", attributes: { latency: 40, jitter: 20 } });
    await this.proxy.add({ name: "latency-down", type: "latency", stream: "downstream", attributes: { latency: 40, jitter: 20 } });
    this.loop = (async () => {
      while (this.running) {
        await new Promise((r) => setTimeout(r, 4000 + this.random() * 5000));
        if (!this.running) break;
        await this.proxy.add({ name: "resets", type: "reset_peer", stream: "upstream", attributes: { timeout: 200 } });
        this.bursts++;
        await new Promise((r) => setTimeout(r, 1000 + this.random() * 1000));
        await this.proxy.remove("resets");
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.proxy.clear();
  }
}

interface Figures {
  seed: number;
  operations: string;
  kills: number;
  storageBursts: number;
  restarts: string;
  completed: number;
  failedOnStorage: number;
  failedOther: number;
  stuck: number;
  twinJobs: number;
  scheduled: string;
  duplicateTicks: number;
  bytesDiffering: number;
  wrongDeletions: number;
  leftovers: number;
  minutes: number;
}

async function writeFigures(f: Figures): Promise<void> {
  const start = "<!-- chaos-at-size:start -->";
  const end = "<!-- chaos-at-size:end -->";
  const header = [
    start,
    "Written by `npm run test:chaos:size` (e2e/chaos/at-size.chaos.ts), one row per seed, replaced when that seed runs again.",
    "",
    "| seed | run | operations | faults: operator kills / S3 reset bursts / restarts | Backups Completed / Backups and RestoreJobs failed naming storage / failed otherwise | stuck | twin Jobs | scheduled Backups / minute ticks | duplicate ticks | bytes differing | wrong deletions | data left by deleted Backups |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  const row = `| ${f.seed} | ${new Date().toISOString().slice(0, 16)}Z, ${f.minutes.toFixed(1)} min, load ${loadavg()[0]!.toFixed(2)} | ${f.operations} | ${f.kills} / ${f.storageBursts} / ${f.restarts} | ${f.completed} / ${f.failedOnStorage} / ${f.failedOther} | ${f.stuck} | ${f.twinJobs} | ${f.scheduled} | ${f.duplicateTicks} | ${f.bytesDiffering} | ${f.wrongDeletions} | ${f.leftovers} |`;
  const doc = await readFile(DOC, "utf8");
  const i = doc.indexOf(start);
  const j = doc.indexOf(end);
  const rows = i >= 0 && j > i ? doc.slice(i, j).split("\n").filter((l) => /^\| \d+ \|/.test(l) && !l.startsWith(`| ${f.seed} |`)) : [];
  const table = [...header, ...[...rows, row].sort((a, b) => Number(a.split("|")[1]) - Number(b.split("|")[1])), end].join("\n");
  const next = i >= 0 && j > i ? doc.slice(0, i) + table + doc.slice(j + end.length) : `${doc.trimEnd()}\n\n## Chaos at size\n\n${table}\n`;
  await writeFile(DOC, next);
}

describe("chaos at size: 50 Backups, 10 RestoreJobs, deletions and a schedule under operator kills, API server and etcd restarts and S3 faults", function () {
  this.timeout(1_800_000);
  let kc: KubeConfig;
  let s3: S3Server;
  let toxi: ToxiproxyServer;
  let proxy: ToxiProxy;
  const custom = () => kc.makeApiClient(CustomObjectsApi);

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    s3 = await startS3Server([BUCKET]);
    toxi = await startToxiproxy();
    proxy = await toxi.proxy("chaos-s3", s3.endpoint);
    await kc.makeApiClient(CoreV1Api).createNamespacedSecret({ namespace: "default", body: { metadata: { name: REPO }, stringData: { accessKeyId: s3.accessKeyId, secretAccessKey: s3.secretAccessKey } } });
    await custom().createClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", body: s3Provider(REPO) });
    await custom().createClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", body: {
      apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupRepo", metadata: { name: REPO },
      spec: { storageProviderRef: REPO, accessMethod: "Tool", pvReclaimPolicy: "Retain", config: { bucket: BUCKET, endpoint: proxy.endpoint, forcePathStyle: "true" }, credential: { name: REPO, namespace: "default" } },
    } });
    // A short pause widens the window in which a kill lands mid-Job.
    await createTool(kc, TOOL, {
      env: [{ name: "DATA_DIR", value: "/data" }],
      backupCommands: ["sh", "-c", 'set -e; sleep 2; dp-agent push-dir "$DATA_DIR"'],
      physical: { restoreCommands: ['set -e\nfind "$DATA_DIR" -mindepth 1 -delete\ndp-agent pull-dir "$DATA_DIR"'] },
    });
  });

  after(async () => {
    await custom().deleteClusterCustomObject({ group: DataProtectionGroup, version: V, plural: "backuprepos", name: REPO }).catch(() => undefined);
    await custom().deleteClusterCustomObject({ group: StorageGroup, version: V, plural: "storageproviders", name: REPO }).catch(() => undefined);
    await kc.makeApiClient(CoreV1Api).deleteNamespacedSecret({ name: REPO, namespace: "default" }).catch(() => undefined);
    await deleteClusterObjects(kc, [], [TOOL]);
    await toxi?.stop();
    await s3?.stop();
  });

  for (const seed of SEEDS) {
    it(`seed ${seed}: nothing stuck, no twin Job, no duplicate tick, no byte differing, no wrong deletion`, async () => {
      const began = Date.now();
      const random = rng(seed);
      const ns = await testNamespace(kc, `chaos-size-${seed}`);
      const { controlPlane } = await e2eCluster();
      const chaos = new Chaos((await operatorIdentity(kc)).kubeconfigPath, rng(seed), [...CONTROLLERS]);
      const faults = new StorageFaults(proxy, rng(seed + 7919));
      const agentEnv = { ...process.env, DP_REPO_KIND: "s3", DP_S3_ENDPOINT: s3.endpoint, DP_S3_BUCKET: BUCKET, DP_S3_FORCE_PATH_STYLE: "true", AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey, AWS_REGION: "us-east-1" };
      const objectsOf = (name: string) => join(s3.dir, BUCKET, ns.name, name);
      try {
        // The source, and one fresh StatefulSet per restore.
        await createStatefulSet(kc, ns.name, "db", 1, { app: "db" });
        for (let i = 0; i < RESTORES; i++) await createStatefulSet(kc, ns.name, `r${i}`, 1, { app: `r${i}` });
        await waitReady(kc, ns.name, "db", 1);
        const dataDir = await pvcHostPath(kc, ns.name, "data-db-0");
        mkdirSync(join(dataDir, "sub"), { recursive: true });
        for (let i = 0; i < 20; i++) writeFileSync(join(dataDir, "sub", `f${i}.bin`), randomBytes(10_000 + i * 997));
        const original = treeDigest(dataDir);

        const policy = (name: string, extra: Record<string, unknown>) => custom().createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "backuppolicies", body: {
          apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupPolicy", metadata: { name },
          spec: { datafile: { backupToolName: TOOL, backupRepoName: REPO, onFailAttempted: 2, target: { labelsSelector: { matchLabels: { app: "db" } } }, ...extra } },
        } });
        await policy("manual", {});

        await chaos.start();
        await until(`BackupRepo ${REPO} Ready (kills so far: ${chaos.kills})`, async () => {
          const r = await getCustom<{ status?: { phase?: string } }>(kc, DataProtectionGroup, "backuprepos", undefined, REPO);
          return r?.status?.phase === "Ready" ? true : undefined;
        }, 180_000, 500);
        await faults.start();
        const scheduledFrom = Date.now();
        await custom().createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "backuppolicies", body: {
          apiVersion: `${DataProtectionGroup}/${V}`, kind: "BackupPolicy", metadata: { name: "sched" },
          spec: { schedule: { datafile: { enable: true, cronExpression: "* * * * *" } }, datafile: { backupToolName: TOOL, backupRepoName: REPO, onFailAttempted: 2, backupsHistoryLimit: 2, target: { labelsSelector: { matchLabels: { app: "db" } } } } },
        } });
        // Every scheduled Backup ever seen, to count ticks even after retention deleted some.
        const scheduledSeen = new Map<string, string>();
        let watching = true;
        const watcher = (async () => {
          while (watching) {
            const list = (await custom().listNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "backups", labelSelector: `${LabelBackupPolicy}=sched` }).catch(() => ({ items: [] }))) as { items: Backup[] };
            for (const b of list.items) scheduledSeen.set(b.metadata!.name!, b.metadata!.uid!);
            await new Promise((r) => setTimeout(r, 1000));
          }
        })();

        // 50 Backups; the API server restarts a third of the way, etcd two thirds.
        const names = Array.from({ length: BACKUPS }, (_, i) => `c${i}`);
        for (const [i, name] of names.entries()) {
          await until(`create Backup ${name}`, async () => {
            await custom().createNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "backups", body: {
              apiVersion: `${DataProtectionGroup}/${V}`, kind: "Backup", metadata: { name }, spec: { backupPolicyName: "manual", backupType: "datafile" },
            } }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
            return true;
          }, 60_000, 500);
          await new Promise((r) => setTimeout(r, 200 + random() * 300));
          if (i === Math.floor(BACKUPS / 3)) await controlPlane.restartApiServer();
          if (i === Math.floor((2 * BACKUPS) / 3)) await controlPlane.restartEtcd();
        }

        const terminal = async (plural: "backups" | "restorejobs", which: string[], what: string, ms: number) => {
          const deadline = Date.now() + ms;
          const out = new Map<string, Backup | RestoreJob>();
          for (const name of which) {
            const o = await until(`${what} ${name} finished (kills so far: ${chaos.kills})`, async () => {
              const x = await getCustom<Backup | RestoreJob>(kc, DataProtectionGroup, plural, ns.name, name);
              return x?.status?.phase === "Completed" || x?.status?.phase === "Failed" ? x : undefined;
            }, Math.max(1_000, deadline - Date.now()), 500).catch(() => undefined);
            if (o) out.set(name, o);
          }
          return out;
        };
        const backups = await terminal("backups", names, "Backup", 900_000);
        const completed = names.filter((n) => backups.get(n)?.status?.phase === "Completed");
        const failed = names.filter((n) => backups.get(n)?.status?.phase === "Failed");
        const onStorage = failed.filter((n) => /S3|storage|ECONNRESET|socket|reach/i.test(backups.get(n)?.status?.failureReason ?? ""));
        for (const n of failed) console.log(`      ${n} Failed: ${backups.get(n)?.status?.failureReason}`);
        let twinJobs = 0;
        for (const n of [...backups.keys()]) {
          const jobs = await jobsOf(kc, ns.name, n);
          if (jobs.length > ((backups.get(n) as Backup).status?.attempts ?? 0) + 1) twinJobs++;
        }

        // 10 restores of distinct completed backups and 20 deletions of others, at once, still under fire.
        const shuffled = [...completed].sort(() => random() - 0.5);
        const restoreFrom = shuffled.slice(0, RESTORES);
        const toDelete = shuffled.slice(RESTORES, RESTORES + DELETIONS);
        for (const i of restoreFrom.keys()) await waitReady(kc, ns.name, `r${i}`, 1);
        const restoreNames = restoreFrom.map((_, i) => `rj${i}`);
        for (const [i, from] of restoreFrom.entries()) {
          await until(`create RestoreJob rj${i}`, async () => {
            await createRestoreJob(kc, ns.name, `rj${i}`, { backupJobName: from, labels: { app: `r${i}` }, claim: `data-r${i}-0`, onFailAttempted: 2 }).catch((e: { code?: number }) => { if (e.code !== 409) throw e; });
            return true;
          }, 60_000, 500);
        }
        for (const name of toDelete) {
          await until(`delete Backup ${name}`, async () => {
            await custom().deleteNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "backups", name }).catch((e: { code?: number }) => { if (e.code !== 404) throw e; });
            return true;
          }, 60_000, 500);
        }
        const restores = await terminal("restorejobs", restoreNames, "RestoreJob", 600_000);
        let bytesDiffering = 0;
        for (const [i, name] of restoreNames.entries()) {
          const rj = restores.get(name);
          if (rj?.status?.phase !== "Completed") {
            console.log(`      ${name} ${rj?.status?.phase ?? "stuck"}: ${rj?.status?.failureReason ?? ""}`);
            continue;
          }
          const got = treeDigest(await pvcHostPath(kc, ns.name, `data-r${i}-0`));
          for (const k of new Set([...Object.keys(original), ...Object.keys(got)])) if (original[k] !== got[k]) bytesDiffering++;
        }
        const restoreFailed = restoreNames.filter((n) => restores.get(n)?.status?.phase === "Failed");
        // A repo the faults kept out of reach fails a restore StorageUnreachable: nothing was wrong with the backup.
        const restoreOnStorage = restoreFailed.filter((n) => /^StorageUnreachable: /.test(restores.get(n)?.status?.failureReason ?? ""));
        const restoreFailures = restoreFailed.length - restoreOnStorage.length;
        await until("the deleted Backups gone", async () => {
          for (const name of toDelete) if (await getCustom(kc, DataProtectionGroup, "backups", ns.name, name)) return undefined;
          return true;
        }, 300_000, 1000).catch(() => undefined);

        // The schedule and the faults go on for MINUTES in all, so the policy ticks several times under fire.
        await new Promise((r) => setTimeout(r, Math.max(0, began + MINUTES * 60_000 - Date.now())));
        watching = false;
        await watcher;
        await faults.stop();
        await chaos.calm();

        // What stayed must still be whole; what was deleted must be gone; no other Backup vanished.
        let wrongDeletions = 0;
        let leftovers = 0;
        for (const name of toDelete) if (existsSync(objectsOf(name))) leftovers++;
        const kept = completed.filter((n) => !toDelete.includes(n));
        for (const name of kept) {
          const there = await getCustom(kc, DataProtectionGroup, "backups", ns.name, name);
          if (!there || !existsSync(objectsOf(name))) {
            wrongDeletions++;
            continue;
          }
          await run("dp-agent", ["verify"], { env: { ...agentEnv, DP_BACKUP_PATH: `${ns.name}/${name}` } }).catch((e: Error) => {
            console.log(`      ${name} does not verify: ${e.message}`);
            bytesDiffering++;
          });
        }

        // Scheduled: one Backup per minute tick at most (names carry the tick), and retention kept 2.
        const ticks = Math.floor(Date.now() / 60_000) - Math.floor(scheduledFrom / 60_000);
        const perTick = new Map<string, number>();
        for (const name of scheduledSeen.keys()) {
          const tick = /(\d{12})$/.exec(name)?.[1] ?? name;
          perTick.set(tick, (perTick.get(tick) ?? 0) + 1);
        }
        const duplicateTicks = [...perTick.values()].filter((c) => c > 1).length + Math.max(0, scheduledSeen.size - (ticks + 1));

        // Nothing left InProgress, Running or New.
        const all = (await custom().listNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "backups" })) as { items: Backup[] };
        const rjs = (await custom().listNamespacedCustomObject({ group: DataProtectionGroup, version: V, namespace: ns.name, plural: "restorejobs" })) as { items: RestoreJob[] };
        const unfinished = [...all.items, ...rjs.items].filter((o) => !o.metadata?.deletionTimestamp && o.status?.phase !== "Completed" && o.status?.phase !== "Failed");
        // A scheduled Backup of the last tick may still run: it is not stuck unless older than 5 minutes.
        const stuck = unfinished.filter((o) => Date.now() - Date.parse(o.metadata!.creationTimestamp as unknown as string) > 300_000).length + (BACKUPS - backups.size) + (RESTORES - restores.size);

        const figures: Figures = {
          seed, operations: `${BACKUPS} Backups, ${restoreFrom.length} RestoreJobs, ${toDelete.length} deletions, ${scheduledSeen.size} scheduled`, kills: chaos.kills, storageBursts: faults.bursts, restarts: "kube-apiserver 1, etcd 1",
          completed: completed.length, failedOnStorage: onStorage.length + restoreOnStorage.length, failedOther: failed.length - onStorage.length + restoreFailures, stuck, twinJobs,
          scheduled: `${scheduledSeen.size} / ${ticks}`, duplicateTicks, bytesDiffering, wrongDeletions, leftovers, minutes: (Date.now() - began) / 60_000,
        };
        console.log(`      figures: ${JSON.stringify(figures)}`);
        await writeFigures(figures);
        expect(stuck, "stuck objects").to.equal(0);
        expect(twinJobs, "Backups with a twin Job").to.equal(0);
        expect(duplicateTicks, "ticks run twice").to.equal(0);
        expect(bytesDiffering, "restored or kept files differing").to.equal(0);
        expect(wrongDeletions, "kept Backups whose data is gone").to.equal(0);
        expect(leftovers, "deleted Backups whose data stayed").to.equal(0);
        expect(failed.length - onStorage.length, "Backups failed for a reason other than storage").to.equal(0);
        expect(restoreFailures, "RestoreJobs failed for a reason other than storage").to.equal(0);
        expect(restoreFrom.length - restoreFailed.length, "most RestoreJobs complete through the faults").to.be.greaterThan(restoreFrom.length / 2);
        expect(completed.length, "most Backups complete through the faults").to.be.greaterThan(BACKUPS / 2);
        expect(chaos.kills).to.be.greaterThan(3);
      } finally {
        await faults.stop().catch(() => undefined);
        await chaos.calm();
        await ns.cleanup();
        await chaos.stop();
      }
    });
  }
});
