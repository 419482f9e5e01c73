// Pure: the scheduled prune of a deduplicated repo (spec.deduplication). Deleting a Backup only
// forgets its snapshots (dp-agent rm --all); the chunks no snapshot needs any more are removed by
// `dp-agent dedup prune`, which the operator runs at each tick of spec.deduplication.pruneSchedule
// in every namespace holding Backups on the repo (each namespace has its own deduplicated storage
// beside its backups: <namespace>[/<path-prefix>]/.dedup, one Job pruning each). A missed tick is
// not caught up one by one: the newest missed tick runs once. dp-agent's repository lock keeps a
// prune from removing a chunk a concurrent backup is about to reference (packages/agent README).
import type { V1Job } from "@kubernetes/client-node";
import { BackupPhase, LabelManagedBy, ManagedBy, type Backup, type BackupRepo, type DeduplicationStatus } from "@dataprotection/api";
import { childName, type DecidedEvent, type KubeObject } from "@dataprotection/runtime";
import { latestTickAtOrBefore, nextTickAfter, parseCron } from "../backuppolicy/cron.ts";
import { buildRepoAgentJob } from "./agent-job.ts";
import { isSafeFilePath } from "../backup/env.ts";
import type { RepoAccess } from "./access.ts";
import { repoLabels } from "./names.ts";
import { Reason } from "./reasons.ts";

export const DEFAULT_PRUNE_SCHEDULE = "0 3 * * *";
/** Label of a prune Job: the tick it prunes for (seconds since the epoch). */
export const LabelPruneTick = "dataprotection.kubeblocks.io/prune-tick";
/** A finished prune Job stays this long for `kubectl logs`, then Kubernetes removes it. */
const PRUNE_JOB_TTL_SECONDS = 24 * 3600;

export interface PruneObservation {
  /** The Backups whose status names this repo (the cache). */
  backups: ReadonlyArray<Backup & KubeObject>;
  /** The repo's prune Jobs (the cache: labelled with the repo and a prune tick). */
  jobs: ReadonlyArray<V1Job & KubeObject>;
}

export interface PruneDecision {
  jobs: V1Job[];
  events: DecidedEvent[];
  /** The new status.deduplication; undefined: none (deduplication is off). */
  status?: DeduplicationStatus;
  /** When to look again (the next tick), ms since the epoch. */
  wakeAt?: number;
}

/** The deduplicated storages to prune: per namespace, each prefix its Backups' data sits beside. */
export function pruneTargets(backups: ReadonlyArray<Backup & KubeObject>, repoName: string): Map<string, string[]> {
  const out = new Map<string, Set<string>>();
  for (const b of backups) {
    const filePath = b.status?.manifests?.backupTool?.filePath;
    const ns = b.metadata.namespace;
    if (b.status?.backupRepoName !== repoName || !ns || !filePath || !isSafeFilePath(filePath) || b.status?.phase === BackupPhase.New) continue;
    const parent = filePath.replace(/^\/+/, "").split("/").slice(0, -1).join("/");
    if (!parent) continue;
    if (!out.has(ns)) out.set(ns, new Set());
    out.get(ns)!.add(`${parent}/.dedup`);
  }
  return new Map([...out].sort(([a], [b]) => a.localeCompare(b)).map(([ns, p]) => [ns, [...p].sort()]));
}

export function pruneJobName(repoName: string, tick: Date): string {
  return childName(`dp-prune-${repoName}`, String(Math.floor(tick.getTime() / 1000)));
}

/** One namespace's prune: `dp-agent dedup prune` for each storage there, one after the other. */
export function buildPruneJob(repo: BackupRepo, access: RepoAccess, namespace: string, prefixes: readonly string[], tick: Date, image: string): V1Job {
  const repoName = repo.metadata?.name ?? "";
  const labels = { ...repoLabels(repoName), [LabelManagedBy]: ManagedBy, [LabelPruneTick]: String(Math.floor(tick.getTime() / 1000)) };
  return buildRepoAgentJob({
    name: pruneJobName(repoName, tick), namespace, labels, container: "prune", image, access, backoffLimit: 1, ttlSecondsAfterFinished: PRUNE_JOB_TTL_SECONDS,
    // The prefixes are arguments, never spliced into the script.
    command: ["sh", "-c", 'set -e; for p in "$@"; do DP_DEDUP_PREFIX="$p" dp-agent dedup prune --skip-missing; done', "dp-prune", ...prefixes],
  });
}

const jobState = (j: V1Job): "Complete" | "Failed" | "Running" => {
  const c = j.status?.conditions ?? [];
  if (c.some((x) => x.type === "Complete" && x.status === "True")) return "Complete";
  const failed = c.find((x) => x.type === "Failed" && x.status === "True");
  return failed ? "Failed" : "Running";
};

/** How the prune Jobs of the last tick ended, from the cache; "Running" while any runs. */
function lastResult(status: DeduplicationStatus | undefined, jobs: PruneObservation["jobs"]): { result: string; failed?: string } | undefined {
  const names = status?.lastPruneJobs ?? [];
  if (!status?.lastPruneTime || status.lastPruneResult !== "Running") return undefined;
  const byKey = new Map(jobs.map((j) => [`${j.metadata.namespace}/${j.metadata.name}`, j]));
  const failed: string[] = [];
  for (const n of names) {
    const j = byKey.get(n);
    // A Job gone before it was seen finishing (deleted by hand) is not known to have pruned.
    if (!j) failed.push(`Job ${n} is gone`);
    else if (jobState(j) === "Running") return undefined;
    else if (jobState(j) === "Failed") failed.push(`Job ${n} failed (${j.status?.conditions?.find((c) => c.type === "Failed")?.message ?? "see its pod's log"})`);
  }
  return failed.length ? { result: `Failed: ${failed.join("; ")}`, failed: failed.join("; ") } : { result: "Succeeded" };
}

/** Pure: what a Ready repo with deduplication does about pruning at `now`. */
export function decidePrune(repo: BackupRepo & KubeObject, access: RepoAccess, o: PruneObservation, image: string, now: Date): PruneDecision {
  if (!access.dedup) return { jobs: [], events: [] };
  const name = repo.metadata.name ?? "";
  const expression = repo.spec.deduplication?.pruneSchedule ?? DEFAULT_PRUNE_SCHEDULE;
  const before = repo.status?.deduplication;
  const status: DeduplicationStatus = { ...(before ?? {}) };
  const events: DecidedEvent[] = [];
  const cron = parseCron(expression);
  if (!cron.ok) {
    const result = `InvalidSchedule: spec.deduplication.pruneSchedule: ${cron.error}: fix it; nothing is pruned until then`;
    if (before?.lastPruneResult !== result) events.push({ type: "Warning", reason: Reason.InvalidPruneSchedule, message: result });
    delete status.nextPruneTime;
    return { jobs: [], events, status: { ...status, lastPruneResult: result } };
  }

  const ended = lastResult(before, o.jobs);
  if (ended) {
    status.lastPruneResult = ended.result;
    events.push(ended.failed
      ? { type: "Warning", reason: Reason.PruneFailed, message: `prune of ${before!.lastPruneTime}: ${ended.failed}` }
      : { type: "Normal", reason: Reason.PruneSucceeded, message: `prune of ${before!.lastPruneTime} finished in ${before!.lastPruneJobs?.length ?? 0} namespace(s)` });
  }

  // Ticks count from the last prune, or from the repo's creation: a new repo waits for its first tick.
  const anchor = new Date(Date.parse(before?.lastPruneTime ?? "") || Date.parse(String(repo.metadata.creationTimestamp ?? "")) || now.getTime());
  const due = nextTickAfter(cron.cron, anchor);
  if (due.getTime() > now.getTime() || status.lastPruneResult === "Running") {
    // Not due, or the last prune still runs (a slow prune is not stacked with another).
    const next = due.getTime() > now.getTime() ? due : nextTickAfter(cron.cron, now);
    status.nextPruneTime = iso(next);
    return { jobs: [], events, status, wakeAt: next.getTime() };
  }

  const tick = latestTickAtOrBefore(cron.cron, now) ?? due;
  const targets = pruneTargets(o.backups, name);
  const jobs = [...targets].map(([ns, prefixes]) => buildPruneJob(repo, access, ns, prefixes, tick, image));
  const keys = jobs.map((j) => `${j.metadata!.namespace}/${j.metadata!.name}`);
  const next = nextTickAfter(cron.cron, tick);
  status.lastPruneTime = iso(tick);
  status.lastPruneJobs = keys;
  status.lastPruneResult = keys.length ? "Running" : "Succeeded";
  status.nextPruneTime = iso(next);
  events.push({
    type: "Normal",
    reason: Reason.PruneStarted,
    message: keys.length ? `pruning deduplicated storage for the tick of ${iso(tick)}: ${keys.join(", ")}` : `nothing to prune at ${iso(tick)}: no namespace holds Backups on BackupRepo "${name}"`,
  });
  return { jobs, events, status, wakeAt: next.getTime() };
}

const iso = (d: Date): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");
