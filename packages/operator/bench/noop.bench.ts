// npm run bench:noop (issue 19, "Scale"): N concurrent no-op datafile Backups (default 1,000),
// time from the first create to all Completed, against a minimal script that drives the same Job
// cycle directly in the same run: create the Job, wait for it to succeed, write the Backup's status.
//
// One private control plane with controller-manager, scheduler and the local node (so Jobs run),
// an audit log of the operator's requests only. The operator as shipped (dist/operator.js, every
// controller and the 3scale plugin) as a ServiceAccount (shared.ts). The cheapest Backup the
// product allows: a targetless BackupTool whose command is `true` (no target pod), the policy's
// own PersistentVolumeClaim as destination (a filesystem mount: no repo, no Secret, no seal
// container), no hooks, no schedule.
//
//   1. warm-up: the operator runs one Backup (it creates the policy's claim); its Job is the
//      template of the script's Jobs; the operator stops;
//   2. the script, in another namespace with the same claim: the admin creates N Backups (32 at a
//      time), the script creates each one's Job (the warm-up Job's spec, names substituted) and,
//      when the Job succeeded, writes the Backup's status Completed, with 4 requests in flight
//      (the Backup controller's 4 workers); the Jobs themselves all run at once, as the
//      operator's do (it does not limit running Jobs); then its Backups are deleted;
//   3. the operator starts again; once idle, the admin creates N Backups (32 at a time) and the
//      bench waits for all of them Completed.
// The script goes first, so leftovers (its Jobs and pods) weigh on the operator's run, not on it.
// Nothing passes or fails on time: the section gives the figures, their ratio and the load.
//
// BENCH_NOOP_BACKUPS (1000): N. BENCH_NOOP_TIMEOUT_SECONDS (900): per phase.
// Writes the "noop-backups" section of docs/benchmarks.md with --write.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { V1Job, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { BackupPhase, BackupType, crdDocuments, DataProtectionAPIVersion, LabelBackupName, type Backup, type BackupPolicy, type BackupTool } from "@dataprotection/api";
import { Kinds } from "@dataprotection/controllers";
import { KubeClient, type Kind, type KubeObject, type WatchEvent } from "@dataprotection/runtime";
import { freePort, installCrds, startControlPlane, startLocalNode } from "@dataprotection/testenv";
import { loadNow, machineFacts, median, OPERATOR_SA, OPERATOR_USER, operatorIdentity, operatorProgram, pct, pool, procStatus, sleep, stopChild, until, writeDocSection } from "./shared.ts";

const N = Number(process.env.BENCH_NOOP_BACKUPS ?? 1000);
const TIMEOUT_MS = Number(process.env.BENCH_NOOP_TIMEOUT_SECONDS ?? 900) * 1000;
/** How many Backups the admin creates at once (as bench:scale). */
const CREATE_CONCURRENCY = 32;
/** The Backup controller's workers (packages/controllers/src/backup/index.ts): the script's requests in flight. */
const WORKERS = 4;
const GOAL_RATIO = 1.5;
const OP_NS = "noop-op";
const REF_NS = "noop-ref";
const TOOL = "bench-true";
const POLICY = "noop";
const CLAIM = "noop-backups";
const WARMUP = "warmup0";
const program = operatorProgram();
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const log = (m: string): void => console.log(`[${elapsed()}] ${m}`);
const names = (prefix: string): string[] => Array.from({ length: N }, (_, i) => `${prefix}${String(i).padStart(4, "0")}`);
const jobSucceeded = (j: V1Job): boolean => !!j.status?.conditions?.some((c) => c.type === "Complete" && c.status === "True");
const jobFailed = (j: V1Job): boolean => !!j.status?.conditions?.some((c) => c.type === "Failed" && c.status === "True");

/** Watches one kind in a namespace from now on, resuming from the last resourceVersion when the API server closes the watch. */
async function watchFrom(client: KubeClient, kind: Kind, namespace: string, signal: AbortSignal, onEvent: (e: WatchEvent) => void): Promise<() => Promise<void>> {
  let rv = (await client.list(kind, { namespace, limit: 1 })).metadata.resourceVersion;
  const done = (async () => {
    while (!signal.aborted) {
      await client.watch(kind, { namespace, resourceVersion: rv, signal }, (e) => {
        rv = e.object.metadata.resourceVersion ?? rv;
        onEvent(e);
      }).catch(() => undefined);
      if (!signal.aborted) await sleep(100);
    }
  })();
  return () => done;
}

interface PhaseResult {
  seconds: number;
  completed: number;
  failed: number;
  /** create sent to Completed seen, per Backup, ms, ascending. */
  perBackup: number[];
  /** Backup create sent to its Job seen (ADDED), ms, ascending: the driver's start latency. */
  toJob: number[];
  /** Job seen succeeded to Backup seen Completed, ms, ascending: the driver's finish latency. */
  fromJob: number[];
  createSeconds: number;
  loadBefore: string;
  loadAfter: string;
}

/** Creates N Backups (32 at a time) and waits until every one is Completed or Failed, or the timeout; `onCreated` sees each. */
async function runBackups(admin: KubeClient, ns: string, prefix: string, onCreated?: (b: Backup & KubeObject) => void, isDone?: (name: string) => number | "failed" | undefined): Promise<PhaseResult> {
  const sent = new Map<string, number>();
  const doneAt = new Map<string, number>();
  const failed = new Set<string>();
  const abort = new AbortController();
  const stop = await watchFrom(admin, Kinds.Backup, ns, abort.signal, (e) => {
    if (e.type === "DELETED") return;
    const b = e.object as Backup & KubeObject;
    const name = b.metadata.name!;
    if (b.status?.phase === BackupPhase.Completed && !doneAt.has(name)) doneAt.set(name, performance.now());
    if (b.status?.phase === BackupPhase.Failed && !failed.has(name)) {
      failed.add(name);
      console.error(`Backup ${ns}/${name} Failed: ${b.status.failureReason ?? ""}`);
    }
  });
  // The Jobs: when each appeared and when it was seen succeeded (both phases label them with their Backup).
  const jobSeen = new Map<string, number>();
  const jobDone = new Map<string, number>();
  const stopJobs = await watchFrom(admin, Kinds.Job, ns, abort.signal, (e) => {
    const j = e.object as V1Job & KubeObject;
    const backup = j.metadata.labels?.[LabelBackupName];
    if (!backup || e.type === "DELETED") return;
    if (!jobSeen.has(backup)) jobSeen.set(backup, performance.now());
    if (jobSucceeded(j) && !jobDone.has(backup)) jobDone.set(backup, performance.now());
  });
  const loadBefore = loadNow();
  const t0 = performance.now();
  await pool(names(prefix), CREATE_CONCURRENCY, async (name) => {
    sent.set(name, performance.now());
    const b = await admin.create<Backup & KubeObject>(Kinds.Backup, {
      apiVersion: DataProtectionAPIVersion, kind: "Backup", metadata: { name, namespace: ns },
      spec: { backupPolicyName: POLICY, backupType: BackupType.Datafile },
    });
    onCreated?.(b);
  });
  const createSeconds = (performance.now() - t0) / 1000;
  let last = 0;
  while (doneAt.size + failed.size < N && performance.now() - t0 < TIMEOUT_MS) {
    await sleep(250);
    if (isDone) for (const n of sent.keys()) {
      const d = isDone(n);
      if (d === "failed") failed.add(n);
      else if (d !== undefined && !doneAt.has(n)) doneAt.set(n, d);
    }
    if (performance.now() - last > 30_000) {
      last = performance.now();
      log(`${ns}: ${doneAt.size} Completed, ${failed.size} Failed of ${N}; load ${loadNow()}`);
    }
  }
  const end = Math.max(...doneAt.values(), t0);
  abort.abort();
  await stop();
  await stopJobs();
  const perBackup = [...doneAt].map(([n, t]) => t - sent.get(n)!).sort((a, b) => a - b);
  const toJob = [...jobSeen].filter(([n]) => sent.has(n)).map(([n, t]) => t - sent.get(n)!).sort((a, b) => a - b);
  const fromJob = [...doneAt].filter(([n]) => jobDone.has(n)).map(([n, t]) => Math.max(0, t - jobDone.get(n)!)).sort((a, b) => a - b);
  return { seconds: (end - t0) / 1000, completed: doneAt.size, failed: failed.size, perBackup, toJob, fromJob, createSeconds, loadBefore, loadAfter: loadNow() };
}

interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string };
  requestReceivedTimestamp: string;
  responseStatus?: { code?: number };
}

const cp = await startControlPlane({
  auditPolicy: { apiVersion: "audit.k8s.io/v1", kind: "Policy", omitStages: ["RequestReceived", "ResponseStarted"], rules: [{ level: "Metadata", users: [OPERATOR_USER] }, { level: "None" }] },
});
const admin = new KubeClient(cp.kubeConfig);
let node: Awaited<ReturnType<typeof startLocalNode>> | undefined;
let operator: ChildProcess | undefined;
let port = 0;
const startOperator = async (): Promise<{ child: ChildProcess; syncSeconds: number }> => {
  port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, program.args, {
    env: { ...process.env, KUBECONFIG: kubeconfig, DP_METRICS_PORT: String(port), POD_NAMESPACE: OPERATOR_SA.namespace, POD_NAME: "bench-noop-0" },
    stdio: ["ignore", "ignore", "inherit"],
  });
  operator = child;
  await until("operator /readyz", async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined));
  return { child, syncSeconds: (performance.now() - t0) / 1000 };
};
let kubeconfig = "";
try {
  const loadStart = loadNow();
  node = await startLocalNode(cp);
  await installCrds(cp.kubeConfig, crdDocuments() as never);
  kubeconfig = await operatorIdentity(cp.kubeConfig, cp.dir);
  await admin.create<BackupTool & KubeObject>(Kinds.BackupTool, {
    apiVersion: DataProtectionAPIVersion, kind: "BackupTool", metadata: { name: TOOL },
    spec: { image: "busybox", deployKind: "job", type: "file", targetless: true, backupCommands: ["true"] },
  });
  for (const ns of [OP_NS, REF_NS]) {
    await admin.create(Kinds.Namespace, { metadata: { name: ns } });
    await admin.create<BackupPolicy & KubeObject>(Kinds.BackupPolicy, {
      apiVersion: DataProtectionAPIVersion, kind: "BackupPolicy", metadata: { name: POLICY, namespace: ns },
      spec: { datafile: { backupToolName: TOOL, backupsHistoryLimit: 0, target: { labelsSelector: {} }, persistentVolumeClaim: { name: CLAIM, initCapacity: "1Gi" } } },
    });
  }

  // 1. Warm-up: one Backup through the operator; its Job is the script's template.
  log("warm-up");
  const first = await startOperator();
  await admin.create<Backup & KubeObject>(Kinds.Backup, { apiVersion: DataProtectionAPIVersion, kind: "Backup", metadata: { name: WARMUP, namespace: OP_NS }, spec: { backupPolicyName: POLICY, backupType: BackupType.Datafile } });
  const warm = await until("warm-up Backup Completed", async () => {
    const b = await admin.get<Backup & KubeObject>(Kinds.Backup, WARMUP, OP_NS);
    if (b.status?.phase === BackupPhase.Failed) throw new Error(`warm-up Backup failed: ${b.status.failureReason}`);
    return b.status?.phase === BackupPhase.Completed ? b : undefined;
  }, 180_000).catch(async (e: unknown) => {
    const b = await admin.get<Backup & KubeObject>(Kinds.Backup, WARMUP, OP_NS).catch(() => undefined);
    throw new Error(`${e instanceof Error ? e.message : String(e)} (status ${JSON.stringify(b?.status ?? {}).slice(0, 800)})`);
  });
  await stopChild(first.child);
  const warmJobs = (await admin.list<V1Job & KubeObject>(Kinds.Job, { namespace: OP_NS })).items;
  if (warmJobs.length !== 1) throw new Error(`warm-up: ${warmJobs.length} Jobs, want 1`);
  const warmJob = warmJobs[0]!;
  // What the operator sent, without what the API server added (the generated selector and its pod labels).
  const generated = new Set(["controller-uid", "batch.kubernetes.io/controller-uid", "job-name", "batch.kubernetes.io/job-name"]);
  const podLabels = Object.fromEntries(Object.entries(warmJob.spec!.template.metadata?.labels ?? {}).filter(([k]) => !generated.has(k)));
  const template = JSON.stringify({
    apiVersion: "batch/v1", kind: "Job",
    metadata: { name: warmJob.metadata.name, namespace: REF_NS, labels: warmJob.metadata.labels },
    spec: { backoffLimit: warmJob.spec!.backoffLimit, template: { metadata: { labels: podLabels }, spec: warmJob.spec!.template.spec } },
  }).replaceAll(`"${OP_NS}"`, `"${REF_NS}"`).replaceAll(`/${OP_NS}/`, `/${REF_NS}/`);
  const jobFor = (b: Backup & KubeObject): V1Job & KubeObject => JSON.parse(template.replaceAll(WARMUP, b.metadata.name!).replaceAll(warm.metadata.uid!, b.metadata.uid!)) as V1Job & KubeObject;
  // The script's claim: the one the operator made, made by the admin in its namespace.
  const claim = await admin.get<V1PersistentVolumeClaim & KubeObject>(Kinds.PersistentVolumeClaim, CLAIM, OP_NS);
  await admin.create(Kinds.PersistentVolumeClaim, { metadata: { name: CLAIM, namespace: REF_NS, labels: claim.metadata.labels }, spec: { accessModes: claim.spec!.accessModes, resources: claim.spec!.resources, storageClassName: claim.spec!.storageClassName } } as never);
  await until("script claim Bound", async () => ((await admin.get<V1PersistentVolumeClaim & KubeObject>(Kinds.PersistentVolumeClaim, CLAIM, REF_NS)).status?.phase === "Bound" ? true : undefined));

  // 2. The script: create Job -> Job succeeded -> status Completed, WORKERS requests at a time.
  log(`script: ${N} Backups`);
  const queue: Array<() => Promise<void>> = [];
  const statusWritten = new Map<string, number>();
  const jobsFailed = new Set<string>();
  const jobOwner = new Map<string, string>();
  const statusQueued = new Set<string>();
  let scriptRequests = 0;
  const abortJobs = new AbortController();
  const stopJobs = await watchFrom(admin, Kinds.Job, REF_NS, abortJobs.signal, (e) => {
    const j = e.object as V1Job & KubeObject;
    const backup = jobOwner.get(j.metadata.name!);
    if (!backup || statusQueued.has(backup)) return;
    if (jobFailed(j)) jobsFailed.add(backup);
    if (!jobSucceeded(j)) return;
    statusQueued.add(backup);
    queue.push(async () => {
      scriptRequests++;
      await admin.patch(Kinds.Backup, backup, REF_NS, { status: { phase: BackupPhase.Completed, completionTimestamp: new Date().toISOString().replace(/\.\d{3}Z$/, "Z") } }, { subresource: "status" });
      statusWritten.set(backup, performance.now());
    });
  });
  let scripting = true;
  const workers = Array.from({ length: WORKERS }, async () => {
    while (scripting) {
      const next = queue.shift();
      if (next) await next().catch((e: unknown) => console.error(`script: ${e instanceof Error ? e.message : String(e)}`));
      else await sleep(5);
    }
  });
  const ref = await runBackups(admin, REF_NS, "r", (b) => {
    const job = jobFor(b);
    jobOwner.set(job.metadata.name!, b.metadata.name!);
    queue.push(async () => {
      scriptRequests++;
      await admin.create(Kinds.Job, job);
    });
  }, (name) => (jobsFailed.has(name) ? "failed" : statusWritten.get(name)));
  scripting = false;
  await Promise.all(workers);
  abortJobs.abort();
  await stopJobs();
  log(`script: ${ref.completed} Completed in ${ref.seconds.toFixed(1)} s`);
  // Its Backups go (no finalizer, no owner of its Jobs): the operator starts on Jobs and pods it does not own.
  await pool(names("r"), CREATE_CONCURRENCY, async (name) => {
    await admin.delete(Kinds.Backup, name, REF_NS);
  });
  await sleep(5000);

  // 3. The operator: N Backups at once.
  log(`operator: ${N} Backups`);
  const second = await startOperator();
  // Idle: every informer synced and every workqueue empty (the warm-up Backup reconciled again).
  await until("operator idle", async () => {
    const page = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    const depth = [...page.matchAll(/^workqueue_depth\{[^}]*\} (\S+)$/gm)].reduce((a, m) => a + Number(m[1]), 0);
    return depth === 0 ? true : undefined;
  });
  await sleep(3000);
  const pid = second.child.pid!;
  const cpu0 = procStatus(pid).cpu;
  const opFrom = Date.now();
  let rssMax = 0;
  const rssTimer = setInterval(() => (rssMax = Math.max(rssMax, procStatus(pid).rss)), 1000);
  const op = await runBackups(admin, OP_NS, "b");
  clearInterval(rssTimer);
  const opTo = Date.now();
  const cpu = procStatus(pid).cpu - cpu0;
  const peak = procStatus(pid).hwm;
  await sleep(3000);
  await stopChild(second.child);
  log(`operator: ${op.completed} Completed in ${op.seconds.toFixed(1)} s`);

  // What the operator did: Jobs per Backup, and its requests from the audit log.
  const jobs = (await admin.listAll<V1Job & KubeObject>(Kinds.Job, { namespace: OP_NS })).items.filter((j) => j.metadata.name?.startsWith("b"));
  const perBackupJobs = new Map<string, number>();
  for (const j of jobs) {
    const owner = j.metadata.ownerReferences?.[0]?.name ?? "?";
    perBackupJobs.set(owner, (perBackupJobs.get(owner) ?? 0) + 1);
  }
  const twins = [...perBackupJobs.values()].filter((c) => c > 1).length;
  const events = (await readFile(cp.auditLogPath!, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditEvent)
    .filter((e) => e.user?.username === OPERATOR_USER && e.objectRef?.resource !== "leases")
    .filter((e) => { const t = Date.parse(e.requestReceivedTimestamp); return t >= opFrom && t <= opTo + 3000; });
  const what = (e: AuditEvent): string => `${e.verb} ${e.objectRef?.resource ?? "?"}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""}${(e.responseStatus?.code ?? 200) >= 300 ? ` answered ${e.responseStatus?.code}` : ""}`;
  const writes = events.filter((e) => ["create", "update", "patch", "delete"].includes(e.verb));
  const counted = (xs: AuditEvent[]): string => {
    const m = new Map<string, number>();
    for (const e of xs) m.set(what(e), (m.get(what(e)) ?? 0) + 1);
    return [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
  };
  const refused = events.filter((e) => (e.responseStatus?.code ?? 200) >= 400);
  const gets = events.filter((e) => e.verb === "get").length;
  const lists = events.filter((e) => e.verb === "list").length;

  // ---- the section ----
  const f = (x: number, d = 1): string => x.toFixed(d);
  const s = (ms: number | undefined): string => (ms === undefined ? "-" : f(ms / 1000));
  const ratio = ref.completed === N && op.completed === N ? op.seconds / ref.seconds : undefined;
  const row = (what: string, r: PhaseResult, extra: string) =>
    `| ${what} | ${r.completed} / ${N} | ${r.failed} | ${f(r.createSeconds)} | ${f(r.seconds)} | ${s(pct(r.perBackup, 50))} | ${s(pct(r.perBackup, 99))} | ${s(r.perBackup[r.perBackup.length - 1])} | ${ms(r.toJob)} | ${ms(r.fromJob)} | ${r.loadBefore} / ${r.loadAfter} | ${extra} |`;
  const ms = (xs: number[]): string => (xs.length ? `${f(pct(xs, 50), 0)} / ${f(pct(xs, 99), 0)}` : "-");
  const lines = [
    `\`npm run bench:noop\` (${N.toLocaleString("en")} concurrent no-op datafile Backups, private control plane with controller-manager, scheduler and one local node), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC. Written by the bench; the next run replaces this section.`,
    "",
    `Machine (read by the bench): ${machineFacts()}; load (1/5/15 min) ${loadStart} at the start, per phase below. The local node admits 110 pods at a time (its Node's capacity), so of N Jobs at most 110 pods run at once and the rest wait for the scheduler; both phases share that limit.`,
    `Program: ${program.what}, every controller and the 3scale plugin, as a ServiceAccount bound to cluster-admin, leader-elected, default log level. The Backup: a targetless BackupTool whose command is \`true\` (image busybox; the node runs the host's sh and true), a policy without target pod, schedule or hooks, its own PersistentVolumeClaim (${CLAIM}, local-path) as destination, so the tool pod mounts it and no repo, Secret copy or seal container is involved. Backups are created by the admin, ${CREATE_CONCURRENCY} at a time; "to all Completed" is the first create sent to the last Completed seen by the bench's watch.`,
    `Reference, in the same run and before the operator's phase: a script in this bench on another namespace with the same claim (made by the admin) creates each Backup's Job, the warm-up Job's spec as the operator built it with names and uid substituted (no ownerReference), and when the Job succeeded writes the Backup's status Completed, ${WORKERS} requests in flight (the Backup controller's workers); its Jobs run all at once, as the operator's do. It made ${scriptRequests} requests (a Job create and a status write per Backup). Operator start to synced: warm-up ${f(first.syncSeconds, 2)} s, measured run ${f(second.syncSeconds, 2)} s (not in the figures).`,
    "",
    "| phase | Completed | Failed | creates s | to all Completed s | per Backup p50 s | p99 s | max s | create to Job ms p50 / p99 | Job succeeded to Completed ms p50 / p99 | load before / after (1/5/15 min) | notes |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|",
    row("script (create Job, wait, write status)", ref, `${jobsFailed.size} Jobs failed`),
    row("operator", op, `CPU ${f(cpu)} s, RSS max ${f(Math.max(rssMax, 0) / 1024 / 1024, 0)} MiB (peak ${f(peak / 1024 / 1024, 0)})`),
    "",
    `Operator / script, time to all Completed: ${ratio !== undefined ? `${f(ratio, 2)}x` : "not measured (a phase did not complete every Backup)"} (goal <= ${GOAL_RATIO}: ${ratio === undefined ? "not measured" : ratio <= GOAL_RATIO ? "met" : "not met"}). Per-Backup median, operator / script: ${op.perBackup.length && ref.perBackup.length ? `${f(median(op.perBackup) / median(ref.perBackup), 2)}x` : "-"}. Both totals are mostly the cluster's: the Jobs' pods (at most 110 at once on the node, the Job controller's and scheduler's rates, the node starting each); what the driver itself adds is in the two latency columns, as the bench's watch saw them (Backup create sent to its Job ADDED; the Job's Complete condition to the Backup's Completed).`,
    `The operator's run: ${jobs.length} Jobs for ${N} Backups (${twins} Backups with more than one); its requests from the audit log over the run (Lease renewals aside): ${events.length} (${f(events.length / N)} per Backup), of which writes ${writes.length} (${f(writes.length / N)} per Backup: ${counted(writes)}), GETs ${gets}, LISTs ${lists}; answered 4xx/5xx: ${refused.length ? counted(refused) : "none"}.`,
    "",
    `Whole run (\`npm run bench:noop\` after its build): ${elapsed()}.`,
  ];
  const section = `<!-- noop-backups:begin -->\n## noop-backups\n\n${lines.join("\n")}\n<!-- noop-backups:end -->`;
  console.log(section);
  if (process.argv.includes("--write")) console.log(`wrote the noop-backups section of ${await writeDocSection("noop-backups", section)}`);
} finally {
  if (operator) await stopChild(operator);
  admin.close();
  await node?.stop();
  await cp.stop();
}
