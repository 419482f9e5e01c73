// npm run bench:scale (issue 19): the operator as shipped (dist/operator.js, every controller and
// the 3scale plugin, as a ServiceAccount) started against a private control plane that
// holds 1,000 BackupPolicies and 10,000 Completed Backups: time from spawn to every informer
// synced (/readyz answering 200), resident memory when synced, 30 s later and at its peak, and
// how long the first pass over everything takes. In-run references: the same program on an
// empty cluster (its fixed cost), and bare node processes that only LIST the same objects with
// @kubernetes/client-node and hold them (the floor), as listed and with managedFields dropped.
// Then, on a second control plane with controller-manager, scheduler, the local node and an
// audit log: the API writes the same operator makes per completed datafile Backup, and whether it
// LISTs anything after its caches synced.
// Writes the "scale" section of docs/benchmarks.md with --write.
//
// BENCH_POLICIES (1000), BENCH_BACKUPS (10000), BENCH_SETTLE_SECONDS (30), BENCH_AUDIT_BACKUPS (4)
// change the sizes.
import { spawn, type ChildProcess } from "node:child_process";
import { readFile } from "node:fs/promises";
import { cpus, loadavg, totalmem } from "node:os";
import {
  AnnotationRunAsRoot, BackupPhase, BackupType, crdDocuments, DataProtectionAPIVersion, DataProtectionGroup, Finalizer, LabelAutoBackup, LabelBackupPolicy, LabelBackupType,
  type Backup, type BackupPolicy, type BackupTool,
} from "@dataprotection/api";
import { Kinds, localPvcProvider } from "@dataprotection/controllers";
import { KubeClient, type KubeObject } from "@dataprotection/runtime";
import { freePort, installCrds, PROJECT_IMAGES, startControlPlane, startLocalNode } from "@dataprotection/testenv";
import { median, OPERATOR_USER, operatorIdentity, operatorProgram, pool, procStatus, repoRoot as root, sleep, stopChild, until, writeDocSection } from "./shared.ts";

const POLICIES = Number(process.env.BENCH_POLICIES ?? 1000);
const BACKUPS = Number(process.env.BENCH_BACKUPS ?? 10_000);
const SETTLE_MS = Number(process.env.BENCH_SETTLE_SECONDS ?? 30) * 1000;
const CONCURRENCY = 32;
const NS = "bench-scale";
const TOOL = "bench-noop";
const GOAL_RSS_MIB = 150;
const GOAL_SYNC_S = 5;
const MiB = 1024 * 1024;
const RUNS = Number(process.env.BENCH_RUNS ?? 3);


// The program as shipped; tsx only when no bundle was built (the section says which ran).
const program = operatorProgram();
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(0)} s`;

/** The values of one metric (summed over its labels, or those matching `labels`) from a Prometheus text page. */
function metric(page: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of page.split("\n")) {
    if (!line.startsWith(name) || (line[name.length] !== " " && line[name.length] !== "{")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

interface OperatorRun {
  syncSeconds: number;
  rssSynced: number;
  rssSettled: number;
  peak: number;
  cpuSeconds: number;
  /** Spawn to the first moment every Backup and policy had been reconciled once and the queues were empty (undefined: not within the settle window). */
  firstPassSeconds?: number;
  heapUsed: number;
  heapTotal: number;
  /** V8 heap used and VmRSS 1 s after a full GC the bench asks for once the settled figures are taken: what is live. */
  heapUsedAfterGc: number;
  rssAfterGc: number;
  reconciles: Record<string, number>;
  seconds: number;
}

// Lets the bench ask for a full GC (SIGUSR2) after it has taken the settled figures; nothing else
// in the program changes (the operator handles SIGTERM and SIGINT only).
const GC_ON_SIGNAL = ["--expose-gc", "--import", `data:text/javascript,${encodeURIComponent('process.on("SIGUSR2", () => globalThis.gc());')}`];

/** Spawns the operator, waits for /readyz, then SETTLE_MS; samples /proc and /metrics. */
async function runOperator(kubeconfig: string, expect: { backups: number; policies: number }): Promise<OperatorRun> {
  const port = await freePort();
  const t0 = performance.now();
  const child = spawn(process.execPath, [...GC_ON_SIGNAL, ...program.args], {
    env: { ...process.env, KUBECONFIG: kubeconfig, DP_METRICS_PORT: String(port), POD_NAMESPACE: "dataprotection-system", POD_NAME: "bench-scale-0" },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  const pid = child.pid!;
  try {
    for (;;) {
      if (child.exitCode !== null) throw new Error(`operator exited ${child.exitCode}: ${stderr}`);
      if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false)) break;
      if (performance.now() - t0 > 120_000) throw new Error(`operator not ready in 120 s: ${stderr}`);
      await sleep(20);
    }
    const tSync = performance.now();
    const syncSeconds = (tSync - t0) / 1000;
    const rssSynced = procStatus(pid).rss;
    let firstPassSeconds: number | undefined;
    let page = "";
    while (performance.now() - tSync < SETTLE_MS) {
      await sleep(1000);
      page = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => page);
      const done = (c: string) => metric(page, "controller_runtime_reconcile_total", { controller: c });
      if (firstPassSeconds === undefined && done("backup") >= expect.backups && done("backuppolicy") >= expect.policies && metric(page, "workqueue_depth") === 0) {
        firstPassSeconds = (performance.now() - t0) / 1000;
      }
    }
    const end = procStatus(pid);
    page = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    child.kill("SIGUSR2");
    await sleep(1000);
    const afterGc = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text());
    const rssAfterGc = procStatus(pid).rss;
    const reconciles: Record<string, number> = {};
    for (const m of page.matchAll(/^controller_runtime_reconcile_total\{[^}]*controller="([^"]+)"[^}]*\} (\S+)$/gm)) reconciles[m[1]!] = (reconciles[m[1]!] ?? 0) + Number(m[2]);
    return {
      syncSeconds, rssSynced, rssSettled: end.rss, peak: end.hwm, cpuSeconds: end.cpu, firstPassSeconds, reconciles,
      heapUsed: metric(page, "nodejs_heap_size_used_bytes"), heapTotal: metric(page, "nodejs_heap_size_total_bytes"),
      heapUsedAfterGc: metric(afterGc, "nodejs_heap_size_used_bytes"), rssAfterGc,
      seconds: (performance.now() - t0) / 1000,
    };
  } finally {
    await stopChild(child);
  }
}

// The floor: a bare node process (no tsx, no operator code) that LISTs the objects with
// @kubernetes/client-node in pages of 500, as the operator's informers do, and holds them.
const FLOOR_SCRIPT = `
import { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";
const kc = new KubeConfig();
kc.loadFromDefault();
const api = kc.makeApiClient(CustomObjectsApi);
const held = [];
const plurals = process.env.FLOOR_PLURALS ? process.env.FLOOR_PLURALS.split(",") : [];
for (const plural of plurals) {
  let cont;
  do {
    const page = await api.listClusterCustomObject({ group: "${DataProtectionGroup}", version: "v1alpha1", plural, limit: 500, _continue: cont });
    for (const it of page.items) {
      if (process.env.FLOOR_STRIP === "1") delete it.metadata.managedFields;
      held.push(it);
    }
    cont = page.metadata?.continue || undefined;
  } while (cont);
}
globalThis.held = held;
const report = (gc) => console.log(JSON.stringify({ held: held.length, heapUsed: process.memoryUsage().heapUsed, gc }));
report(false);
setInterval(() => report(false), 1000);
process.on("SIGUSR2", () => { globalThis.gc(); report(true); });
`;

interface FloorRun { held: number; listSeconds: number; rssListed: number; rssSettled: number; peak: number; heapUsed: number; heapUsedAfterGc: number }

async function runFloor(kubeconfig: string, plurals: string[], strip: boolean): Promise<FloorRun> {
  const t0 = performance.now();
  const child = spawn(process.execPath, ["--expose-gc", "--input-type=module", "-e", FLOOR_SCRIPT], {
    cwd: root, env: { ...process.env, KUBECONFIG: kubeconfig, FLOOR_PLURALS: plurals.join(","), FLOOR_STRIP: strip ? "1" : "0" }, stdio: ["ignore", "pipe", "pipe"],
  });
  let last: { held: number; heapUsed: number; gc: boolean } | undefined;
  let afterGc: { heapUsed: number } | undefined;
  let stderr = "";
  let listed: (() => void) | undefined;
  const isListed = new Promise<void>((r) => (listed = r));
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    for (let nl = out.indexOf("\n"); nl >= 0; nl = out.indexOf("\n")) {
      const report = JSON.parse(out.slice(0, nl)) as { held: number; heapUsed: number; gc: boolean };
      if (report.gc) afterGc = report;
      else last = report;
      out = out.slice(nl + 1);
      listed?.();
    }
  });
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  try {
    await Promise.race([isListed, new Promise((_, reject) => child.once("exit", (c) => reject(new Error(`floor exited ${c}: ${stderr}`))))]);
    const listSeconds = (performance.now() - t0) / 1000;
    const rssListed = procStatus(child.pid!).rss;
    await sleep(SETTLE_MS);
    const end = procStatus(child.pid!);
    const settled = last!;
    child.kill("SIGUSR2");
    for (let i = 0; !afterGc; i++) {
      if (i > 200) throw new Error(`floor: no report after its GC: ${stderr}`);
      await sleep(50);
    }
    return { held: settled.held, listSeconds, rssListed, rssSettled: end.rss, peak: end.hwm, heapUsed: settled.heapUsed, heapUsedAfterGc: afterGc.heapUsed };
  } finally {
    await stopChild(child);
  }
}

// ---- the run ----

// ---- API writes per completed datafile Backup, from kube-apiserver's audit log ----

const AUDIT_BACKUPS = Number(process.env.BENCH_AUDIT_BACKUPS ?? 4);
const WRITE_VERBS = new Set(["create", "update", "patch", "delete", "deletecollection"]);
const GOAL_WRITES = 8;

interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; namespace?: string; name?: string; apiGroup?: string };
  requestReceivedTimestamp: string;
  responseStatus?: { code?: number };
}

/**
 * A control plane with controller-manager, scheduler, the local node and an audit log; the
 * operator (same program, same identity) backs up a PVC through a repo, one Backup at a time;
 * every request the operator's identity made is read back from the audit log.
 */
async function writesPart(): Promise<string[]> {
  const cp = await startControlPlane({
    auditPolicy: { apiVersion: "audit.k8s.io/v1", kind: "Policy", omitStages: ["RequestReceived", "ResponseStarted"], rules: [{ level: "Metadata" }] },
  });
  const admin = new KubeClient(cp.kubeConfig);
  let node: Awaited<ReturnType<typeof startLocalNode>> | undefined;
  let operator: ChildProcess | undefined;
  try {
    node = await startLocalNode(cp, { images: PROJECT_IMAGES });
    await installCrds(cp.kubeConfig, crdDocuments() as never);
    const kubeconfig = await operatorIdentity(cp.kubeConfig, cp.dir);
    const ns = "bench-writes";
    // An unencrypted filesystem repo on the local node's volumes, a tool that backs up the
    // target's /data with dp-agent (as the built-in volume tool), a target pod and a policy.
    await admin.create(Kinds.StorageProvider, localPvcProvider("bench-local-pvc") as never);
    await admin.create(Kinds.BackupRepo, { apiVersion: DataProtectionAPIVersion, kind: "BackupRepo", metadata: { name: "bench-repo" }, spec: { storageProviderRef: "bench-local-pvc", pvReclaimPolicy: "Delete", volumeCapacity: "1Gi" } } as never);
    await admin.create<BackupTool & KubeObject>(Kinds.BackupTool, {
      apiVersion: DataProtectionAPIVersion, kind: "BackupTool", metadata: { name: "bench-volume", annotations: { [AnnotationRunAsRoot]: "true" } },
      spec: { image: "ghcr.io/dataprotection/operator:0.1.0", deployKind: "job", type: "file", backupCommands: ["sh", "-c", 'set -e; dp-agent push-dir "${DATA_DIR:-/data}"'] },
    });
    await admin.create(Kinds.Namespace, { metadata: { name: ns } });
    await admin.create(Kinds.PersistentVolumeClaim, { metadata: { name: "data", namespace: ns }, spec: { accessModes: ["ReadWriteOnce"], resources: { requests: { storage: "100Mi" } } } } as never);
    await admin.create(Kinds.Pod, { metadata: { name: "db-0", namespace: ns, labels: { app: "db" } }, spec: {
      containers: [{ name: "db", image: "postgres:14", command: ["sh", "-c", "mkdir -p /data/d && for i in 1 2 3 4 5 6 7 8; do head -c 65536 /dev/urandom > /data/d/f$i; done && exec sleep 100000"], volumeMounts: [{ name: "data", mountPath: "/data" }] }],
      volumes: [{ name: "data", persistentVolumeClaim: { claimName: "data" } }], terminationGracePeriodSeconds: 1,
    } } as never);
    await admin.create<BackupPolicy & KubeObject>(Kinds.BackupPolicy, {
      apiVersion: DataProtectionAPIVersion, kind: "BackupPolicy", metadata: { name: "daily", namespace: ns },
      spec: { datafile: { backupToolName: "bench-volume", backupRepoName: "bench-repo", backupsHistoryLimit: 0, target: { labelsSelector: { matchLabels: { app: "db" } } } } },
    });
    await until("target pod Running", async () => ((await admin.get<KubeObject & { status?: { phase?: string } }>(Kinds.Pod, "db-0", ns)).status?.phase === "Running" ? true : undefined));

    const port = await freePort();
    const opStart = Date.now();
    operator = spawn(process.execPath, program.args, {
      env: { ...process.env, KUBECONFIG: kubeconfig, DP_METRICS_PORT: String(port), POD_NAMESPACE: "dataprotection-system", POD_NAME: "bench-writes-0" },
      stdio: ["ignore", "ignore", "inherit"],
    });
    await until("operator /readyz", async () => ((await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined));
    const synced = Date.now();
    await until("BackupRepo Ready", async () => ((await admin.get<KubeObject & { status?: { phase?: string } }>(Kinds.BackupRepo, "bench-repo")).status?.phase === "Ready" ? true : undefined));
    await until("BackupPolicy Available", async () => ((await admin.get<BackupPolicy & KubeObject>(Kinds.BackupPolicy, "daily", ns)).status?.phase === "Available" ? true : undefined));
    await sleep(3000);

    // One Backup at a time; its window runs from its create to 3 s after it was seen Completed
    // (Events are written after the status).
    const windows: Array<{ name: string; from: number; to: number; seconds: number }> = [];
    for (let i = 1; i <= AUDIT_BACKUPS; i++) {
      const name = `b${i}`;
      const from = Date.now();
      await admin.create<Backup & KubeObject>(Kinds.Backup, { apiVersion: DataProtectionAPIVersion, kind: "Backup", metadata: { name, namespace: ns }, spec: { backupPolicyName: "daily", backupType: BackupType.Datafile } });
      await until(`Backup ${name} Completed`, async () => {
        const b = await admin.get<Backup & KubeObject>(Kinds.Backup, name, ns);
        if (b.status?.phase === BackupPhase.Failed) throw new Error(`Backup ${name} failed: ${b.status.failureReason}`);
        return b.status?.phase === BackupPhase.Completed ? true : undefined;
      }, 180_000).catch(async (e: unknown) => {
        const b = await admin.get<Backup & KubeObject>(Kinds.Backup, name, ns).catch(() => undefined);
        throw new Error(`${e instanceof Error ? e.message : String(e)} (status ${JSON.stringify(b?.status ?? {}).slice(0, 600)})`);
      });
      const done = Date.now();
      await sleep(3000);
      windows.push({ name, from, to: Date.now(), seconds: (done - from) / 1000 });
    }
    // Then idle, to see what the operator does on its own.
    const idleFrom = Date.now();
    // Longer than the Backup controller's 60 s resync.
    const IDLE_MS = 65_000;
    await sleep(IDLE_MS);
    const idleTo = Date.now();
    await stopChild(operator);

    const user = OPERATOR_USER;
    const events = (await readFile(cp.auditLogPath!, "utf8")).split("\n").filter(Boolean).map((l) => JSON.parse(l) as AuditEvent).filter((e) => e.user?.username === user);
    const at = (e: AuditEvent) => Date.parse(e.requestReceivedTimestamp);
    // A request the API server refused (a 409 on a create, say) still counts, with its answer shown.
    const what = (e: AuditEvent) => `${e.verb} ${e.objectRef?.resource ?? "?"}${e.objectRef?.subresource ? `/${e.objectRef.subresource}` : ""}${(e.responseStatus?.code ?? 200) >= 300 ? ` answered ${e.responseStatus?.code}` : ""}`;
    const isLease = (e: AuditEvent) => e.objectRef?.resource === "leases";
    const writes = (from: number, to: number) => events.filter((e) => WRITE_VERBS.has(e.verb) && !isLease(e) && at(e) >= from && at(e) < to);
    const count = (xs: AuditEvent[]) => {
      const m = new Map<string, number>();
      for (const e of xs) m.set(what(e), (m.get(what(e)) ?? 0) + 1);
      return [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");
    };
    const lists = (from: number, to: number) => events.filter((e) => e.verb === "list" && at(e) >= from && at(e) < to);
    const perBackup = windows.map((w) => ({ ...w, writes: writes(w.from, w.to), gets: events.filter((e) => e.verb === "get" && at(e) >= w.from && at(e) < w.to).length }));
    const later = perBackup.slice(1);
    const worst = Math.max(...later.map((b) => b.writes.length));
    // Each LIST after the caches synced, by resource, answer and when (during which Backup, or idle).
    const listsAfterSync = lists(synced + 1000, idleTo);
    const when = (e: AuditEvent) => windows.find((w) => at(e) >= w.from && at(e) < w.to)?.name ?? (at(e) >= idleFrom ? "idle" : "setup");
    const listLines = (() => {
      const m = new Map<string, number>();
      for (const e of listsAfterSync) {
        const k = `${e.objectRef?.resource ?? "?"} (${when(e)}, ${e.responseStatus?.code ?? "?"})`;
        m.set(k, (m.get(k) ?? 0) + 1);
      }
      return [...m].map(([k, v]) => `${k} ${v}`).join(", ");
    })();
    // Periodic: a LIST of a served kind while nothing happens.
    const idleLists = listsAfterSync.filter((e) => at(e) >= idleFrom && e.responseStatus?.code === 200);
    const leaseWrites = events.filter((e) => WRITE_VERBS.has(e.verb) && isLease(e) && at(e) >= idleFrom && at(e) < idleTo).length;
    const idleWrites = writes(idleFrom, idleTo);
    return [
      `API writes per completed datafile Backup, from kube-apiserver's audit log (policy: every request at level Metadata): a second private control plane with controller-manager, scheduler and the local node; the same operator program and identity, every controller; an unencrypted filesystem BackupRepo on the node's volumes (localPvcProvider), a tool like the built-in volume tool (\`dp-agent push-dir /data\`), a target pod with 8 files of 64 KiB, a policy without schedule; ${AUDIT_BACKUPS} Backups created by the admin one at a time, each window from its create to 3 s after it was seen Completed. Counted: the operator's creates, updates, patches and deletes (its ServiceAccount; the tool pod, controller-manager, scheduler and node write as others), leader-election Lease renewals aside.`,
      "",
      "| Backup | create to Completed s | operator writes | of which | operator GETs |",
      "|---|---:|---:|---|---:|",
      ...perBackup.map((b, i) => `| ${b.name}${i === 0 ? " (first in the namespace)" : ""} | ${b.seconds.toFixed(1)} | ${b.writes.length} | ${count(b.writes)} | ${b.gets} |`),
      "",
      `Operator LIST requests after its caches synced, to the end of a ${IDLE_MS / 1000} s idle tail after the last Backup (resource (when, HTTP answer) count): ${listsAfterSync.length ? listLines : "none"}. In the idle tail: ${idleWrites.length} writes${idleWrites.length ? ` (${count(idleWrites)})` : ""}, ${leaseWrites} Lease renewals. Operator up ${((idleTo - opStart) / 1000).toFixed(0)} s in all.`,
      `Goals: <= ${GOAL_WRITES} writes per completed datafile Backup (the worst after the first, which also sets up the repo's claim in the namespace: ${worst}; the first: ${perBackup[0]!.writes.length}): ${worst <= GOAL_WRITES ? "met" : "missed"}${perBackup[0]!.writes.length > GOAL_WRITES ? " (the first is over)" : ""}; no periodic LISTs (a LIST of a served kind answered 200 in the idle tail): ${idleLists.length === 0 ? "met" : `missed (${count(idleLists)})`}.`,
    ];
  } finally {
    if (operator) await stopChild(operator);
    admin.close();
    await node?.stop();
    await cp.stop();
  }
}

async function scalePart(): Promise<string[]> {
  const cp = await startControlPlane({ controllerManager: false, scheduler: false });
  const admin = new KubeClient(cp.kubeConfig);
  try {
    const loadStart = loadavg();
    await installCrds(cp.kubeConfig, crdDocuments() as never);
    const operatorKubeconfig = await operatorIdentity(cp.kubeConfig, cp.dir);
    await admin.create(Kinds.Namespace, { metadata: { name: NS } });
    await admin.create<BackupTool & KubeObject>(Kinds.BackupTool, { apiVersion: DataProtectionAPIVersion, kind: "BackupTool", metadata: { name: TOOL }, spec: { image: "busybox", deployKind: "job", type: "file", backupCommands: ["true"] } });

    // The same program on an empty cluster (only the tool): what it costs before any object.
    console.log(`[${elapsed()}] operator, empty cluster`);
    const idle = await runOperator(operatorKubeconfig, { backups: 0, policies: 0 });

    // 1,000 policies, each with a yearly schedule six months away (it never fires during the run).
    const month = ((new Date().getUTCMonth() + 6) % 12) + 1;
    const cron = `0 3 15 ${month} *`;
    const policyNames = Array.from({ length: POLICIES }, (_, i) => `p${String(i).padStart(4, "0")}`);
    let t = performance.now();
    await pool(policyNames, CONCURRENCY, async (name) => {
      await admin.create<BackupPolicy & KubeObject>(Kinds.BackupPolicy, {
        apiVersion: DataProtectionAPIVersion, kind: "BackupPolicy", metadata: { name, namespace: NS },
        spec: {
          datafile: { target: { labelsSelector: { matchLabels: { app: "db", "app.kubernetes.io/instance": name } } }, backupToolName: TOOL, backupsHistoryLimit: 30 },
          schedule: { datafile: { cronExpression: cron, enable: true } },
        },
      });
    });
    const createPoliciesSeconds = (performance.now() - t) / 1000;

    // 10 Backups per policy, named and labelled as scheduled ones are, carrying the finalizer and a
    // Completed status as the operator leaves them (status written through the status subresource).
    const perPolicy = Math.ceil(BACKUPS / POLICIES);
    const day = 86_400_000;
    const base = Math.floor(Date.now() / day) * day - perPolicy * day;
    const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, "").slice(0, 12);
    const backups = Array.from({ length: BACKUPS }, (_, i) => ({ policy: policyNames[i % POLICIES]!, tick: new Date(base + Math.floor(i / POLICIES) * day + 3 * 3_600_000) }));
    t = performance.now();
    let created = 0;
    await pool(backups, CONCURRENCY, async ({ policy, tick }) => {
      const name = `${policy}-datafile-${stamp(tick)}`;
      const b = await admin.create<Backup & KubeObject>(Kinds.Backup, {
        apiVersion: DataProtectionAPIVersion, kind: "Backup",
        metadata: { name, namespace: NS, finalizers: [Finalizer], labels: { [LabelBackupPolicy]: policy, [LabelBackupType]: BackupType.Datafile, [LabelAutoBackup]: "true" } },
        spec: { backupPolicyName: policy, backupType: BackupType.Datafile },
      });
      const at = (ms: number) => new Date(tick.getTime() + ms).toISOString().replace(/\.\d{3}Z$/, "Z");
      const checksum = `sha256:${Buffer.from(b.metadata.uid!.repeat(2)).toString("hex").slice(0, 64)}`;
      const pvc = `dp-backup-${policy}`;
      await admin.patch(Kinds.Backup, name, NS, {
        status: {
          phase: BackupPhase.Completed, backupToolName: TOOL, persistentVolumeClaimName: pvc, sourceCluster: policy,
          startTimestamp: at(2_000), completionTimestamp: at(65_000), duration: "1m3s", totalSize: "1.2Gi", observedGeneration: 1,
          manifests: {
            target: JSON.stringify({ podName: `${policy}-0`, nodeName: "node-1", namespace: NS }),
            backupTool: { filePath: `/${NS}/${name}`, volumeName: pvc, uploadTotalSize: "1.2Gi", checksum, checkpoint: at(2_000), files: [{ name: "dir.dpar", size: "1.2Gi", checksum }], backupId: b.metadata.uid, encrypted: false, dataFormat: "Agent" },
          },
          conditions: [
            { type: "Validated", status: "True", reason: "BackupStarted", message: "policy, tool, destination and target resolved", lastTransitionTime: at(0), observedGeneration: 1 },
            { type: "ToolJobSucceeded", status: "True", reason: "BackupCompleted", message: `Job ${name}-0 succeeded`, lastTransitionTime: at(65_000), observedGeneration: 1 },
          ],
        },
      }, { subresource: "status" });
      if (++created % 2000 === 0) console.log(`[${elapsed()}] ${created} Backups`);
    });
    const createBackupsSeconds = (performance.now() - t) / 1000;
    const sample = await admin.get<Backup & KubeObject>(Kinds.Backup, `${backups[0]!.policy}-datafile-${stamp(backups[0]!.tick)}`, NS);
    const objectBytes = Buffer.byteLength(JSON.stringify(sample));
    const managedBytes = Buffer.byteLength(JSON.stringify(sample.metadata.managedFields ?? []));

    // First start over them (each policy is reconciled for the first time and writes its status,
    // which wakes its Backups again), then RUNS restarts (the steady state): RSS 30 s on depends on
    // when V8 last collected, so the restarts give medians.
    const expected = { backups: BACKUPS, policies: POLICIES };
    const loadBefore = loadavg();
    console.log(`[${elapsed()}] operator, ${POLICIES} policies + ${BACKUPS} Backups: first start`);
    const first = await runOperator(operatorKubeconfig, expected);
    const restarts: OperatorRun[] = [];
    for (let i = 0; i < RUNS; i++) {
      console.log(`[${elapsed()}] restart ${i + 1}`);
      restarts.push(await runOperator(operatorKubeconfig, expected));
    }
    const loadAfter = loadavg();
    const left = (await admin.listAll<Backup & KubeObject>(Kinds.Backup, { namespace: NS })).items;
    const untouched = left.length === BACKUPS && left.every((b) => b.status?.phase === BackupPhase.Completed);

    console.log(`[${elapsed()}] floors`);
    const plurals = ["backuppolicies", "backups"];
    const [floorEmpty, floorListed, floorStripped] = await Promise.all([
      runFloor(operatorKubeconfig, [], false),
      runFloor(operatorKubeconfig, plurals, false),
      runFloor(operatorKubeconfig, plurals, true),
    ]);

    // ---- the section ----
    const f = (x: number, d = 0) => x.toFixed(d);
    const mib = (b: number) => f(b / MiB);
    const loadStr = (l: number[]) => l.map((x) => x.toFixed(1)).join(" ");
    const n = BACKUPS + POLICIES;
    const cached = `${BACKUPS.toLocaleString("en")} Backups + ${POLICIES.toLocaleString("en")} policies`;
    const opRow = (what: string, r: OperatorRun) =>
      `| ${what} | ${f(r.syncSeconds, 2)} | ${r.firstPassSeconds !== undefined ? f(r.firstPassSeconds, 1) : "-"} | ${mib(r.rssSynced)} | ${mib(r.rssSettled)} | ${mib(r.peak)} | ${mib(r.heapUsed)} / ${mib(r.heapTotal)} | ${mib(r.rssSettled - r.heapTotal)} | ${mib(r.heapUsedAfterGc)} | ${mib(r.rssAfterGc)} | ${f(r.cpuSeconds, 1)} | ${Object.entries(r.reconciles).filter(([, v]) => v).map(([k, v]) => `${k} ${v}`).join(", ") || "-"} |`;
    const med = (rs: OperatorRun[], k: keyof OperatorRun) => median(rs.map((r) => r[k] as number));
    const restart = { ...restarts[0]!, syncSeconds: med(restarts, "syncSeconds"), rssSettled: med(restarts, "rssSettled"), peak: Math.max(...restarts.map((r) => r.peak)) };
    const summary = (what: string, rs: OperatorRun[]) =>
      `${what} (${rs.length} runs): synced median ${f(med(rs, "syncSeconds"), 2)} s, RSS settled median ${f(med(rs, "rssSettled") / MiB)} MiB (${rs.map((r) => mib(r.rssSettled)).join(", ")}), peak max ${f(Math.max(...rs.map((r) => r.peak)) / MiB)} MiB, live heap after a full GC median ${f(med(rs, "heapUsedAfterGc") / MiB)} MiB, RSS after it median ${f(med(rs, "rssAfterGc") / MiB)} MiB, CPU median ${f(med(rs, "cpuSeconds"), 1)} s`;
    const floorRow = (what: string, r: FloorRun) => `| ${what} | ${r.held} | ${f(r.listSeconds, 2)} | ${mib(r.rssListed)} | ${mib(r.rssSettled)} | ${mib(r.peak)} | ${mib(r.heapUsed)} | ${mib(r.heapUsedAfterGc)} |`;
    const perK = (a: number, b: number) => f(((a - b) / MiB / n) * 1000, 1);
    const goal = (what: string, r: OperatorRun) =>
      `${what}: RSS settled ${mib(r.rssSettled)} MiB (peak ${mib(r.peak)}) against < ${GOAL_RSS_MIB}: ${r.rssSettled < GOAL_RSS_MIB * MiB ? "met" : "missed"}${r.rssSettled < GOAL_RSS_MIB * MiB && r.peak >= GOAL_RSS_MIB * MiB ? " (the peak is not)" : ""}; start to synced ${f(r.syncSeconds, 2)} s against < ${GOAL_SYNC_S} s: ${r.syncSeconds < GOAL_SYNC_S ? "met" : "missed"}`;
    const lines = [
      `\`npm run bench:scale\` (${POLICIES.toLocaleString("en")} BackupPolicies, ${BACKUPS.toLocaleString("en")} Completed Backups in one namespace, private control plane without controller-manager/scheduler), ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC. Written by the bench; the next run replaces this section.`,
      "",
      `Machine (read by the bench): ${cpus().length} cores shared with other work, ${f(totalmem() / 1024 ** 3)} GiB; load ${loadStr(loadStart)} at the start, ${loadStr(loadBefore)} when the loaded runs started, ${loadStr(loadAfter)} after them (1/5/15 min).`,
      `Program: ${program.what}, every controller and the 3scale plugin, as a ServiceAccount bound to cluster-admin (through API Priority and Fairness like any ServiceAccount; the admin creating the objects is exempt), leader-elected, default log level. Objects: created ${CONCURRENCY} at a time by the admin (policies ${f(createPoliciesSeconds, 1)} s; Backups ${f(createBackupsSeconds, 1)} s, a create and a status write each); a Backup is ${objectBytes} bytes of JSON as the API server returns it, ${managedBytes} of them managedFields. Policies: yearly cron \`${cron}\` (never fires in the run), backupsHistoryLimit 30 (nothing to prune); Backups carry the finalizer and a full Completed status (manifests, checksum, conditions), as the operator leaves them, so no controller has work for them. After the runs: ${left.length} Backups, ${untouched ? "all still Completed (the operator changed none)" : "SOME CHANGED OR MISSING"}.`,
      "",
      `"Synced" is spawn to the first 200 from /readyz (every informer listed; polled every 20 ms; the operator also logs "caches synced"). "First pass" is spawn to when every Backup and policy had been reconciled once and every workqueue was empty (/metrics, polled each second). RSS is VmRSS when synced and ${SETTLE_MS / 1000} s after ("settled"); peak is VmHWM over the process's life; heap is V8's used / total then, "not heap" is settled RSS - heap total (the node binary, code, malloc). After that the bench has the process run one full GC (node --expose-gc and a SIGUSR2 handler preloaded; nothing else changes) and reads V8's heap used (what is live) and VmRSS 1 s later. CPU is user+system seconds up to the settled figures.`,
      "",
      "| operator run | synced s | first pass s | RSS synced MiB | RSS settled MiB | peak RSS MiB | heap used / total MiB | not heap MiB | live heap after full GC MiB | RSS after it MiB | CPU s | reconciles |",
      "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
      opRow("empty cluster (fixed cost)", idle),
      opRow(`${cached}: first start (policies reconciled for the first time)`, first),
      ...restarts.map((r, i) => opRow(`restart ${i + 1} (steady state)`, r)),
      "",
      `${summary("Restarts", restarts)}.`,
      "",
      (() => {
        // The restart with the median settled RSS, split against the empty run; the parts add up to its settled RSS.
        const m = [...restarts].sort((a, b) => a.rssSettled - b.rssSettled)[Math.floor(restarts.length / 2)]!;
        const live = m.heapUsedAfterGc - idle.heapUsedAfterGc;
        const slack = m.heapTotal - m.heapUsedAfterGc - (idle.heapTotal - idle.heapUsedAfterGc);
        const outside = m.rssSettled - m.heapTotal - (idle.rssSettled - idle.heapTotal);
        return `Where the settled RSS of the median restart (${mib(m.rssSettled)} MiB) goes: ${mib(idle.rssSettled)} the empty run's (node, the program's code and heap); ${mib(live)} the cached objects and their indexes (live heap after a full GC over the empty run's, ${f(live / n / 1024, 1)} KiB per object); ${mib(slack)} V8 heap that was not live (garbage of the list and of the first pass not yet collected, and room V8 keeps); ${mib(outside)} outside V8's heap over the empty run's (malloc: the list's and watches' buffers).`;
      })(),
      "",
      `Floor, the in-run reference: \`node -e\` with @kubernetes/client-node only (no tsx), LISTing the ${n.toLocaleString("en")} objects in pages of 500 and holding the parsed items; three processes side by side, ${SETTLE_MS / 1000} s each, then one full GC each as for the operator.`,
      "",
      "| floor | objects | list s | RSS listed MiB | RSS settled MiB | peak RSS MiB | heap used MiB | live heap after full GC MiB |",
      "|---|---:|---:|---:|---:|---:|---:|---:|",
      floorRow("client-node loaded, nothing listed", floorEmpty),
      floorRow("as listed (managedFields kept)", floorListed),
      floorRow("managedFields dropped", floorStripped),
      "",
      `Per 1,000 cached objects (settled RSS minus the empty run's): operator first start ${perK(first.rssSettled, idle.rssSettled)} MiB, restart ${perK(restart.rssSettled, idle.rssSettled)} MiB; floor as listed ${perK(floorListed.rssSettled, floorEmpty.rssSettled)} MiB, managedFields dropped ${perK(floorStripped.rssSettled, floorEmpty.rssSettled)} MiB. Operator restart settled RSS (median) / floor with managedFields dropped: ${f(restart.rssSettled / floorStripped.rssSettled, 2)}x (the floor's client-node alone is ${mib(floorEmpty.rssSettled)} MiB, the idle operator ${mib(idle.rssSettled)}). Live heap after a full GC: operator restarts ${f((med(restarts, "heapUsedAfterGc") - idle.heapUsedAfterGc) / MiB)} MiB over the empty run's ${mib(idle.heapUsedAfterGc)}; the floor holding the objects with managedFields dropped, ${f((floorStripped.heapUsedAfterGc - floorEmpty.heapUsedAfterGc) / MiB)} MiB over its empty run's (as listed: ${f((floorListed.heapUsedAfterGc - floorEmpty.heapUsedAfterGc) / MiB)} MiB).`,
      "",
      `Goals (${cached} cached; restarts: medians, peak the largest): ${goal("first start", first)}. ${goal("Restarts", restart)}.`,
    ];
    return lines;
  } finally {
    admin.close();
    await cp.stop();
  }
}

// BENCH_PARTS=writes (or scale) runs one part, for a quick look; only a run of both writes the section.
const parts = (process.env.BENCH_PARTS ?? "scale,writes").split(",");
const scaleLines = parts.includes("scale") ? await scalePart() : ["(scale part not run)"];
console.log(`[${elapsed()}] API writes per Backup`);
let writeLines: string[];
let failure: unknown;
try {
  writeLines = parts.includes("writes") ? await writesPart() : ["(writes part not run)"];
} catch (e) {
  failure = e;
  writeLines = [`API writes per completed datafile Backup (audit log): not measured, the measurement failed: ${e instanceof Error ? e.message : String(e)}`];
}
const section = `<!-- scale:begin -->\n## scale\n\n${[...scaleLines, "", ...writeLines, "", `Whole run (\`npm run bench:scale\` after its build): ${((performance.now() - started) / 1000).toFixed(0)} s.`].join("\n")}\n<!-- scale:end -->`;
console.log(section);
if (process.argv.includes("--write") && parts.includes("scale") && parts.includes("writes")) {
  console.log(`wrote the scale section of ${await writeDocSection("scale", section)}`);
}
if (failure) throw failure;
