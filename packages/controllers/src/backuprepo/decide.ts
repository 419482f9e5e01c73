// Pure: one BackupRepo reconcile as the runtime's Decision, from what the shell (reconcile.ts)
// observed and `now`. The same walk as the repo has always taken: provider, credential,
// parameters, storage (Mount), pre-check; each step's writes are kept when a later one fails.
import type { V1Job, V1PersistentVolumeClaim, V1Secret, V1StorageClass } from "@kubernetes/client-node";
import {
  AccessMethod, AnnotationIsDefaultRepo, BackupRepoPhase, Finalizer, LabelBackupRepoName, StorageProviderPhase,
  type Backup, type BackupRepo, type BackupRepoStatus, type StorageProvider,
} from "@dataprotection/api";
import { clone, findCondition, hasFinalizer, labelValue, removeCondition, setCondition, type DecidedEvent, type Decision, type Kind, type KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { parameterProblems } from "../storageprovider/parameters.ts";
import { TemplateError } from "../storageprovider/template.ts";
import { repoAccessFor, repoPVCName, secretCopyNames, type SecretCopy } from "./access.ts";
import { LabelPreCheckGeneration, preCheckJobName } from "./names.ts";
import { buildPreCheckJob, preCheckOutcome } from "./precheck.ts";
import { decidePrune, type PruneObservation } from "./prune.ts";
import { RepoAccessError, copyProblem, copySourceRole, pvcDeleting, repoNotReady, secretNotFound } from "./problems.ts";
import { buildRepoPVC } from "./pvc.ts";
import { Condition, Reason } from "./reasons.ts";
import { buildCSIDriverSecret } from "./secret.ts";
import { buildStorageClass } from "./storageclass.ts";
import { templateValues } from "./values.ts";

type Repo = BackupRepo & KubeObject;

/** How often a Failed repo is checked again (a fixed Secret or endpoint heals it). */
const FailedRetryMs = 30_000;

/** The operator's settings a decision reads. */
export interface RepoSettings {
  operatorNamespace?: string;
  /** The image of the pre-check Job. */
  agentImage: string;
  /** How long the pre-check Job may take to start (Timeouts.podStartMs). */
  podStartMs: number;
}

export interface RepoObservation {
  repo: Repo;
  /** Every BackupRepo in the cache: another default one is a conflict. */
  repos: readonly Repo[];
  settings: RepoSettings;
  provider?: StorageProvider;
  /** The data of the Secret .spec.credential names (a live read); null when it does not exist. */
  credential?: Record<string, string> | null;
  /** Mount repos whose provider has a csiDriverSecretTemplate: that Secret (a live read), null when absent. */
  csiDriverSecret?: (V1Secret & KubeObject) | null;
  /** Mount repos: whether the namespace of the pre-check Job (and CSI driver Secret) exists. */
  workNamespaceFound?: boolean;
  /** The generated StorageClass, when the cache holds it. */
  storageClass?: V1StorageClass;
  /** Mount repos: this generation's pre-check Job (the cache, see {@link preCheckJobKey}), null when absent. */
  preCheckJob?: (V1Job & KubeObject) | null;
  /** What the pre-check the shell read or ran (as {@link preCheckReads} asked) found. */
  preCheck?: MountPreCheck | ToolPreCheck;
  /** A repo being deleted (with the finalizer): what keeps it and what it leaves behind. */
  deletion?: RepoDeletion;
  /** A deduplicated repo: its Backups and prune Jobs (the cache), for the scheduled prune. */
  prune?: PruneObservation;
}

/** What a Mount repo's pre-check reads: what ensureRepoAccess would, and the repo's pre-check Jobs. */
export interface MountPreCheck {
  method: typeof AccessMethod.Mount;
  /** The source Secrets of the repo's copies by "namespace/name": their decoded data, null when absent. */
  sources: Record<string, Record<string, string> | null>;
  /** The repo PVC in the pre-check namespace (a live read), null when absent. */
  pvc: (V1PersistentVolumeClaim & KubeObject) | null;
  /** Every pre-check Job of the repo (the cache): other generations' are deleted. */
  jobs: ReadonlyArray<V1Job & KubeObject>;
  /** A container's termination message from the Job's pod, when there is one. */
  podMessage?: string;
}

/** A Tool repo's probe, run by the shell: the repo's location, or what went wrong. */
export interface ToolPreCheck {
  method: typeof AccessMethod.Tool;
  probe: { location: string } | { error: string };
}

/** What the shell must read (Mount) or run (Tool) for the pre-check this pass takes. */
export type PreCheckReads =
  | { method: typeof AccessMethod.Mount; namespace: string; pvcName: string; sources: Array<{ namespace: string; name: string }> }
  | { method: typeof AccessMethod.Tool };

export interface RepoDeletion {
  /** "namespace/name" of every Backup still using the repo, sorted. */
  blocking: string[];
  /** Read when nothing blocks: the Jobs and PVCs labelled with the repo, and the Secrets found at the names of its copies and CSI driver Secret ({@link repoSecretRefs}). */
  jobs: KubeObject[];
  pvcs: KubeObject[];
  secrets: KubeObject[];
}

/** Writes that depend on what exists, done by apply before the creates. */
export type RepoPrereq =
  /** A credential or encryption key copy in the pre-check namespace (applySecretCopy: create, or bring its data up to date). */
  | { type: "secretCopy"; copy: SecretCopy; source: Record<string, string>; namespace: string }
  /** The CSI driver Secret with its data re-rendered: replaced as read (its resourceVersion guards it). */
  | { type: "csiDriverSecret"; secret: V1Secret & KubeObject };

interface Outcome {
  phase: BackupRepoPhase;
  reason: string;
  message: string;
  requeueAfter?: number;
}

interface Effects {
  prepare: RepoPrereq[];
  creates: Array<{ kind: Kind; object: object }>;
  deletes: Array<{ kind: Kind; name: string; namespace?: string }>;
  events: DecidedEvent[];
}

/** The pass got to the pre-check, which was not observed: what to read for it. */
interface NeedsPreCheck {
  reads: PreCheckReads;
}

export function decideRepo(o: RepoObservation, now: Date): Decision<BackupRepoStatus, RepoPrereq> {
  const { repo } = o;
  if (repo.metadata.deletionTimestamp) return decideDeletion(o, now);
  // Alone, before anything the repo makes, so a deletion always finds it; its watch event brings the next pass.
  if (!hasFinalizer(repo, Finalizer)) return { finalizer: { add: Finalizer } };

  const name = repo.metadata.name ?? "";
  const gen = repo.metadata.generation ?? 0;
  const fx: Effects = { prepare: [], creates: [], deletes: [], events: [] };
  const status: BackupRepoStatus = clone(repo.status ?? {});
  const walked = converge(o, status, fx, now);
  if ("reads" in walked) throw new Error(`decideRepo: BackupRepo "${name}" needs its ${walked.reads.method} pre-check observed`);
  const outcome = walked;

  status.observedGeneration = gen;
  status.isDefault = isDefaultRepo(repo);
  const others = otherDefaults(o.repos, repo);
  const conflictMessage = `BackupRepos ${[name, ...others].sort().join(", ")} are all annotated as the default repo: remove the annotation from all but one`;
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
  if (before?.phase !== status.phase || before?.failureReason !== status.failureReason) {
    fx.events.push({ type: outcome.phase === BackupRepoPhase.Failed ? "Warning" : "Normal", reason: outcome.reason, message: outcome.message });
  }
  if (others.length && findCondition(before?.conditions, "DefaultRepo")?.message !== conflictMessage) {
    fx.events.push({ type: "Warning", reason: Reason.MultipleDefaultRepos, message: conflictMessage });
  }
  let requeueAfter = outcome.requeueAfter;
  if (outcome.phase === BackupRepoPhase.Ready && o.provider) {
    const prune = decidePrune(repo, repoAccessFor(repo, o.provider), o.prune ?? { backups: [], jobs: [] }, o.settings.agentImage, now);
    fx.creates.push(...prune.jobs.map((object) => ({ kind: Kinds.Job, object })));
    fx.events.push(...prune.events);
    if (prune.status) status.deduplication = prune.status;
    if (prune.wakeAt !== undefined) requeueAfter = Math.min(requeueAfter ?? Infinity, Math.max(1000, prune.wakeAt - now.getTime()));
  }
  return { ...fx, status, ...(requeueAfter !== undefined ? { requeueAfterMs: requeueAfter } : {}) };
}

/** The pre-check decideRepo would take with `o`, and so what the shell must read or run for it; undefined when it takes none. */
export function preCheckReads(o: RepoObservation, now: Date): PreCheckReads | undefined {
  if (o.repo.metadata.deletionTimestamp || !hasFinalizer(o.repo, Finalizer)) return undefined;
  const walked = converge({ ...o, preCheck: undefined }, clone(o.repo.status ?? {}), { prepare: [], creates: [], deletes: [], events: [] }, now);
  return "reads" in walked ? walked.reads : undefined;
}

/** Where a Mount repo's pre-check Job runs: the operator's namespace, else the credential's, else "default". */
export function preCheckNamespace(repo: BackupRepo, operatorNamespace: string | undefined): string {
  return operatorNamespace ?? repo.spec.credential?.namespace ?? "default";
}

/** This generation's pre-check Job of a Mount repo. */
export function preCheckJobKey(repo: BackupRepo, operatorNamespace: string | undefined): { name: string; namespace: string } {
  return { name: preCheckJobName(repo.metadata?.name ?? "", repo.metadata?.generation ?? 0), namespace: preCheckNamespace(repo, operatorNamespace) };
}

/** Brings up what the repo needs and takes its pre-check; fills `status` and `fx`, and says where the repo stands. */
function converge(o: RepoObservation, status: BackupRepoStatus, fx: Effects, now: Date): Outcome | NeedsPreCheck {
  const { repo, provider } = o;
  const name = repo.metadata.name ?? "";
  const gen = repo.metadata.generation ?? 0;
  const fail = (reason: string, message: string): Outcome => ({ phase: BackupRepoPhase.Failed, reason, message, requeueAfter: FailedRetryMs });

  const providerName = repo.spec.storageProviderRef;
  if (!provider) return fail(Reason.StorageProviderNotFound, `StorageProvider "${providerName}" not found: create it or change BackupRepo "${name}" .spec.storageProviderRef`);
  if (provider.status?.phase !== StorageProviderPhase.Ready) {
    const why = findCondition(provider.status?.conditions, "Ready")?.message ?? "it has not been checked yet";
    return { ...fail(Reason.StorageProviderNotReady, `StorageProvider "${providerName}" is not ready (${why})`), requeueAfter: undefined };
  }

  let credential: Record<string, string> | undefined;
  const cred = repo.spec.credential;
  if (cred?.name) {
    if (o.credential === undefined) throw notObserved(name, "credential Secret");
    if (o.credential === null) return fail(Reason.SecretNotFound, `credential Secret "${cred.namespace ?? "default"}/${cred.name}" not found: create it or fix BackupRepo "${name}" .spec.credential`);
    credential = o.credential;
  }
  const problems = parameterProblems(provider, repo, credential);
  if (problems.length) return fail(Reason.InvalidParameters, problems.join("; "));

  const method = repo.spec.accessMethod ?? AccessMethod.Mount;
  if (method === AccessMethod.Mount) {
    if (!provider.spec.storageClassTemplate && !provider.spec.persistentVolumeClaimTemplate) {
      return fail(Reason.InvalidParameters, `StorageProvider "${providerName}" has neither storageClassTemplate nor persistentVolumeClaimTemplate, so it cannot back a Mount repo: set BackupRepo "${name}" .spec.accessMethod to Tool or use another provider`);
    }
    if (o.workNamespaceFound === false) {
      const ns = preCheckNamespace(repo, o.settings.operatorNamespace);
      return fail(Reason.NamespaceNotFound, `namespace "${ns}" for the pre-check Job and the CSI driver Secret (the operator's namespace, else BackupRepo "${name}" .spec.credential.namespace) not found: create it or fix .spec.credential`);
    }
    try {
      storage(o, provider, status, credential, fx);
    } catch (e) {
      if (e instanceof TemplateError) return fail(Reason.TemplateError, e.message);
      throw e;
    }
  } else {
    delete status.backupPVCName;
  }

  const passed = findCondition(status.conditions, Condition.PreCheckPassed);
  if (passed?.status === "True" && passed.observedGeneration === gen) {
    // The passed Job is deleted after the status that records it: a pass that stopped in between left it.
    const job = o.preCheckJob;
    if (method === AccessMethod.Mount && job && !job.metadata.deletionTimestamp) fx.deletes.push({ kind: Kinds.Job, name: job.metadata.name ?? "", namespace: job.metadata.namespace });
    return ready(name);
  }
  const result = method === AccessMethod.Mount ? mountPreCheck(o, provider, status, credential, fx, now) : toolPreCheck(o);
  if ("reads" in result) return result;
  if (result.phase === BackupRepoPhase.Ready) {
    fx.events.push({ type: "Normal", reason: Reason.PreCheckPassed, message: result.message });
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
function storage(o: RepoObservation, provider: StorageProvider, status: BackupRepoStatus, credential: Record<string, string> | undefined, fx: Effects): void {
  const { repo } = o;
  const name = repo.metadata.name ?? "";
  const values = templateValues({ ...repo, status }, credential, o.settings.operatorNamespace);
  if (provider.spec.csiDriverSecretTemplate) {
    const secret = buildCSIDriverSecret(provider, values, name);
    const ref = values.CSIDriverSecretRef;
    const existing = o.csiDriverSecret;
    if (existing === undefined) throw notObserved(name, "CSI driver Secret");
    if (!existing) {
      fx.creates.push({ kind: Kinds.Secret, object: secret });
      fx.events.push({ type: "Normal", reason: Reason.CSIDriverSecretCreated, message: `created CSI driver Secret "${ref.Namespace}/${ref.Name}" from StorageProvider "${provider.metadata?.name}"` });
    } else if (JSON.stringify(existing.data ?? {}) !== JSON.stringify(secret.data ?? {})) {
      fx.prepare.push({ type: "csiDriverSecret", secret: { ...existing, data: secret.data } });
    }
    status.generatedCSIDriverSecret = { name: ref.Name, namespace: ref.Namespace };
  }
  if (provider.spec.storageClassTemplate) {
    const sc = buildStorageClass(repo, provider, values);
    const scName = sc.metadata?.name ?? "";
    if (!o.storageClass) {
      fx.creates.push({ kind: Kinds.StorageClass, object: sc });
      fx.events.push({ type: "Normal", reason: Reason.StorageClassCreated, message: `created StorageClass "${scName}" (provisioner ${sc.provisioner}, reclaimPolicy ${sc.reclaimPolicy})` });
    }
    status.generatedStorageClassName = scName;
  }
  status.backupPVCName = repoPVCName(name);
}

/** A Job in the operator's namespace writes, reads back and deletes a probe file on the repo PVC. */
function mountPreCheck(o: RepoObservation, provider: StorageProvider, status: BackupRepoStatus, credential: Record<string, string> | undefined, fx: Effects, now: Date): Outcome | NeedsPreCheck {
  const { repo, settings } = o;
  const name = repo.metadata.name ?? "";
  const gen = repo.metadata.generation ?? 0;
  const { name: jobName, namespace: ns } = preCheckJobKey(repo, settings.operatorNamespace);
  const timeoutMs = settings.podStartMs;
  const current: Repo = { ...repo, status };
  const access = repoAccessFor(current, provider);
  const pvcName = access.pvcName ?? repoPVCName(name);
  const pc = o.preCheck;
  if (!pc) return { reads: { method: AccessMethod.Mount, namespace: ns, pvcName, sources: access.secretCopies.map((c) => c.from) } };
  if (pc.method !== AccessMethod.Mount) throw notObserved(name, "Mount pre-check");
  const job = o.preCheckJob;
  if (job === undefined) throw notObserved(name, "pre-check Job");

  // What ensureRepoAccess does for a tool pod, decided from what was read: the copies, then the PVC.
  try {
    for (const copy of access.secretCopies) {
      const source = pc.sources[`${copy.from.namespace}/${copy.from.name}`];
      if (source === undefined) throw notObserved(name, `Secret "${copy.from.namespace}/${copy.from.name}"`);
      if (source === null) throw secretNotFound(name, copy.from.namespace, copy.from.name, copySourceRole(copy));
      const problem = copyProblem(copy, source);
      if (problem) throw problem;
      fx.prepare.push({ type: "secretCopy", copy, source, namespace: ns });
    }
    if (pc.pvc?.metadata.deletionTimestamp) throw pvcDeleting(name, ns, pvcName);
    if (!pc.pvc) {
      const notReady = repoNotReady(current, provider);
      if (notReady) throw notReady;
      const storageClass = status.generatedStorageClassName ? o.storageClass : undefined;
      const values = templateValues(current, credential, settings.operatorNamespace);
      fx.creates.push({ kind: Kinds.PersistentVolumeClaim, object: buildRepoPVC({ repo: current, provider, namespace: ns, pvcName, values, storageClass }) });
    }
  } catch (e) {
    if (e instanceof RepoAccessError) return { phase: BackupRepoPhase.Failed, reason: e.reason, message: e.message, requeueAfter: FailedRetryMs };
    if (e instanceof TemplateError) return { phase: BackupRepoPhase.Failed, reason: Reason.TemplateError, message: e.message, requeueAfter: FailedRetryMs };
    throw e;
  }

  if (!job) {
    for (const old of pc.jobs) {
      if (old.metadata.labels?.[LabelPreCheckGeneration] !== String(gen)) fx.deletes.push({ kind: Kinds.Job, name: old.metadata.name ?? "", namespace: old.metadata.namespace });
    }
    fx.creates.push({ kind: Kinds.Job, object: buildPreCheckJob(repo, access, ns, settings.agentImage, Math.ceil(timeoutMs / 1000)) });
    const message = `pre-check Job "${ns}/${jobName}" writes, reads back and deletes a probe file on PVC "${pvcName}"`;
    fx.events.push({ type: "Normal", reason: Reason.PreCheckStarted, message });
    return { phase: BackupRepoPhase.PreChecking, reason: Reason.PreCheckStarted, message, requeueAfter: timeoutMs };
  }
  const out = preCheckOutcome(job, now.getTime(), timeoutMs + 30_000, pc.podMessage);
  if (out.state === "running") return { phase: BackupRepoPhase.PreChecking, reason: Reason.PreCheckStarted, message: `waiting for pre-check Job "${ns}/${jobName}"`, requeueAfter: out.remainingMs };
  if (out.state === "passed") {
    fx.deletes.push({ kind: Kinds.Job, name: jobName, namespace: ns });
    return { phase: BackupRepoPhase.Ready, reason: Reason.PreCheckPassed, message: `pre-check Job "${ns}/${jobName}" wrote, read back and deleted a probe file` };
  }
  return {
    phase: BackupRepoPhase.Failed,
    reason: out.timedOut ? Reason.PreCheckTimedOut : Reason.PreCheckFailed,
    message: `pre-check Job "${ns}/${jobName}" failed: ${out.message}: fix the storage and bump the repo (e.g. edit .spec.config) to check again`,
  };
}

/** The operator itself writes, reads back and deletes a probe object with the backend dp-agent uses. */
function toolPreCheck(o: RepoObservation): Outcome | NeedsPreCheck {
  const name = o.repo.metadata.name ?? "";
  const pc = o.preCheck;
  if (!pc) return { reads: { method: AccessMethod.Tool } };
  if (pc.method !== AccessMethod.Tool) throw notObserved(name, "Tool pre-check");
  if ("location" in pc.probe) return { phase: BackupRepoPhase.Ready, reason: Reason.PreCheckPassed, message: `wrote, read back and deleted a probe object in ${pc.probe.location}` };
  return { phase: BackupRepoPhase.Failed, reason: Reason.PreCheckFailed, message: `pre-check of BackupRepo "${name}" failed: ${pc.probe.error}`, requeueAfter: FailedRetryMs };
}

/** Deletion waits for every Backup that uses the repo, then removes what the repo created. */
function decideDeletion(o: RepoObservation, now: Date): Decision<BackupRepoStatus, RepoPrereq> {
  const { repo } = o;
  if (!hasFinalizer(repo, Finalizer)) return {};
  const name = repo.metadata.name ?? "";
  const del = o.deletion;
  if (!del) throw notObserved(name, "deletion");
  if (del.blocking.length) {
    const message = `BackupRepo "${name}" is still used by ${del.blocking.length} Backup(s): ${describeList(del.blocking)}: delete them (or wait for their deletion) before the repo`;
    const before = findCondition(repo.status?.conditions, Condition.DeletionBlocked)?.message;
    const status: BackupRepoStatus = { ...(repo.status ?? {}), phase: BackupRepoPhase.Deleting };
    status.conditions = setCondition(status.conditions, { type: Condition.DeletionBlocked, status: "True", reason: Reason.DeletionBlocked, message, observedGeneration: repo.metadata.generation }, now);
    return { status, events: before !== message ? [{ type: "Warning", reason: Reason.DeletionBlocked, message }] : [], requeueAfterMs: FailedRetryMs };
  }
  const ref = (kind: Kind) => (x: KubeObject) => ({ kind, name: x.metadata.name ?? "", namespace: x.metadata.namespace });
  // A user's own Secret at one of those names stays: only the repo's (labelled) go.
  const secrets = del.secrets.filter((s) => s.metadata.labels?.[LabelBackupRepoName] === labelValue(name));
  const sc = repo.status?.generatedStorageClassName;
  return {
    deletes: [...del.jobs.map(ref(Kinds.Job)), ...del.pvcs.map(ref(Kinds.PersistentVolumeClaim)), ...secrets.map(ref(Kinds.Secret)), ...(sc ? [{ kind: Kinds.StorageClass, name: sc }] : [])],
    events: [{ type: "Normal", reason: Reason.Deleting, message: `no Backup uses BackupRepo "${name}": removed its PVCs, Secret copies and StorageClass` }],
    finalizer: { remove: Finalizer },
  };
}

/**
 * Where the repo's Secrets may be: its copies (fixed names) in every namespace, and the CSI
 * driver Secret. Looked up by name, never listed: the operator may not list Secrets (their
 * values come with the list).
 */
export function repoSecretRefs(repo: BackupRepo, namespaces: readonly string[]): Array<{ namespace: string; name: string }> {
  const names = secretCopyNames(repo.metadata?.name ?? "");
  const refs = namespaces.flatMap((namespace) => names.map((name) => ({ namespace, name })));
  const csi = repo.status?.generatedCSIDriverSecret;
  if (csi?.name && csi.namespace) refs.push({ namespace: csi.namespace, name: csi.name });
  return refs;
}

function notObserved(repoName: string, what: string): Error {
  return new Error(`decideRepo: BackupRepo "${repoName}": the ${what} was not observed`);
}

/** A Backup uses a repo when status.backupRepoName names it, or its repo label does. */
function usesRepo(backup: Backup & KubeObject, repoName: string): boolean {
  return backup.status?.backupRepoName === repoName || backup.metadata.labels?.[LabelBackupRepoName] === repoName;
}

/** "namespace/name" of every Backup that keeps the repo from being deleted, sorted. */
export function blockingBackups(backups: Array<Backup & KubeObject>, repoName: string): string[] {
  return backups.filter((b) => usesRepo(b, repoName)).map((b) => `${b.metadata.namespace}/${b.metadata.name}`).sort();
}

export function isDefaultRepo(repo: KubeObject): boolean {
  return repo.metadata.annotations?.[AnnotationIsDefaultRepo] === "true";
}

/** The other repos that also claim to be the default (empty when there is no conflict). */
export function otherDefaults(repos: ReadonlyArray<BackupRepo & KubeObject>, repo: KubeObject): string[] {
  if (!isDefaultRepo(repo)) return [];
  return repos.filter((r) => r.metadata.name !== repo.metadata.name && !r.metadata.deletionTimestamp && isDefaultRepo(r)).map((r) => r.metadata.name!).sort();
}

/** How a list of backups reads in a message: a few names, then a count. */
function describeList(names: string[], max = 5): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}
