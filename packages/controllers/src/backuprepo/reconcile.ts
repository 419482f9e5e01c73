// The shell: read the repo and its world, converge the children, write status.
// Every `if` that can live without I/O is in decide.ts / precheck.ts / the builders.
import type { V1Job, V1Pod, V1Secret, V1StorageClass } from "@kubernetes/client-node";
import { AccessMethod, BackupRepoPhase, Finalizer, LabelBackupRepoName, StorageProviderPhase, type Backup, type BackupRepo, type BackupRepoStatus, type StorageProvider } from "@dataprotection/api";
import { addFinalizer, clone, createIfAbsent, findCondition, hasFinalizer, isNotFound, removeCondition, removeFinalizer, setCondition, updateStatus, type Kind, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { decodeSecretData, parameterProblems } from "../storageprovider/parameters.ts";
import { TemplateError } from "../storageprovider/template.ts";
import { repoPVCName, secretCopyNames } from "./access.ts";
import { blockingBackups, describeList, isDefaultRepo, otherDefaults } from "./decide.ts";
import { RepoAccessError, ensureRepoAccess, readObject } from "./ensure.ts";
import { LabelPreCheckGeneration, preCheckJobName } from "./names.ts";
import { buildPreCheckJob, preCheckOutcome } from "./precheck.ts";
import { probeToolRepo, toolRepoConfig } from "./probe.ts";
import { Condition, Reason } from "./reasons.ts";
import { buildCSIDriverSecret } from "./secret.ts";
import { buildStorageClass } from "./storageclass.ts";
import { templateValues } from "./values.ts";

type Repo = BackupRepo & KubeObject;
/** How often a Failed repo is checked again (a fixed Secret or endpoint heals it). */
export const FailedRetryMs = 30_000;
const LabelJobName = "job-name";

interface Outcome {
  phase: BackupRepoPhase;
  reason: string;
  message: string;
  requeueAfter?: number;
}

export async function reconcileBackupRepo(req: ObjectKey, ctx: ReconcileContext, op: OperatorContext): Promise<ReconcileResult | void> {
  let repo = ctx.cache.get<Repo>(Kinds.BackupRepo, req.name);
  if (!repo) return;
  if (repo.metadata.deletionTimestamp) return reconcileDeletion(repo, ctx);
  if (!hasFinalizer(repo, Finalizer)) repo = await addFinalizer(ctx.client, Kinds.BackupRepo, repo, Finalizer);

  const now = new Date(ctx.clock.now());
  const gen = repo.metadata.generation ?? 0;
  const status: BackupRepoStatus = clone(repo.status ?? {});
  const outcome = await converge(repo, status, ctx, op, now);

  status.observedGeneration = gen;
  status.isDefault = isDefaultRepo(repo);
  const others = otherDefaults(ctx.cache.list<Repo>(Kinds.BackupRepo), repo);
  const conflictMessage = `BackupRepos ${[repo.metadata.name!, ...others].sort().join(", ")} are all annotated as the default repo: remove the annotation from all but one`;
  status.conditions = others.length
    ? setCondition(status.conditions, { type: "DefaultRepo", status: "False", reason: Reason.MultipleDefaultRepos, message: conflictMessage, observedGeneration: gen }, now)
    : removeCondition(status.conditions, "DefaultRepo");
  status.phase = outcome.phase;
  if (outcome.phase === BackupRepoPhase.Failed) status.failureReason = `${outcome.reason}: ${outcome.message}`;
  else delete status.failureReason;
  status.conditions = setCondition(status.conditions, {
    type: Condition.Ready,
    status: outcome.phase === BackupRepoPhase.Ready ? "True" : "False",
    reason: outcome.reason,
    message: outcome.message,
    observedGeneration: gen,
  }, now);

  const before = repo.status;
  await updateStatus<Repo>(ctx.client, Kinds.BackupRepo, repo, (draft) => {
    draft.status = status;
  });
  const changed = before?.phase !== status.phase || before?.failureReason !== status.failureReason;
  if (changed) ctx.events.record(repo, outcome.phase === BackupRepoPhase.Failed ? "Warning" : "Normal", outcome.reason, outcome.message);
  const hadConflict = findCondition(before?.conditions, "DefaultRepo")?.message;
  if (others.length && hadConflict !== conflictMessage) ctx.events.warning(repo, Reason.MultipleDefaultRepos, conflictMessage);
  if (outcome.requeueAfter !== undefined) return { requeueAfter: outcome.requeueAfter };
}

/** Creates what the repo needs and runs its pre-check; fills `status` and says where the repo stands. */
async function converge(repo: Repo, status: BackupRepoStatus, ctx: ReconcileContext, op: OperatorContext, now: Date): Promise<Outcome> {
  const name = repo.metadata.name!;
  const gen = repo.metadata.generation ?? 0;
  const fail = (reason: string, message: string): Outcome => ({ phase: BackupRepoPhase.Failed, reason, message, requeueAfter: FailedRetryMs });

  const providerName = repo.spec.storageProviderRef;
  const provider = ctx.cache.get<StorageProvider & KubeObject>(Kinds.StorageProvider, providerName);
  if (!provider) return fail(Reason.StorageProviderNotFound, `StorageProvider "${providerName}" not found: create it or change BackupRepo "${name}" .spec.storageProviderRef`);
  if (provider.status?.phase !== StorageProviderPhase.Ready) {
    const why = findCondition(provider.status?.conditions, "Ready")?.message ?? "it has not been checked yet";
    return { ...fail(Reason.StorageProviderNotReady, `StorageProvider "${providerName}" is not ready (${why})`), requeueAfter: undefined };
  }

  let credential: Record<string, string> | undefined;
  const cred = repo.spec.credential;
  if (cred?.name) {
    const ns = cred.namespace ?? "default";
    const secret = await readObject<V1Secret & KubeObject>(ctx.client, undefined, Kinds.Secret, cred.name, ns);
    if (!secret) return fail(Reason.SecretNotFound, `credential Secret "${ns}/${cred.name}" not found: create it or fix BackupRepo "${name}" .spec.credential`);
    credential = decodeSecretData(secret);
  }
  const problems = parameterProblems(provider, repo, credential);
  if (problems.length) return fail(Reason.InvalidParameters, problems.join("; "));

  const method = repo.spec.accessMethod ?? AccessMethod.Mount;
  if (method === AccessMethod.Mount) {
    if (!provider.spec.storageClassTemplate && !provider.spec.persistentVolumeClaimTemplate) {
      return fail(Reason.InvalidParameters, `StorageProvider "${providerName}" has neither storageClassTemplate nor persistentVolumeClaimTemplate, so it cannot back a Mount repo: set BackupRepo "${name}" .spec.accessMethod to Tool or use another provider`);
    }
    try {
      await ensureStorage(repo, provider, status, credential, ctx, op);
    } catch (e) {
      if (e instanceof TemplateError) return fail(Reason.TemplateError, e.message);
      throw e;
    }
  } else {
    delete status.backupPVCName;
  }

  const passed = findCondition(status.conditions, Condition.PreCheckPassed);
  if (passed?.status === "True" && passed.observedGeneration === gen) return ready(name);
  const result = method === AccessMethod.Mount ? await preCheckMount(repo, status, ctx, op, now) : await preCheckTool(repo, provider, credential, op);
  if (result.phase === BackupRepoPhase.Ready) {
    ctx.events.normal(repo, Reason.PreCheckPassed, result.message);
    status.conditions = setCondition(status.conditions, { type: Condition.PreCheckPassed, status: "True", reason: Reason.PreCheckPassed, message: result.message, observedGeneration: gen }, now);
    return ready(name);
  }
  if (result.phase === BackupRepoPhase.Failed) {
    status.conditions = setCondition(status.conditions, { type: Condition.PreCheckPassed, status: "False", reason: result.reason, message: result.message, observedGeneration: gen }, now);
  }
  return result;
}

function ready(name: string): Outcome {
  return { phase: BackupRepoPhase.Ready, reason: Reason.Ready, message: `BackupRepo "${name}" passed its pre-check and is ready` };
}

/** Mount repos: the CSI driver Secret and the StorageClass (cluster-scoped, owned by the repo). */
async function ensureStorage(repo: Repo, provider: StorageProvider, status: BackupRepoStatus, credential: Record<string, string> | undefined, ctx: ReconcileContext, op: OperatorContext): Promise<void> {
  const name = repo.metadata.name!;
  const values = templateValues({ ...repo, status }, credential, op.namespace);
  if (provider.spec.csiDriverSecretTemplate) {
    const secret = buildCSIDriverSecret(provider, values, name);
    const ns = values.CSIDriverSecretRef.Namespace;
    const existing = await readObject<V1Secret & KubeObject>(ctx.client, undefined, Kinds.Secret, values.CSIDriverSecretRef.Name, ns);
    if (!existing) {
      await createIfAbsent(ctx.client, Kinds.Secret, secret as KubeObject);
      ctx.events.normal(repo, Reason.CSIDriverSecretCreated, `created CSI driver Secret "${ns}/${values.CSIDriverSecretRef.Name}" from StorageProvider "${provider.metadata?.name}"`);
    } else if (JSON.stringify(existing.data ?? {}) !== JSON.stringify(secret.data ?? {})) {
      await ctx.client.replace(Kinds.Secret, { ...existing, data: secret.data } as KubeObject);
    }
    status.generatedCSIDriverSecret = { name: values.CSIDriverSecretRef.Name, namespace: ns };
  }
  if (provider.spec.storageClassTemplate) {
    const sc = buildStorageClass(repo, provider, values);
    const scName = sc.metadata!.name!;
    if (!ctx.cache.get<V1StorageClass & KubeObject>(Kinds.StorageClass, scName)) {
      await createIfAbsent(ctx.client, Kinds.StorageClass, sc as KubeObject);
      ctx.events.normal(repo, Reason.StorageClassCreated, `created StorageClass "${scName}" (provisioner ${sc.provisioner}, reclaimPolicy ${sc.reclaimPolicy})`);
    }
    status.generatedStorageClassName = scName;
  }
  status.backupPVCName = repoPVCName(name);
}

/** Where a Mount repo's pre-check Job runs: the operator's namespace, else the credential's, else "default". */
export function preCheckNamespace(repo: BackupRepo, op: OperatorContext): string {
  return op.namespace ?? repo.spec.credential?.namespace ?? "default";
}

async function preCheckMount(repo: Repo, status: BackupRepoStatus, ctx: ReconcileContext, op: OperatorContext, now: Date): Promise<Outcome> {
  const name = repo.metadata.name!;
  const gen = repo.metadata.generation ?? 0;
  const ns = preCheckNamespace(repo, op);
  const timeoutMs = op.timeouts.podStartMs;
  let access;
  try {
    access = await ensureRepoAccess(ctx.client, ctx.cache, { ...repo, status }, ns, op.namespace);
  } catch (e) {
    if (e instanceof RepoAccessError) return { phase: BackupRepoPhase.Failed, reason: e.reason, message: e.message, requeueAfter: FailedRetryMs };
    if (e instanceof TemplateError) return { phase: BackupRepoPhase.Failed, reason: Reason.TemplateError, message: e.message, requeueAfter: FailedRetryMs };
    throw e;
  }
  const jobName = preCheckJobName(name, gen);
  const job = ctx.cache.get<V1Job & KubeObject>(Kinds.Job, jobName, ns);
  if (!job) {
    for (const old of ctx.cache.list<V1Job & KubeObject>(Kinds.Job, { labels: { [LabelBackupRepoName]: name } })) {
      if (old.metadata.labels?.[LabelPreCheckGeneration] !== String(gen)) await deleteTolerant(ctx, Kinds.Job, old.metadata.name!, old.metadata.namespace);
    }
    await createIfAbsent(ctx.client, Kinds.Job, buildPreCheckJob(repo, access, ns, op.agentImage, Math.ceil(timeoutMs / 1000)) as KubeObject);
    const message = `pre-check Job "${ns}/${jobName}" writes, reads back and deletes a probe file on PVC "${access.pvcName}"`;
    ctx.events.normal(repo, Reason.PreCheckStarted, message);
    return { phase: BackupRepoPhase.PreChecking, reason: Reason.PreCheckStarted, message, requeueAfter: timeoutMs };
  }
  const out = preCheckOutcome(job, now.getTime(), timeoutMs + 30_000, await podMessage(ctx, ns, jobName));
  if (out.state === "running") return { phase: BackupRepoPhase.PreChecking, reason: Reason.PreCheckStarted, message: `waiting for pre-check Job "${ns}/${jobName}"`, requeueAfter: out.remainingMs };
  if (out.state === "passed") {
    await deleteTolerant(ctx, Kinds.Job, jobName, ns);
    return { phase: BackupRepoPhase.Ready, reason: Reason.PreCheckPassed, message: `pre-check Job "${ns}/${jobName}" wrote, read back and deleted a probe file` };
  }
  return {
    phase: BackupRepoPhase.Failed,
    reason: out.timedOut ? Reason.PreCheckTimedOut : Reason.PreCheckFailed,
    message: `pre-check Job "${ns}/${jobName}" failed: ${out.message}: fix the storage and bump the repo (e.g. edit .spec.config) to check again`,
  };
}

async function preCheckTool(repo: Repo, provider: StorageProvider, credential: Record<string, string> | undefined, op: OperatorContext): Promise<Outcome> {
  const name = repo.metadata.name!;
  try {
    const location = await probeToolRepo(toolRepoConfig(repo, provider, credential), Math.min(op.timeouts.podStartMs, 60_000));
    return { phase: BackupRepoPhase.Ready, reason: Reason.PreCheckPassed, message: `wrote, read back and deleted a probe object in ${location}` };
  } catch (e) {
    return { phase: BackupRepoPhase.Failed, reason: Reason.PreCheckFailed, message: `pre-check of BackupRepo "${name}" failed: ${(e as Error).message}`, requeueAfter: FailedRetryMs };
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

/** Deletion waits for every Backup that uses the repo, then removes what the repo created. */
async function reconcileDeletion(repo: Repo, ctx: ReconcileContext): Promise<ReconcileResult | void> {
  if (!hasFinalizer(repo, Finalizer)) return;
  const name = repo.metadata.name!;
  const now = new Date(ctx.clock.now());
  let blocking = blockingBackups(ctx.cache.list<Backup & KubeObject>(Kinds.Backup), name);
  // The cache may not hold a Backup created a moment ago: before removing the repo's PVCs,
  // ask the API server itself (new Backups are refused once the repo is being deleted).
  if (!blocking.length) blocking = blockingBackups((await ctx.client.list<Backup & KubeObject>(Kinds.Backup)).items, name);
  if (blocking.length) {
    const message = `BackupRepo "${name}" is still used by ${blocking.length} Backup(s): ${describeList(blocking)}: delete them (or wait for their deletion) before the repo`;
    const before = findCondition(repo.status?.conditions, Condition.DeletionBlocked)?.message;
    await updateStatus<Repo>(ctx.client, Kinds.BackupRepo, repo, (d) => {
      d.status = { ...(d.status ?? {}), phase: BackupRepoPhase.Deleting };
      d.status.conditions = setCondition(d.status.conditions, { type: Condition.DeletionBlocked, status: "True", reason: Reason.DeletionBlocked, message, observedGeneration: repo.metadata.generation }, now);
    });
    if (before !== message) ctx.events.warning(repo, Reason.DeletionBlocked, message);
    return { requeueAfter: FailedRetryMs };
  }
  const selector = `${LabelBackupRepoName}=${name}`;
  for (const kind of [Kinds.Job, Kinds.PersistentVolumeClaim]) {
    const list = await ctx.client.list<KubeObject>(kind, { labelSelector: selector });
    for (const o of list.items) await deleteTolerant(ctx, kind, o.metadata.name!, o.metadata.namespace);
  }
  await removeSecretCopies(ctx, repo);
  if (repo.status?.generatedStorageClassName) await deleteTolerant(ctx, Kinds.StorageClass, repo.status.generatedStorageClassName);
  ctx.events.normal(repo, Reason.Deleting, `no Backup uses BackupRepo "${name}": removed its PVCs, Secret copies and StorageClass`);
  await removeFinalizer(ctx.client, Kinds.BackupRepo, repo, Finalizer);
}

/**
 * The repo's Secrets: its copies (fixed names) in every namespace, and the CSI driver Secret.
 * Looked up by name, never listed: the operator may not list Secrets (their values come with the
 * list). Deleted only when labelled with this repo, so a user's own Secret of that name stays.
 */
async function removeSecretCopies(ctx: ReconcileContext, repo: Repo): Promise<void> {
  const name = repo.metadata.name!;
  const names = secretCopyNames(name);
  const namespaces = (await ctx.client.list<KubeObject>(Kinds.Namespace)).items.map((n) => n.metadata.name!);
  const targets = namespaces.flatMap((ns) => names.map((n) => ({ ns, n })));
  const csi = repo.status?.generatedCSIDriverSecret;
  if (csi?.name && csi.namespace) targets.push({ ns: csi.namespace, n: csi.name });
  for (const t of targets) {
    const s = await readObject<KubeObject>(ctx.client, undefined, Kinds.Secret, t.n, t.ns);
    if (s?.metadata.labels?.[LabelBackupRepoName] === name) await deleteTolerant(ctx, Kinds.Secret, t.n, t.ns);
  }
}

async function deleteTolerant(ctx: ReconcileContext, kind: Kind, name: string, namespace?: string): Promise<void> {
  try {
    await ctx.client.delete(kind, name, namespace, { propagationPolicy: "Background" });
  } catch (e) {
    if (!isNotFound(e)) throw e;
  }
}
