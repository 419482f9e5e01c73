// Fuzz (issue 19): 1,000 generated invalid or hostile objects of every kind (arbitraries.ts: built
// from the TypeBox schemas, seeded, FUZZ_SEED to replay) sent to the real API server while the
// operator runs in-process with every core controller and the 3scale plugin. Each object is
// either refused by the API server with a 4xx (never a 5xx), or ends with a status that names its
// problem, says it is healthy, or says what it is waiting for (verdicts.ts, per kind). The operator
// never crashes (no unhandledRejection or uncaughtException while the test runs), logs no
// unhandled rejection, retries no object's reconcile more than a few times, and does not hot-loop:
// its reconciles (controller_runtime_reconcile_total, and per object through its reconcilers)
// stay bounded per accepted object, and a 10 s quiet period afterwards sees only the retries and
// polls the objects' states call for.
//
// Every object carries the run label; cleanup strips finalizers nobody serves, deletes both
// namespaces and every cluster-scoped object the run made while the operator still runs, and
// checks the repos left no PVC, Job, Secret or StorageClass behind.
import { expect } from "chai";
import { Writable } from "node:stream";
import winston from "winston";
import { BatchV1Api, CoreV1Api, CustomObjectsApi, StorageV1Api, type KubeConfig } from "@kubernetes/client-node";
import { Finalizer, Kinds, LabelAutoBackup, LabelBackupRepoName, kindInfo, validate, type Kind } from "@dataprotection/api";
import type { Operator } from "@dataprotection/controllers";
import { KubeClient, type KubeObject, type ObjectKey } from "@dataprotection/runtime";
import { threescaleControllers } from "@dataprotection/threescale";
import { localPvcProvider } from "../../packages/controllers/src/storageprovider/builtin/index.ts";
import { e2eCluster, startTestOperator, testNamespace, until } from "../harness.ts";
import { installApiManagerCrd } from "../threescale/fixtures.ts";
import {
  DEFAULT_COUNTS, KIND_ORDER, RUN_LABEL, SAFE_COMMAND, fuzzSeed, fuzzWorld, generateCases, jsonBytes, runPrefix, worldNames,
  type FuzzCase,
} from "./arbitraries.ts";
import { crossNamespaceRule, judge, type Verdict, type VerdictState } from "./verdicts.ts";

const SEED = fuzzSeed();
/** FUZZ_COUNT scales the run (default 1,000 objects: DEFAULT_COUNTS). */
const TOTAL = Number(process.env.FUZZ_COUNT ?? 1000);
if (!Number.isInteger(TOTAL) || TOTAL < 8) throw new Error(`FUZZ_COUNT must be an integer of at least 8 (one object per kind), not ${process.env.FUZZ_COUNT}`);
const COUNTS = Object.fromEntries(KIND_ORDER.map((k) => [k, Math.max(1, Math.round((DEFAULT_COUNTS[k] * TOTAL) / 1000))])) as Record<Kind, number>;
const CONCURRENCY = 16;
/** The whole batch gets this long, after the last create, to be judged. */
const SETTLE_MS = 60_000;
/** Verdicts unchanged this long (and none unclassified) end the settling early, once the bounded waits below are over. */
const STABLE_MS = 8_000;
const QUIET_MS = 10_000;
/**
 * Short bounded waits, so every wait ends inside the settle window: a Backup waits 15 s for a
 * target pod (none ever runs in the fuzz namespace), a pod that cannot start fails after 20 s.
 */
const TIMEOUTS = { targetPodWaitMs: 15_000, podStartMs: 20_000, snapshotReadyMs: 20_000, hookMs: 20_000 };
/** Settling never ends before every such wait has run out (a waiting object does not change until then). */
const MIN_SETTLE_MS = Math.max(TIMEOUTS.targetPodWaitMs, TIMEOUTS.podStartMs) + 5_000;
/** Resync periods of the controllers (backup and restorejob 60 s; backuppolicy and backuprepo 5 min): the quiet window avoids them. */
const RESYNC_PERIODS_MS = [60_000, 300_000];

/**
 * Reconciles per accepted object, on average, over the whole run. An object's life is a few
 * event-driven reconciles (create; finalizer; first status; terminal status), polls while it waits
 * (a Backup waits 15 s for a target pod at 2 s; a RestoreJob polls at 1-5 s; a Failed repo retries
 * every 30 s) and wakes from related objects (a policy's Backups, the tools and repos waiting
 * Backups use, pods of the namespace). Most objects fail at their first status (3-4 reconciles);
 * the waiting ones take 10-30 plus fan-out wakes: about 8-12 on average. 20 leaves about twice
 * that. This bound catches work that grows with the number of objects (every object re-woken by
 * every other); a single object looping is caught by the per-object and quiet-window bounds.
 */
const MAX_RECONCILES_PER_ACCEPTED = 20;
/**
 * Any single object over the whole run: the longest legitimate poll (1 s for at most ~90 s) plus
 * fan-out wakes (every Backup event of a namespace wakes its active RestoreJobs; every pod event
 * wakes its waiting Backups), deduplicated by the work queue. A hot loop does thousands a second.
 */
const MAX_RECONCILES_PER_OBJECT = 500;
/** Reconcile errors (exceptions, retried with backoff) of one object before the quiet window ends. */
const MAX_ERRORS_PER_OBJECT = 5;
/**
 * What one object may do in the quiet window, by state: a settled object nothing (2 allowed for a
 * late event and its follow-up); a Failed repo its 30 s retry; one still progressing its polls
 * (Backups and RestoreJobs poll every 1-5 s, the 3scale CRs every 5 s, a pre-checking repo when
 * its Job changes or times out) plus the transition that ends them.
 */
const QUIET_ALLOWANCE: Readonly<Record<Kind, Partial<Record<VerdictState, number>>>> = {
  Backup: { progressing: 11 },
  BackupPolicy: {},
  BackupRepo: { problem: 2, progressing: 4 },
  BackupTool: {},
  RestoreJob: { progressing: 11 },
  StorageProvider: {},
  APIManagerBackup: { progressing: 3 },
  APIManagerRestore: { progressing: 3 },
};
const QUIET_SETTLED = 2;
const QUIET_SLACK = 25;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const keyOf = (kind: string, namespace: string | undefined, name: string) => `${kind}/${namespace ?? ""}/${name}`;

interface Outcome {
  c: FuzzCase;
  accepted: boolean;
  code?: number;
  message?: string;
  attempts: number;
}

interface LogLine {
  level: string;
  message: string;
  controller?: string;
  kind?: string;
  namespace?: string;
  name?: string;
  error?: string;
  at: number;
}

function apiError(e: unknown): { code?: number; message: string } {
  const err = e as { code?: number; body?: unknown; message?: string };
  let body = err.body as { message?: string } | string | undefined;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body) as { message?: string };
    } catch {
      // not JSON: keep the text
    }
  }
  const message = typeof body === "object" && body?.message ? body.message : typeof body === "string" && body ? body : String(err.message ?? e);
  return { code: typeof err.code === "number" ? err.code : undefined, message };
}

/** Runs `fn` over `items`, at most `n` at a time, in order of start. */
async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  }));
  return out;
}

/** Sum of a counter per `controller` label from the operator's registry. */
async function byController(op: Operator, metric: string): Promise<Map<string, number>> {
  const m = op.manager.metrics.registry.getSingleMetric(metric);
  if (!m) throw new Error(`the operator registers no ${metric}`);
  const out = new Map<string, number>();
  for (const v of (await m.get()).values) {
    const c = String(v.labels.controller ?? v.labels.kind ?? "");
    out.set(c, (out.get(c) ?? 0) + v.value);
  }
  return out;
}

const total = (m: Map<string, number>): number => [...m.values()].reduce((a, b) => a + b, 0);
const delta = (after: Map<string, number>, before: Map<string, number>): Map<string, number> =>
  new Map([...after].map(([k, v]) => [k, v - (before.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0));
const fmt = (m: Map<string, number>): string => [...m].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k} ${v}`).join(", ");

/**
 * Counts reconciles per object by wrapping each controller's reconciler. The manager keeps its
 * controllers private; this reaches them for the test only and reports (rather than fails) if
 * their shape changed, leaving the metric-based bounds.
 */
class ReconcileCounter {
  readonly counts = new Map<string, number>();
  readonly attached: boolean;

  constructor(op: Operator) {
    const controllers = op.manager["controllers"] as unknown as Array<{ spec?: { forKind?: { kind?: string }; reconciler?: { reconcile?: unknown } } }> | undefined;
    let attached = Array.isArray(controllers) && controllers.length > 0;
    for (const c of controllers ?? []) {
      const r = c.spec?.reconciler;
      const kind = c.spec?.forKind?.kind;
      if (!r || typeof r.reconcile !== "function" || !kind) {
        attached = false;
        continue;
      }
      const inner = (r.reconcile as (req: ObjectKey, ctx: unknown) => Promise<unknown>).bind(r);
      r.reconcile = (req: ObjectKey, ctx: unknown) => {
        const k = keyOf(kind, req.namespace, req.name);
        this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
        return inner(req, ctx);
      };
    }
    this.attached = attached;
  }

  snapshot(): Map<string, number> {
    return new Map(this.counts);
  }
}

describe(`fuzz: ${TOTAL} hostile objects of every kind against the real API server and the running operator (seed ${SEED})`, function () {
  this.timeout(360_000);
  let op: Operator | undefined;
  let kc: KubeConfig;
  let counter: ReconcileCounter;
  let opStartedAt = 0;
  const crashes: string[] = [];
  const logLines: LogLine[] = [];
  const onRejection = (reason: unknown): void => void crashes.push(`unhandledRejection: ${reason instanceof Error ? reason.stack : String(reason)}`);
  const onException = (err: Error): void => void crashes.push(`uncaughtException: ${err.stack ?? String(err)}`);
  let tap: winston.transport | undefined;

  before(async () => {
    kc = (await e2eCluster()).controlPlane.kubeConfig;
    // The 3scale operator's CRD (no APIManager is ever created): the plugin's optional watch is then served in every suite order.
    await installApiManagerCrd(kc);
    process.on("unhandledRejection", onRejection);
    process.on("uncaughtException", onException);
    op = await startTestOperator({ timeouts: TIMEOUTS }, [threescaleControllers({ readyTimeoutSeconds: 5, jobDeadlineSeconds: 60 })]);
    opStartedAt = Date.now();
    counter = new ReconcileCounter(op);
    // Warnings and errors only (the leak scan's transport still gets every debug line).
    const stream = new Writable({
      write: (chunk: Buffer, _enc, done) => {
        for (const line of chunk.toString().split("\n")) {
          if (!line.trim()) continue;
          try {
            logLines.push({ ...(JSON.parse(line) as Omit<LogLine, "at">), at: Date.now() });
          } catch {
            logLines.push({ level: "error", message: `unparsable log line: ${line.slice(0, 200)}`, at: Date.now() });
          }
        }
        done();
      },
    });
    tap = new winston.transports.Stream({ stream, level: "warn" });
    op.manager.logger.add(tap);
  });

  after(async () => {
    if (tap) op?.manager.logger.remove(tap);
    await op?.stop();
    process.off("unhandledRejection", onRejection);
    process.off("uncaughtException", onException);
  });

  it("refuses each with a 4xx or reports on it in its status; the operator never crashes, logs no unhandled rejection and does not hot-loop", async () => {
    const api = kc.makeApiClient(CustomObjectsApi);
    const core = kc.makeApiClient(CoreV1Api);
    const t0 = Date.now();
    const since = (t: number) => `${((Date.now() - t) / 1000).toFixed(1)} s`;
    const prefix = runPrefix(SEED);
    await purgeEarlierRun(kc, prefix);
    const ns = await testNamespace(kc, "fuzz");
    const xns = await testNamespace(kc, "fuzz-xns");
    const names = worldNames(prefix);
    const runSelector = `${RUN_LABEL}=${prefix}`;
    const runLabels = { [RUN_LABEL]: prefix };
    const failures: string[] = [];
    let mainError: unknown;
    try {
      // ---- The world references resolve to: valid objects, made before the fuzz objects.
      const world = fuzzWorld(prefix, ns.name, xns.name, COUNTS);
      const policySpec = (tool: string) => ({
        datafile: {
          backupToolName: tool,
          target: { labelsSelector: { matchLabels: { app: `${prefix}-never-runs` } } },
          persistentVolumeClaim: { name: `${prefix}-world-pvc`, storageClassName: "local-path", initCapacity: "10Mi", createPolicy: "IfNotPresent" },
        },
      });
      const secretData = { username: "fuzz", password: `fz-password-${prefix}-0123`, passphrase: `fz passphrase ${prefix} long enough`, accessKeyId: "fzAccessKeyId", secretAccessKey: `fz-secret-access-key-${prefix}` };
      await core.createNamespacedSecret({ namespace: ns.name, body: { metadata: { name: names.secret, labels: runLabels }, stringData: secretData } });
      await core.createNamespacedSecret({ namespace: xns.name, body: { metadata: { name: names.xnsSecret, labels: runLabels }, stringData: secretData } });
      await core.createNamespacedConfigMap({ namespace: ns.name, body: { metadata: { name: names.configMap, labels: runLabels }, data: { persistentVolume: "spec: [not closed" } } });
      await core.createNamespacedConfigMap({ namespace: xns.name, body: { metadata: { name: names.xnsConfigMap, labels: runLabels }, data: { persistentVolume: "spec: {}" } } });
      const provider = localPvcProvider(names.provider);
      await api.createClusterCustomObject({ ...address("StorageProvider"), body: { ...provider, metadata: { name: names.provider, labels: runLabels } } });
      await api.createClusterCustomObject({
        ...address("BackupTool"),
        body: {
          apiVersion: `${kindInfo("BackupTool").group}/${kindInfo("BackupTool").version}`, kind: "BackupTool", metadata: { name: names.tool, labels: runLabels },
          spec: { image: "busybox", deployKind: "job", type: "file", backupCommands: [SAFE_COMMAND], physical: { restoreCommands: [SAFE_COMMAND] }, logical: { restoreCommands: [SAFE_COMMAND] } },
        },
      });
      const policy = (namespace: string, name: string) => api.createNamespacedCustomObject({
        ...address("BackupPolicy"), namespace,
        body: { apiVersion: `${kindInfo("BackupPolicy").group}/${kindInfo("BackupPolicy").version}`, kind: "BackupPolicy", metadata: { name, labels: runLabels }, spec: policySpec(names.tool) },
      });
      await policy(ns.name, names.policy);
      await policy(xns.name, names.xnsPolicy);
      await api.createNamespacedCustomObject({
        ...address("Backup"), namespace: xns.name,
        body: { apiVersion: `${kindInfo("Backup").group}/${kindInfo("Backup").version}`, kind: "Backup", metadata: { name: names.xnsBackup, labels: runLabels }, spec: { backupPolicyName: names.xnsPolicy, backupType: "datafile" } },
      });
      const worldKeys = new Set([
        keyOf("StorageProvider", undefined, names.provider), keyOf("BackupTool", undefined, names.tool),
        keyOf("BackupPolicy", ns.name, names.policy), keyOf("BackupPolicy", xns.name, names.xnsPolicy), keyOf("Backup", xns.name, names.xnsBackup),
      ]);

      // ---- Baseline: the operator has settled on what the cluster held before.
      let prev = total(await byController(op!, "controller_runtime_reconcile_total"));
      const quietBefore = Date.now();
      await until("the operator idle before the fuzz objects (no reconcile for 2 s)", async () => {
        await sleep(2_000);
        const now = total(await byController(op!, "controller_runtime_reconcile_total"));
        const idle = now === prev;
        prev = now;
        return idle || Date.now() - quietBefore > 20_000 ? true : undefined;
      }, 30_000, 0);
      const baseReconciles = await byController(op!, "controller_runtime_reconcile_total");
      const baseErrors = await byController(op!, "controller_runtime_reconcile_errors_total");
      const baseTimeouts = await byController(op!, "controller_runtime_reconcile_timeouts_total");
      const basePerObject = counter.snapshot();
      const baseLogLines = logLines.length;

      // ---- Generate and send.
      const cases = generateCases(SEED, world, COUNTS);
      const bytes = cases.reduce((a, c) => a + jsonBytes(c.body), 0);
      console.log(`      fuzz seed ${SEED} (replay: FUZZ_SEED=${SEED}; prefix ${prefix}, namespaces ${ns.name} and ${xns.name}): ${cases.length} objects, ${(bytes / 2 ** 20).toFixed(1)} MiB, ${cases.filter((c) => c.mutations.length === 0).length} unmutated, ${cases.filter((c) => c.strict).length} sent with fieldValidation=Strict`);
      const sendStart = Date.now();
      const outcomes = await pool(cases, CONCURRENCY, async (c): Promise<Outcome> => {
        const target = address(c.kind);
        let transportError = false;
        for (let attempt = 1; ; attempt++) {
          try {
            const params = { ...target, body: c.body, ...(c.strict ? { fieldValidation: "Strict" } : {}) };
            if (c.namespaced) await api.createNamespacedCustomObject({ ...params, namespace: ns.name });
            else await api.createClusterCustomObject(params);
            return { c, accepted: true, attempts: attempt };
          } catch (e) {
            const { code, message } = apiError(e);
            // A create whose answer was lost, retried: the object is there.
            if (code === 409 && transportError) return { c, accepted: true, attempts: attempt };
            // Throttled (API Priority and Fairness) or no answer at all: not a verdict on the object.
            if ((code === 429 || code === undefined) && attempt < 5) {
              transportError ||= code === undefined;
              await sleep(250 * attempt);
              continue;
            }
            return { c, accepted: false, code, message, attempts: attempt };
          }
        }
      });
      const sentAt = Date.now();
      const accepted = outcomes.filter((o) => o.accepted);
      const rejected = outcomes.filter((o) => !o.accepted);
      console.log(`      sent in ${((sentAt - sendStart) / 1000).toFixed(1)} s (${CONCURRENCY} at a time): ${rejected.length} refused, ${accepted.length} accepted`);

      // ---- Judge: from the operator's cache while settling, then from the API server.
      const ourKey = (c: FuzzCase) => keyOf(c.kind, c.namespaced ? ns.name : undefined, c.name);
      const judgeFrom = (read: (c: FuzzCase) => (KubeObject & { status?: Record<string, unknown> }) | undefined): Map<string, Verdict | "gone"> => {
        const out = new Map<string, Verdict | "gone">();
        for (const o of accepted) {
          const obj = read(o.c);
          out.set(ourKey(o.c), obj ? judge(o.c.kind, obj as never) : "gone");
        }
        return out;
      };
      const fromCache = () => judgeFrom((c) => op!.manager.cache.get(Kinds[c.kind], c.name, c.namespaced ? ns.name : undefined));
      const signature = (m: Map<string, Verdict | "gone">) => [...m].map(([k, v]) => `${k}=${v === "gone" ? v : `${v.state}:${v.reason}`}`).join("\n");
      let verdicts = fromCache();
      let lastChange = Date.now();
      let sig = signature(verdicts);
      for (;;) {
        // Not in the cache yet counts as not judged yet: the cache trails the creates.
        const unclassified = [...verdicts.values()].filter((v) => v === "gone" || v.state === "unclassified").length;
        const progressing = [...verdicts.values()].filter((v) => v !== "gone" && v.state === "progressing").length;
        if (Date.now() - sentAt > SETTLE_MS) break;
        if (unclassified === 0 && (progressing === 0 || (Date.now() - lastChange > STABLE_MS && Date.now() - sentAt > MIN_SETTLE_MS))) break;
        await sleep(1_000);
        verdicts = fromCache();
        const s = signature(verdicts);
        if (s !== sig) {
          sig = s;
          lastChange = Date.now();
        }
      }
      const settledAt = Date.now();

      // ---- Quiet window: nothing created, nothing changed by the test; outside any resync.
      const quiet = await quietWindow(op!, counter, opStartedAt);
      const afterQuiet = await byController(op!, "controller_runtime_reconcile_total");
      const errors = delta(await byController(op!, "controller_runtime_reconcile_errors_total"), baseErrors);
      const timeouts = delta(await byController(op!, "controller_runtime_reconcile_timeouts_total"), baseTimeouts);
      const perObject = counter.snapshot();
      const runLog = logLines.slice(baseLogLines);

      // ---- Final verdicts, read back from the API server.
      // Read in pages of 500 through the runtime's client (plain JSON): client-node's single
      // gzip'd LIST of a kind's fuzzed objects (MiBs of huge strings) was cut in transit ("Premature
      // close") three times in a row in one CI run, a seed that passes on its own.
      const live = new Map<string, KubeObject & { status?: Record<string, unknown> }>();
      const reader = new KubeClient(kc);
      try {
        for (const kind of KIND_ORDER) {
          const namespace = kindInfo(kind).scope === "Namespaced" ? ns.name : undefined;
          const list = await retryTransport(() => reader.listAll<KubeObject & { status?: Record<string, unknown> }>(Kinds[kind], { namespace, labelSelector: runSelector }));
          for (const o of list.items) live.set(keyOf(kind, o.metadata.namespace, o.metadata.name!), o);
        }
      } finally {
        reader.close();
      }
      const finalVerdicts = judgeFrom((c) => live.get(ourKey(c)));

      // ---- Summary.
      const perKind = KIND_ORDER.map((kind) => {
        const mine = outcomes.filter((o) => o.c.kind === kind);
        const acc = mine.filter((o) => o.accepted);
        const v = acc.map((o) => finalVerdicts.get(ourKey(o.c))!);
        const count = (s: VerdictState | "gone") => v.filter((x) => (x === "gone" ? s === "gone" : x.state === s)).length;
        const reconciles = acc.reduce((a, o) => a + ((perObject.get(ourKey(o.c)) ?? 0) - (basePerObject.get(ourKey(o.c)) ?? 0)), 0);
        return `${kind.padEnd(17)} sent ${String(mine.length).padStart(4)}  refused ${String(mine.length - acc.length).padStart(4)}  accepted ${String(acc.length).padStart(4)}: problem ${count("problem")}, healthy ${count("healthy")}, progressing ${count("progressing")}, gone ${count("gone")}, unclassified ${count("unclassified")}; reconciles ${reconciles}${acc.length ? ` (${(reconciles / acc.length).toFixed(1)}/object)` : ""}`;
      });
      const codes = new Map<string, number>();
      for (const o of rejected) codes.set(String(o.code ?? "none"), (codes.get(String(o.code ?? "none")) ?? 0) + 1);
      const byOp = new Map<string, { sent: number; accepted: number }>();
      for (const o of outcomes) for (const m of new Set(o.c.mutations.map((x) => x.op))) {
        const e = byOp.get(m) ?? { sent: 0, accepted: 0 };
        e.sent++;
        if (o.accepted) e.accepted++;
        byOp.set(m, e);
      }
      let ajvAgree = 0;
      let ajvThrew = 0;
      for (const o of outcomes) {
        let predicted: boolean;
        try {
          predicted = validate(o.c.kind, o.c.body).length === 0;
        } catch {
          ajvThrew++;
          predicted = false;
        }
        if (predicted === o.accepted) ajvAgree++;
      }
      const runReconciles = delta(afterQuiet, baseReconciles);
      const objects = accepted.length + worldKeys.size;
      const perAccepted = objects ? total(runReconciles) / objects : Infinity;
      const ours = new Set([...accepted.map((o) => ourKey(o.c)), ...worldKeys]);
      const objectDelta = [...perObject].map(([k, v]) => [k, v - (basePerObject.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0);
      const busiest = [...objectDelta].sort((a, b) => b[1] - a[1]).slice(0, 8);
      const others = objectDelta.filter(([k]) => !ours.has(k)).reduce((a, [, v]) => a + v, 0);
      const samples = KIND_ORDER.flatMap((kind) => accepted.filter((o) => o.c.kind === kind).map((o) => finalVerdicts.get(ourKey(o.c))!)
        .filter((v): v is Verdict => v !== "gone" && v.state === "problem").slice(0, 2).map((v) => `${kind} ${v.reason}: ${v.message.slice(0, 140)}`));
      // What the quiet window may see: each object what its state (when settling ended) calls for.
      const stateOf = new Map<string, { kind: Kind; state: VerdictState | "gone" }>();
      for (const o of accepted) {
        const v = verdicts.get(ourKey(o.c))!;
        stateOf.set(ourKey(o.c), { kind: o.c.kind, state: v === "gone" ? "gone" : v.state });
      }
      const allowanceOf = (k: string): number => {
        const s = stateOf.get(k);
        if (!s || s.state === "gone") return QUIET_SETTLED;
        return Math.max(QUIET_SETTLED, QUIET_ALLOWANCE[s.kind][s.state as VerdictState] ?? 0);
      };
      const quietBudget = [...stateOf.keys()].reduce((a, k) => a + allowanceOf(k), 0) + worldKeys.size * QUIET_SETTLED + QUIET_SLACK;
      const states = new Map<string, number>();
      for (const v of finalVerdicts.values()) states.set(v === "gone" ? "gone" : v.state, (states.get(v === "gone" ? "gone" : v.state) ?? 0) + 1);
      console.log(`      fuzz summary: seed ${SEED}, sent ${outcomes.length} (${KIND_ORDER.map((k) => `${k} ${COUNTS[k]}`).join(", ")}), refused ${rejected.length} (${fmt(codes)}), accepted ${accepted.length} (${fmt(states)}), reconciles ${total(runReconciles)} (${perAccepted.toFixed(1)} per accepted object), quiet ${QUIET_MS / 1000} s +${quiet.total} (budget ${quietBudget}), reconcile errors ${total(errors)}, crashes ${crashes.length}`);
      console.log(`      ${perKind.join("\n      ")}`);
      console.log(`      refusals by status: ${fmt(codes)}; by mutation (refused/sent): ${[...byOp].sort().map(([k, v]) => `${k} ${v.sent - v.accepted}/${v.sent}`).join(", ")}`);
      console.log(`      ajv (the CRD rules run locally) predicted ${ajvAgree}/${outcomes.length} verdicts (unknown fields: ajv refuses, the API server prunes); it threw on ${ajvThrew}`);
      console.log(`      settled ${((settledAt - sentAt) / 1000).toFixed(1)} s after the last create; reconciles ${total(runReconciles)} (${fmt(runReconciles)}) = ${perAccepted.toFixed(1)} per accepted object (bound ${MAX_RECONCILES_PER_ACCEPTED}); ${others} of them for objects not made by this run`);
      if (counter.attached) console.log(`      busiest objects: ${busiest.map(([k, v]) => `${k} ${v}`).join(", ")}`);
      else console.log("      (per-object counts unavailable: the manager's controllers changed shape; metric bounds only)");
      console.log(`      quiet ${QUIET_MS / 1000} s from +${((quiet.start - opStartedAt) / 1000).toFixed(1)} s after operator start: +${quiet.total} reconciles (budget ${quietBudget}: ${fmt(quiet.byController)})${quiet.retried ? " (window repeated: a watch restarted or relisted)" : ""}`);
      console.log(`      reconcile errors ${total(errors)} (${fmt(errors)}), timeouts ${total(timeouts)}; operator warnings/errors logged ${runLog.length}; crashes ${crashes.length}; total ${since(t0)}`);
      console.log(`      sample problems: ${samples.join(" | ")}`);

      // ---- Assertions, collected so one run reports every violation.
      expect(outcomes).to.have.length(cases.length);
      for (const kind of KIND_ORDER.filter((k) => COUNTS[k] >= 20)) {
        const mine = outcomes.filter((o) => o.c.kind === kind);
        if (!mine.some((o) => o.accepted)) failures.push(`no ${kind} was accepted: the generator makes nothing the operator must judge`);
        if (!mine.some((o) => !o.accepted)) failures.push(`no ${kind} was refused: the generator makes nothing the API server must refuse`);
      }
      const describeCase = (c: FuzzCase) => `${c.kind} ${c.name.slice(0, 80)} [${c.mutations.map((m) => `${m.op}@${m.path}`).join(", ") || "unmutated"}]`;
      for (const o of rejected.filter((x) => x.code === undefined || x.code >= 500 || x.code < 400)) {
        failures.push(`${o.code === undefined ? "no answer" : `HTTP ${o.code}`} for ${describeCase(o.c)}: ${o.message?.slice(0, 300)}`);
      }
      for (const o of accepted) {
        const v = finalVerdicts.get(ourKey(o.c))!;
        if (v === "gone") {
          // Retention deletes Backups labelled as scheduled beyond their policy's history limit; nothing else deletes a fuzz object.
          const labels = (o.c.body.metadata as { labels?: Record<string, string> }).labels ?? {};
          if (!(o.c.kind === "Backup" && labels[LabelAutoBackup] === "true")) failures.push(`${describeCase(o.c)} disappeared before the test deleted it`);
          continue;
        }
        if (v.state === "unclassified") failures.push(`${describeCase(o.c)} has no status naming a problem or a state ${since(sentAt)} after the last create: ${v.reason}: ${v.message.slice(0, 300)}`);
        const rule = crossNamespaceRule(o.c.kind, o.c.body.spec, names);
        if (rule && !(v.state === "problem" && rule.reasons.includes(v.reason))) {
          failures.push(`${describeCase(o.c)} names an object of namespace ${xns.name} in ${rule.field}: it must fail with ${rule.reasons.join(" or ")}, not ${v.state} ${v.reason}: ${v.message.slice(0, 200)}`);
        }
      }
      for (const c of crashes) failures.push(`the operator's process: ${c.slice(0, 600)}`);
      for (const l of runLog.filter((x) => /unhandled/i.test(`${x.message} ${x.error ?? ""}`))) failures.push(`operator log: ${l.message}: ${l.error ?? ""}`.slice(0, 400));
      if (!op!.manager.isLeader || !op!.manager.cache.hasSynced) failures.push("the operator stopped running its controllers");
      if (total(timeouts)) failures.push(`${total(timeouts)} reconciles ran past their time limit (${fmt(timeouts)}): something in the operator hangs`);
      if (perAccepted > MAX_RECONCILES_PER_ACCEPTED) failures.push(`${perAccepted.toFixed(1)} reconciles per accepted object (${total(runReconciles)} for ${objects}), over the bound of ${MAX_RECONCILES_PER_ACCEPTED}: ${fmt(runReconciles)}`);
      if (counter.attached) {
        for (const [k, v] of objectDelta.filter(([, v]) => v > MAX_RECONCILES_PER_OBJECT)) failures.push(`${k} was reconciled ${v} times (bound ${MAX_RECONCILES_PER_OBJECT}): a hot loop`);
      }
      const errorsByObject = new Map<string, string[]>();
      for (const l of runLog.filter((x) => x.level === "error" && x.at <= quiet.end && x.name)) {
        const k = keyOf(l.kind ?? l.controller ?? "?", l.namespace, l.name!);
        errorsByObject.set(k, [...(errorsByObject.get(k) ?? []), `${l.message}: ${l.error ?? ""}`]);
      }
      for (const [k, errs] of errorsByObject) {
        if (errs.length > MAX_ERRORS_PER_OBJECT) failures.push(`${k}: ${errs.length} reconcile errors (bound ${MAX_ERRORS_PER_OBJECT}), last: ${errs[errs.length - 1]!.slice(0, 300)}`);
      }
      // Quiet window: each object within what its state calls for; the total within their sum.
      if (quiet.total > quietBudget) failures.push(`the quiet ${QUIET_MS / 1000} s saw ${quiet.total} reconciles (${fmt(quiet.byController)}), over the ${quietBudget} the objects' states allow: a hot loop`);
      if (counter.attached) {
        for (const [k, v] of quiet.perObject) if (v > allowanceOf(k)) failures.push(`${k} was reconciled ${v} times in the quiet ${QUIET_MS / 1000} s (state ${stateOf.get(k)?.state ?? "not a fuzz object"}, allowed ${allowanceOf(k)})`);
      }
      if (failures.length) {
        throw new Error(`${failures.length} problem(s) with seed ${SEED} (replay: FUZZ_SEED=${SEED}):\n  ${failures.slice(0, 60).join("\n  ")}${failures.length > 60 ? `\n  ... and ${failures.length - 60} more` : ""}`);
      }
    } catch (e) {
      mainError = e;
    }
    const leftovers = await cleanUp(kc, { ns, xns, prefix });
    if (mainError) throw mainError;
    expect(leftovers, "what the run or the operator left behind").to.deep.equal([]);
  });
});

interface Quiet {
  start: number;
  end: number;
  total: number;
  byController: Map<string, number>;
  perObject: Map<string, number>;
  retried: boolean;
}

/**
 * QUIET_MS without the test touching anything, starting where no controller resync falls inside
 * (a resync re-enqueues every object once, by design). Repeated once if a watch restarted or
 * relisted meanwhile (that replays objects too).
 */
async function quietWindow(op: Operator, counter: ReconcileCounter, opStartedAt: number): Promise<Quiet> {
  let retried = false;
  for (let attempt = 0; ; attempt++) {
    for (;;) {
      // Resyncs fire at opStartedAt + k * period: none may fall in the window (3 s margin), and
      // the last one's burst must be over (5 s).
      const now = Date.now();
      const up = now - opStartedAt;
      const next = opStartedAt + Math.min(...RESYNC_PERIODS_MS.map((p) => (Math.floor(up / p) + 1) * p));
      const prev = opStartedAt + Math.max(...RESYNC_PERIODS_MS.map((p) => Math.floor(up / p) * p));
      if (next - now <= QUIET_MS + 3_000) await sleep(next - now + 5_000);
      else if (prev > opStartedAt && now - prev < 5_000) await sleep(prev + 5_000 - now);
      else break;
    }
    const restarts = async () => total(await byController(op, "runtime_watch_restarts_total")) + total(await byController(op, "runtime_cache_relists_total"));
    const r0 = await restarts();
    const before = await byController(op, "controller_runtime_reconcile_total");
    const objects = counter.snapshot();
    const start = Date.now();
    await sleep(QUIET_MS);
    const end = Date.now();
    const after = await byController(op, "controller_runtime_reconcile_total");
    const perObject = new Map([...counter.snapshot()].map(([k, v]) => [k, v - (objects.get(k) ?? 0)] as [string, number]).filter(([, v]) => v > 0));
    if ((await restarts()) !== r0 && attempt === 0) {
      retried = true;
      continue;
    }
    const byCtl = delta(after, before);
    return { start, end, total: total(byCtl), byController: byCtl, perObject, retried };
  }
}

type Item = { metadata: { name: string; namespace?: string; finalizers?: string[]; labels?: Record<string, string> } };
const address = (kind: Kind) => ({ group: kindInfo(kind).group, version: kindInfo(kind).version, plural: kindInfo(kind).plural });
const CLUSTER_KINDS = KIND_ORDER.filter((k) => kindInfo(k).scope === "Cluster");
const NAMESPACED_KINDS = KIND_ORDER.filter((k) => kindInfo(k).scope === "Namespaced");

/** The objects of one run (its label, or its name prefix for cluster-scoped ones), as admin. */
class RunObjects {
  private readonly api: CustomObjectsApi;
  constructor(kc: KubeConfig, private readonly prefix: string) {
    this.api = kc.makeApiClient(CustomObjectsApi);
  }

  async list(kind: Kind, namespace?: string): Promise<Item[]> {
    const res = (await retryTransport(() => namespace
      ? this.api.listNamespacedCustomObject({ ...address(kind), namespace, labelSelector: `${RUN_LABEL}=${this.prefix}` })
      : this.api.listClusterCustomObject({ ...address(kind) }))) as { items: Item[] };
    // Cluster-scoped: by label or prefix (no mutation drops the run label; an earlier run's objects count too).
    return res.items.filter((x) => namespace || x.metadata.labels?.[RUN_LABEL] === this.prefix || x.metadata.name.startsWith(`${this.prefix}-`));
  }

  setFinalizers(kind: Kind, x: Item, finalizers: string[]): Promise<unknown> {
    const body = [{ op: "replace", path: "/metadata/finalizers", value: finalizers }];
    return (x.metadata.namespace
      ? this.api.patchNamespacedCustomObject({ ...address(kind), namespace: x.metadata.namespace, name: x.metadata.name, body })
      : this.api.patchClusterCustomObject({ ...address(kind), name: x.metadata.name, body })).catch(() => undefined);
  }

  /** Removes every finalizer but the operator's (a mutation may add one nobody serves). */
  async stripForeignFinalizers(namespaces: string[]): Promise<void> {
    for (const kind of KIND_ORDER) {
      for (const namespace of kindInfo(kind).scope === "Namespaced" ? namespaces : [undefined]) {
        for (const x of await this.list(kind, namespace).catch(() => [] as Item[])) {
          const f = x.metadata.finalizers ?? [];
          if (f.some((n) => n !== Finalizer)) await this.setFinalizers(kind, x, f.filter((n) => n === Finalizer));
        }
      }
    }
  }

  async deleteClusterObjects(): Promise<void> {
    for (const kind of CLUSTER_KINDS) {
      await Promise.all((await this.list(kind)).map((x) => this.api.deleteClusterCustomObject({ ...address(kind), name: x.metadata.name }).catch(() => undefined)));
    }
  }

  /** Waits until no cluster-scoped object of the run is left; then force-removes the rest, and says which. */
  async awaitClusterObjectsGone(timeoutMs: number): Promise<string[]> {
    try {
      await until("every cluster-scoped object of the run deleted (the operator releases its BackupRepos)", async () => {
        for (const kind of CLUSTER_KINDS) if ((await this.list(kind)).length) return undefined;
        return true;
      }, timeoutMs, 1_000);
      return [];
    } catch {
      const stuck: string[] = [];
      for (const kind of CLUSTER_KINDS) {
        for (const x of await this.list(kind)) {
          stuck.push(`${kind} ${x.metadata.name} not deleted within ${timeoutMs / 1000} s (finalizers ${JSON.stringify(x.metadata.finalizers ?? [])})`);
          await this.setFinalizers(kind, x, []);
        }
      }
      return stuck;
    }
  }
}

/**
 * Objects of an earlier, interrupted run with the same seed (only on a long-lived cluster such as
 * `npm run cluster`): they would turn this run's creates into 409s.
 */
async function purgeEarlierRun(kc: KubeConfig, prefix: string): Promise<void> {
  const run = new RunObjects(kc, prefix);
  for (const kind of CLUSTER_KINDS) if ((await run.list(kind)).length) console.log(`      removing ${kind}s left by an earlier run with prefix ${prefix}`);
  await run.deleteClusterObjects();
  await run.awaitClusterObjectsGone(30_000);
}

/**
 * Everything the run made goes, while the operator still runs: finalizers nobody serves are
 * stripped, both namespaces deleted (the operator releases its Backups) and, at the same time,
 * every cluster-scoped object of the run (the operator releases its repos, removing their PVCs,
 * Jobs, Secret copies and StorageClasses; a repo still used by a Backup waits for it). Returns
 * what was left behind (and force-removed).
 */
async function cleanUp(kc: KubeConfig, r: { ns: { name: string; cleanup(): Promise<void> }; xns: { name: string; cleanup(): Promise<void> }; prefix: string }): Promise<string[]> {
  const run = new RunObjects(kc, r.prefix);
  const leftovers: string[] = [];
  await run.stripForeignFinalizers([r.ns.name, r.xns.name]);
  const deletes = run.deleteClusterObjects();
  const nsDone = await Promise.allSettled([r.ns.cleanup(), r.xns.cleanup()]);
  await deletes;
  for (const [i, d] of nsDone.entries()) {
    if (d.status === "fulfilled") continue;
    const namespace = [r.ns.name, r.xns.name][i]!;
    leftovers.push(`namespace ${namespace} not deleted: ${String(d.reason).slice(0, 300)}`);
    // Whatever holds it (a finalizer the operator did not release) goes, so later suites start clean.
    for (const kind of NAMESPACED_KINDS) for (const x of await run.list(kind, namespace).catch(() => [] as Item[])) await run.setFinalizers(kind, x, []);
  }
  leftovers.push(...await run.awaitClusterObjectsGone(90_000));
  // What a repo made outlives it only if the operator forgot it: look for the run's repo names.
  const isOurs = (v: string | undefined) => !!v && v.startsWith(`${r.prefix}-`);
  const batch = kc.makeApiClient(BatchV1Api);
  const core = kc.makeApiClient(CoreV1Api);
  const storage = kc.makeApiClient(StorageV1Api);
  for (const j of (await batch.listJobForAllNamespaces({ labelSelector: LabelBackupRepoName })).items.filter((x) => isOurs(x.metadata?.labels?.[LabelBackupRepoName]))) {
    leftovers.push(`Job ${j.metadata?.namespace}/${j.metadata?.name} of BackupRepo ${j.metadata?.labels?.[LabelBackupRepoName]}`);
    await batch.deleteNamespacedJob({ name: j.metadata!.name!, namespace: j.metadata!.namespace!, propagationPolicy: "Background" }).catch(() => undefined);
  }
  for (const c of (await core.listPersistentVolumeClaimForAllNamespaces({ labelSelector: LabelBackupRepoName })).items.filter((x) => isOurs(x.metadata?.labels?.[LabelBackupRepoName]))) {
    leftovers.push(`PVC ${c.metadata?.namespace}/${c.metadata?.name} of BackupRepo ${c.metadata?.labels?.[LabelBackupRepoName]}`);
    await core.deleteNamespacedPersistentVolumeClaim({ name: c.metadata!.name!, namespace: c.metadata!.namespace! }).catch(() => undefined);
  }
  for (const s of (await core.listSecretForAllNamespaces({ labelSelector: LabelBackupRepoName })).items.filter((x) => isOurs(x.metadata?.labels?.[LabelBackupRepoName]))) {
    leftovers.push(`Secret ${s.metadata?.namespace}/${s.metadata?.name} of BackupRepo ${s.metadata?.labels?.[LabelBackupRepoName]}`);
    await core.deleteNamespacedSecret({ name: s.metadata!.name!, namespace: s.metadata!.namespace! }).catch(() => undefined);
  }
  for (const sc of (await storage.listStorageClass()).items.filter((x) => x.metadata?.ownerReferences?.some((o) => o.kind === "BackupRepo" && isOurs(o.name)) || x.metadata?.name?.includes(`${r.prefix}-`))) {
    leftovers.push(`StorageClass ${sc.metadata?.name}`);
    await storage.deleteStorageClass({ name: sc.metadata!.name! }).catch(() => undefined);
  }
  return leftovers;
}

/**
 * The test's own reads of what the run left: a response cut in transit (CI once saw node-fetch's
 * "Premature close" on a LIST of a thousand objects) is read again, up to five times; an answer
 * from the API server, error or not, is never retried.
 */
async function retryTransport<T>(read: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await read();
    } catch (err) {
      const cut = err instanceof Error && (err.name === "FetchError" || /Premature close|ECONNRESET|socket hang up|aborted/.test(err.message));
      if (!cut || attempt >= 5) throw err;
      await new Promise((r) => setTimeout(r, 500 * attempt));
    }
  }
}
