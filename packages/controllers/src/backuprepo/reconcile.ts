// observe (the repo's world: the cache, the few live reads, a Tool repo's probe) -> decide
// (decideRepo, pure) -> apply (applyDecision; the prerequisites are the repo's read-then-write
// Secrets). Every `if` lives in decide.ts; this file only reads and writes.
import type { V1Job, V1Pod, V1Secret, V1StorageClass } from "@kubernetes/client-node";
import { AccessMethod, Finalizer, LabelBackupRepoName, StorageProviderPhase, type Backup, type BackupRepo, type StorageProvider } from "@dataprotection/api";
import { applyDecision, hasFinalizer, labelValue, type KubeClient, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { decodeSecretData } from "../storageprovider/parameters.ts";
import { blockingBackups, decideRepo, preCheckJobKey, preCheckNamespace, preCheckReads, repoSecretRefs, type MountPreCheck, type PreCheckReads, type RepoDeletion, type RepoObservation, type RepoPrereq, type ToolPreCheck } from "./decide.ts";
import { applySecretCopy, readObject } from "./ensure.ts";
import { probeToolRepo, toolRepoConfig } from "./probe.ts";
import { templateValues } from "./values.ts";
import { LabelPreCheckGeneration } from "./names.ts";
import { LabelPruneTick } from "./prune.ts";

type Repo = BackupRepo & KubeObject;
const LabelJobName = "job-name";

export async function reconcileBackupRepo(req: ObjectKey, ctx: ReconcileContext, op: OperatorContext): Promise<ReconcileResult | void> {
  const repo = ctx.cache.get<Repo>(Kinds.BackupRepo, req.name);
  if (!repo) return;
  const now = new Date(ctx.clock.now());
  const o = await observe(repo, ctx, op, now);
  return applyDecision(ctx, Kinds.BackupRepo, repo, decideRepo(o, now), { prepare: (p) => prepare(ctx.client, p) });
}

async function prepare(client: KubeClient, p: RepoPrereq): Promise<void> {
  if (p.type === "secretCopy") return applySecretCopy(client, p.copy, p.source, p.namespace);
  await client.replace(Kinds.Secret, p.secret);
}

/** Reads what decideRepo needs, no further than its walk goes (the pre-check only when it takes one). */
async function observe(repo: Repo, ctx: ReconcileContext, op: OperatorContext, now: Date): Promise<RepoObservation> {
  const o: RepoObservation = {
    repo,
    repos: ctx.cache.list<Repo>(Kinds.BackupRepo),
    settings: { operatorNamespace: op.namespace, agentImage: op.agentImage, podStartMs: op.timeouts.podStartMs },
  };
  // Without the finalizer decide adds it (or, deleting, has nothing left to do).
  if (!hasFinalizer(repo, Finalizer)) return o;
  if (repo.metadata.deletionTimestamp) return { ...o, deletion: await observeDeletion(repo, ctx) };

  const provider = ctx.cache.get<StorageProvider & KubeObject>(Kinds.StorageProvider, repo.spec.storageProviderRef);
  o.provider = provider;
  if (provider?.status?.phase !== StorageProviderPhase.Ready) return o;
  const cred = repo.spec.credential;
  if (cred?.name) {
    const secret = await readObject<V1Secret & KubeObject>(ctx.client, undefined, Kinds.Secret, cred.name, cred.namespace ?? "default");
    o.credential = secret ? decodeSecretData(secret) : null;
    if (!secret) return o;
  }
  if ((repo.spec.accessMethod ?? AccessMethod.Mount) === AccessMethod.Mount) {
    o.workNamespaceFound = !!(await readObject<KubeObject>(ctx.client, undefined, Kinds.Namespace, preCheckNamespace(repo, op.namespace)));
    const values = templateValues(repo, o.credential ?? undefined, op.namespace);
    if (provider.spec.csiDriverSecretTemplate) {
      const ref = values.CSIDriverSecretRef;
      o.csiDriverSecret = (await readObject<V1Secret & KubeObject>(ctx.client, undefined, Kinds.Secret, ref.Name, ref.Namespace)) ?? null;
    }
    o.storageClass = ctx.cache.get<V1StorageClass & KubeObject>(Kinds.StorageClass, values.GeneratedStorageClassName);
    const job = preCheckJobKey(repo, op.namespace);
    o.preCheckJob = ctx.cache.get<V1Job & KubeObject>(Kinds.Job, job.name, job.namespace) ?? null;
  }
  if (repo.spec.deduplication?.enabled) {
    const name = repo.metadata.name ?? "";
    o.prune = {
      backups: ctx.cache.list<Backup & KubeObject>(Kinds.Backup).filter((b) => b.status?.backupRepoName === name),
      jobs: ctx.cache.list<V1Job & KubeObject>(Kinds.Job, { labels: { [LabelBackupRepoName]: labelValue(name) } }).filter((j) => j.metadata.labels?.[LabelPruneTick] !== undefined),
    };
  }
  const reads = preCheckReads(o, now);
  if (reads?.method === AccessMethod.Mount) o.preCheck = await observeMountPreCheck(repo, reads, o.preCheckJob, ctx);
  else if (reads?.method === AccessMethod.Tool) o.preCheck = await runToolPreCheck(repo, provider, o.credential ?? undefined, op);
  return o;
}

async function observeMountPreCheck(repo: Repo, reads: Extract<PreCheckReads, { method: "Mount" }>, job: (V1Job & KubeObject) | null | undefined, ctx: ReconcileContext): Promise<MountPreCheck> {
  const sources: MountPreCheck["sources"] = {};
  for (const s of reads.sources) {
    const key = `${s.namespace}/${s.name}`;
    if (key in sources) continue;
    const secret = await readObject<V1Secret & KubeObject>(ctx.client, ctx.cache, Kinds.Secret, s.name, s.namespace);
    sources[key] = secret ? decodeSecretData(secret) : null;
  }
  return {
    method: AccessMethod.Mount,
    sources,
    pvc: (await readObject(ctx.client, undefined, Kinds.PersistentVolumeClaim, reads.pvcName, reads.namespace)) ?? null,
    // Only pre-check Jobs: the repo's prune Jobs carry its label too.
    jobs: ctx.cache.list<V1Job & KubeObject>(Kinds.Job, { labels: { [LabelBackupRepoName]: labelValue(repo.metadata.name ?? "") } }).filter((j) => j.metadata.labels?.[LabelPreCheckGeneration] !== undefined),
    ...(job ? { podMessage: await podMessage(ctx, reads.namespace, job.metadata.name ?? "") } : {}),
  };
}

async function runToolPreCheck(repo: Repo, provider: StorageProvider, credential: Record<string, string> | undefined, op: OperatorContext): Promise<ToolPreCheck> {
  try {
    return { method: AccessMethod.Tool, probe: { location: await probeToolRepo(toolRepoConfig(repo, provider, credential), Math.min(op.timeouts.podStartMs, 60_000)) } };
  } catch (e) {
    return { method: AccessMethod.Tool, probe: { error: (e as Error).message } };
  }
}

async function podMessage(ctx: ReconcileContext, ns: string, jobName: string): Promise<string | undefined> {
  try {
    const pods = await ctx.client.list<V1Pod & KubeObject>(Kinds.Pod, { namespace: ns, labelSelector: `${LabelJobName}=${jobName}` });
    for (const p of pods.items) for (const s of p.status?.containerStatuses ?? []) if (s.state?.terminated?.message) return s.state.terminated.message;
  } catch {
    // best effort: the Job's own condition message is used instead
  }
  return undefined;
}

/** The Backups that keep the repo, and, when none does, everything its deletion removes. */
async function observeDeletion(repo: Repo, ctx: ReconcileContext): Promise<RepoDeletion> {
  const name = repo.metadata.name ?? "";
  let blocking = blockingBackups(ctx.cache.list<Backup & KubeObject>(Kinds.Backup), name);
  // The cache may not hold a Backup created a moment ago: before removing the repo's PVCs,
  // ask the API server itself (new Backups are refused once the repo is being deleted).
  if (!blocking.length) blocking = blockingBackups((await ctx.client.list<Backup & KubeObject>(Kinds.Backup)).items, name);
  if (blocking.length) return { blocking, jobs: [], pvcs: [], secrets: [] };
  const labelSelector = `${LabelBackupRepoName}=${labelValue(name)}`;
  const jobs = (await ctx.client.list<KubeObject>(Kinds.Job, { labelSelector })).items;
  const pvcs = (await ctx.client.list<KubeObject>(Kinds.PersistentVolumeClaim, { labelSelector })).items;
  const namespaces = (await ctx.client.list<KubeObject>(Kinds.Namespace)).items.map((n) => n.metadata.name ?? "");
  const secrets: KubeObject[] = [];
  for (const r of repoSecretRefs(repo, namespaces)) {
    const s = await readObject<KubeObject>(ctx.client, undefined, Kinds.Secret, r.name, r.namespace);
    if (s) secrets.push(s);
  }
  return { blocking, jobs, pvcs, secrets };
}
