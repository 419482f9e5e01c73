// The shell: observe (the cache, and the few live reads a New Backup needs), decide with the pure
// functions, apply what they return with the runtime's applyDecision; prepare meets the Backup's
// prerequisites (BackupPrereq). Every `if` that matters lives in decide.ts / validate.ts /
// delete.ts / snapshot.ts / logfile.ts / claim-wait.ts.
import type { V1ConfigMap, V1Container, V1Job, V1PersistentVolumeClaim, V1Pod, V1Secret, V1StorageClass } from "@kubernetes/client-node";
import {
  BackupPhase, BackupType, Finalizer,
  type Backup, type BackupPolicy, type BackupRepo, type BackupTool, type StorageProvider,
} from "@dataprotection/api";
import {
  ApiError, addFinalizer, applyDecision, createIfAbsent, hasFinalizer, isNotFound,
  type Kind, type KubeClient, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult,
} from "@dataprotection/runtime";
import { repoAccessFor, type SecretCopy } from "../backuprepo/access.ts";
import { copyRepoSecret, ensureRepoAccess, namespaceLabels, readObject, RepoAccessError } from "../backuprepo/ensure.ts";
import { decodeSecretData } from "../storageprovider/parameters.ts";
import { Kinds } from "../kinds.ts";
import { repoHasNamespaceSelector } from "../backuprepo/tenancy.ts";
import type { OperatorContext } from "../options.ts";
import { decideDatafile, failed, helperJobName, notStarted, startDatafile } from "./decide.ts";
import type { BackupDecision, BackupPrereq } from "./decision.ts";
import { dataUnreachable, decideDeletion, namespaceTerminating } from "./delete.ts";
import { claimManifest, type ClaimToEnsure } from "./destination.ts";
import { claimBound, classOf } from "./claim-wait.ts";
import { persistentVolumeFromTemplate, PV_TEMPLATE_KEY } from "./pv-template.ts";
import { LabelBackupUID, toolJobName } from "./job.ts";
import { decideLogfile, logStatefulSetName, startLogfile } from "./logfile.ts";
import { Reason } from "./reasons.ts";
import { decideSnapshot, snapshotApiUnavailable, startSnapshot, type SnapshotObservation } from "./snapshot.ts";
import type { VolumeSnapshotObject } from "./snapshot-types.ts";
import { statusJobName, statusUpdatesOf, type ObservedUpdate, type Stage } from "./statusupdate.ts";
import { backupTypeOf, sectionOf, validateNewBackup } from "./validate.ts";
import { startImport, validateImport } from "./import.ts";

const byCreation = (a: KubeObject, b: KubeObject) => String(a.metadata.creationTimestamp ?? "").localeCompare(String(b.metadata.creationTimestamp ?? ""));

export class BackupReconciler {
  constructor(private readonly op: OperatorContext) {}

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    let b = ctx.cache.get<Backup & KubeObject>(Kinds.Backup, req.name, req.namespace);
    if (!b) return;
    const now = new Date(ctx.clock.now());
    if (b.metadata.deletionTimestamp) {
      if (!hasFinalizer(b, Finalizer)) return;
      return this.apply(ctx, b, decideDeletion(await this.observeDeletion(ctx, b), now));
    }
    // Before deciding, so no child exists without it: a Backup deleted from then on has its data dealt with.
    if (!hasFinalizer(b, Finalizer)) b = await addFinalizer(ctx.client, Kinds.Backup, b, Finalizer);
    const phase = b.status?.phase ?? BackupPhase.New;
    const type = backupTypeOf(b);
    // Optional kind: a cluster without the snapshot CRDs fails snapshot backups instead of never starting the operator.
    const snapshotting = type === BackupType.Snapshot && (phase === BackupPhase.New || phase === BackupPhase.InProgress);
    if (snapshotting && !ctx.cache.isAvailable(Kinds.VolumeSnapshot)) return this.apply(ctx, b, snapshotApiUnavailable(b, now));
    if (phase === BackupPhase.New) return this.apply(ctx, b, await this.decideNew(ctx, b, now));
    if (phase === BackupPhase.InProgress && type === BackupType.Datafile) {
      const jobName = toolJobName(b.metadata.name!, b.status?.attempts ?? 0);
      // An import runs no tool: no attempts, no status updates of a policy.
      const policy = b.spec.importFrom ? undefined : this.policyOf(ctx, b);
      return this.apply(ctx, b, decideDatafile({
        backup: b,
        job: await this.job(ctx, b.metadata.namespace!, jobName),
        pods: this.jobPods(ctx, b.metadata.namespace!, jobName),
        onFailAttempted: policy?.spec.datafile?.onFailAttempted ?? 0,
        pre: this.statusUpdates(ctx, b, policy, "pre"),
        post: this.statusUpdates(ctx, b, policy, "post"),
        target: this.targetOf(ctx, b),
        hookMs: this.op.timeouts.hookMs,
        podStartMs: this.op.timeouts.podStartMs,
      }, now));
    }
    if (phase === BackupPhase.InProgress && type === BackupType.Snapshot) return this.apply(ctx, b, decideSnapshot(await this.observeSnapshot(ctx, b), now));
    if (phase === BackupPhase.Running && type === BackupType.Logfile) {
      const policy = this.policyOf(ctx, b);
      const sts = ctx.cache.get<KubeObject & { status?: { availableReplicas?: number } }>(Kinds.StatefulSet, logStatefulSetName(b.metadata.name!), b.metadata.namespace);
      return this.apply(ctx, b, decideLogfile({ backup: b, policy, statefulSet: sts }, now));
    }
  }

  private policyOf(ctx: ReconcileContext, b: Backup): BackupPolicy | undefined {
    return ctx.cache.get<BackupPolicy & KubeObject>(Kinds.BackupPolicy, b.spec.backupPolicyName, b.metadata?.namespace);
  }

  /** A New Backup, observed step by step (each read needs what the step before resolved), decided by the pure functions in between. */
  private async decideNew(ctx: ReconcileContext, b: Backup & KubeObject, now: Date): Promise<BackupDecision> {
    if (b.spec.importFrom) return this.decideNewImport(ctx, b, now);
    const ns = b.metadata.namespace!;
    const type = backupTypeOf(b);
    const policy = this.policyOf(ctx, b);
    const section = policy ? sectionOf(policy, type) : undefined;
    const toolName = section && section.name !== "snapshot" ? section.policy.backupToolName : undefined;
    const secretName = section?.policy.target.secret?.name;
    const tool = toolName ? ctx.cache.get<BackupTool & KubeObject>(Kinds.BackupTool, toolName) : undefined;
    const saName = tool?.spec.serviceAccountName;
    const repos = ctx.cache.list<BackupRepo & KubeObject>(Kinds.BackupRepo);
    const v = validateNewBackup({
      backup: b,
      policy,
      tool,
      repos,
      namespaceLabels: repos.some(repoHasNamespaceSelector) ? await namespaceLabels(ctx.client, ns) : undefined,
      pods: ctx.cache.list<V1Pod & KubeObject>(Kinds.Pod, { namespace: ns }),
      parent: b.spec.parentBackupName ? ctx.cache.get<Backup & KubeObject>(Kinds.Backup, b.spec.parentBackupName, ns) : undefined,
      secretFound: secretName ? await exists(ctx.client, Kinds.Secret, secretName, ns) : undefined,
      serviceAccountFound: saName ? await exists(ctx.client, Kinds.ServiceAccount, saName, ns) : undefined,
      now,
      targetPodWaitMs: this.op.timeouts.targetPodWaitMs,
    });
    if (v.kind !== "ok") return notStarted(b, v, now);
    const dest = v.destination;
    if (dest?.repo) {
      try {
        // A write kept before deciding: it returns the RepoAccess the tool pod is built from, and its errors decide wait or fail.
        v.plan.destination = { repoName: dest.repoName, access: await ensureRepoAccess(ctx.client, ctx.cache, dest.repo, ns, this.op.namespace) };
      } catch (e) {
        if (!(e instanceof RepoAccessError)) throw e;
        // A repo still being set up is worth waiting for; anything else needs the user.
        if (e.reason === "RepoNotReady") return notStarted(b, { kind: "wait", reason: Reason.RepoNotReady, message: e.message, retryAfterMs: 2_000 }, now);
        return failed(b, repoReason(e.reason), e.message, now);
      }
    } else if (dest?.access) {
      const claim = dest.claim;
      if (claim && !claim.create && !(await exists(ctx.client, Kinds.PersistentVolumeClaim, claim.name, ns))) {
        return failed(b, Reason.PVCNotFound, `PersistentVolumeClaim "${ns}/${claim.name}" (BackupPolicy .persistentVolumeClaim, createPolicy Never) not found: create it or set createPolicy IfNotPresent`, now);
      }
      v.plan.destination = { access: dest.access, claim };
    }
    if (v.plan.type === BackupType.Snapshot) return startSnapshot(b, v.plan, now);
    // Before a tool pod: its backup PVC exists and has bound (claim-wait.ts).
    const pvcName = v.plan.destination?.access.pvcName;
    const pvc = pvcName ? await readObject<V1PersistentVolumeClaim & KubeObject>(ctx.client, undefined, Kinds.PersistentVolumeClaim, pvcName, ns) : undefined;
    const classes = pvc && pvc.status?.phase !== "Bound" ? (await ctx.client.list<V1StorageClass & KubeObject>(Kinds.StorageClass)).items : [];
    const bound = claimBound(b, v.plan.destination, pvc, pvc ? classOf(pvc, classes) : undefined, now, this.op.timeouts.podStartMs);
    if (bound) return bound;
    if (v.plan.type === BackupType.Logfile) return startLogfile(b, v.plan, now);
    return startDatafile(b, v.plan, now, this.op.agentImage);
  }

  /** A New import (import.ts): its repo's access in the namespace, then the Job that verifies and reports the backup. */
  private async decideNewImport(ctx: ReconcileContext, b: Backup & KubeObject, now: Date): Promise<BackupDecision> {
    const ns = b.metadata.namespace!;
    const repos = ctx.cache.list<BackupRepo & KubeObject>(Kinds.BackupRepo);
    const v = validateImport(b, repos, repos.some(repoHasNamespaceSelector) ? await namespaceLabels(ctx.client, ns) : undefined);
    if (!v.ok) return failed(b, v.reason, v.message, now);
    let access;
    try {
      access = await ensureRepoAccess(ctx.client, ctx.cache, v.repo, ns, this.op.namespace);
    } catch (e) {
      if (!(e instanceof RepoAccessError)) throw e;
      if (e.reason === "RepoNotReady") return notStarted(b, { kind: "wait", reason: Reason.RepoNotReady, message: e.message, retryAfterMs: 2_000 }, now);
      return failed(b, repoReason(e.reason), e.message, now);
    }
    return startImport(b, v.repo.metadata!.name!, access, v.filePath, now, this.op.agentImage);
  }

  private async repoAccess(ctx: ReconcileContext, repoName: string | undefined) {
    const repo = repoName ? ctx.cache.get<BackupRepo & KubeObject>(Kinds.BackupRepo, repoName) : undefined;
    if (!repo) return undefined;
    const provider = await readObject<StorageProvider & KubeObject>(ctx.client, undefined, Kinds.StorageProvider, repo.spec.storageProviderRef);
    return repoAccessFor(repo, provider);
  }

  private async observeDeletion(ctx: ReconcileContext, b: Backup & KubeObject) {
    const ns = b.metadata.namespace!;
    const name = b.metadata.name!;
    const owned = ctx.cache.ownedBy<V1Job & KubeObject>(Kinds.Job, b.metadata.uid!);
    const deleteName = helperJobName(name, "delete");
    const children = ctx.cache.list<Backup & KubeObject>(Kinds.Backup, { namespace: ns }).filter((c) => c.spec.parentBackupName === name);
    return {
      backup: b,
      children,
      repoAccess: await this.repoAccess(ctx, b.status?.backupRepoName),
      // Another Backup being deleted counts: its delete Job still needs the copies.
      repoInUse: ctx.cache.list<Backup & KubeObject>(Kinds.Backup, { namespace: ns }).some((o) => o.metadata.uid !== b.metadata.uid && (o.status?.backupRepoName === b.status?.backupRepoName || !o.status?.backupRepoName)),
      deleteJob: owned.find((j) => j.metadata.name === deleteName),
      deletePods: this.jobPods(ctx, ns, deleteName),
      activeJobs: owned.filter((j) => j.metadata.name !== deleteName && !j.metadata.deletionTimestamp && !j.status?.conditions?.some((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True")).map((j) => j.metadata.name!),
      hasStatefulSet: ctx.cache.ownedBy(Kinds.StatefulSet, b.metadata.uid!).some((s) => !s.metadata.deletionTimestamp),
      snapshots: this.snapshotsOf(ctx, b).filter((s) => !s.metadata.deletionTimestamp).map((s) => s.metadata.name!),
      agentImage: this.op.agentImage,
    };
  }

  private async observeSnapshot(ctx: ReconcileContext, b: Backup & KubeObject): Promise<SnapshotObservation> {
    const ns = b.metadata.namespace!;
    const name = b.metadata.name!;
    const hook = (role: string) => {
      const jn = helperJobName(name, role);
      return { job: ctx.cache.get<V1Job & KubeObject>(Kinds.Job, jn, ns), pods: this.jobPods(ctx, ns, jn) };
    };
    const target = this.targetOf(ctx, b);
    const claims: V1PersistentVolumeClaim[] = [];
    if (target) {
      for (const v of target.pod.spec?.volumes ?? []) {
        if (!v.persistentVolumeClaim) continue;
        const c = await ctx.client.get<V1PersistentVolumeClaim & KubeObject>(Kinds.PersistentVolumeClaim, v.persistentVolumeClaim.claimName, ns).catch((e: unknown) => {
          if (isNotFound(e)) return undefined;
          throw e;
        });
        if (c) claims.push(c);
      }
    }
    const policy = this.policyOf(ctx, b);
    return {
      backup: b,
      policy,
      target,
      claims,
      preHook: hook("prehook"),
      postHook: hook("posthook"),
      snapshots: this.snapshotsOf(ctx, b),
      pre: this.statusUpdates(ctx, b, policy, "pre"),
      post: this.statusUpdates(ctx, b, policy, "post"),
      hookMs: this.op.timeouts.hookMs,
      snapshotReadyMs: this.op.timeouts.snapshotReadyMs,
    };
  }

  /** The target pod recorded in status.manifests.target, if it still exists. */
  private targetOf(ctx: ReconcileContext, b: Backup & KubeObject): { pod: V1Pod; container: V1Container } | undefined {
    const t = parseTarget(b.status?.manifests?.target);
    const pod = t.podName ? ctx.cache.get<V1Pod & KubeObject>(Kinds.Pod, t.podName, b.metadata.namespace) : undefined;
    const container = pod?.spec?.containers.find((c) => c.name === t.containerName) ?? pod?.spec?.containers[0];
    return pod && container ? { pod, container } : undefined;
  }

  /** One stage's backupStatusUpdates of the policy section the backup runs (datafile or snapshot), with their Jobs and pods. */
  private statusUpdates(ctx: ReconcileContext, b: Backup & KubeObject, policy: BackupPolicy | undefined, stage: Stage): ObservedUpdate[] {
    const ns = b.metadata.namespace!;
    const section = b.spec.backupType === "snapshot" ? policy?.spec.snapshot : policy?.spec.datafile;
    return statusUpdatesOf(section, stage).map((update, i) => {
      const name = statusJobName(b.metadata.name!, stage, i);
      return { update, job: ctx.cache.get<V1Job & KubeObject>(Kinds.Job, name, ns), pods: this.jobPods(ctx, ns, name) };
    });
  }

  /** The Backup's VolumeSnapshots: by uid label, as they carry no owner reference. */
  private snapshotsOf(ctx: ReconcileContext, b: Backup & KubeObject): Array<VolumeSnapshotObject & KubeObject> {
    return ctx.cache.list<VolumeSnapshotObject & KubeObject>(Kinds.VolumeSnapshot, { namespace: b.metadata.namespace, labels: { [LabelBackupUID]: b.metadata.uid! } });
  }

  /** The Job from the cache, confirmed with a read when the cache has not seen it (yet). */
  private async job(ctx: ReconcileContext, ns: string, name: string): Promise<V1Job | undefined> {
    const cached = ctx.cache.get<V1Job & KubeObject>(Kinds.Job, name, ns);
    if (cached) return cached;
    try {
      return await ctx.client.get<V1Job & KubeObject>(Kinds.Job, name, ns);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  private jobPods(ctx: ReconcileContext, ns: string, jobName: string): V1Pod[] {
    return ctx.cache.list<V1Pod & KubeObject>(Kinds.Pod, { namespace: ns, labels: { "job-name": jobName } }).sort(byCreation);
  }

  /** applyDecision with the Backup's prerequisites; one that cannot be met fails the Backup instead. */
  private async apply(ctx: ReconcileContext, b: Backup & KubeObject, d: BackupDecision): Promise<ReconcileResult | void> {
    try {
      return await applyDecision(ctx, Kinds.Backup, b, d, { prepare: (p) => this.prepare(ctx, b, p) });
    } catch (e) {
      if (e instanceof PrereqFailed) {
        // Failing a Backup being deleted would not end its deletion: it goes, keeping its data.
        if (b.metadata.deletionTimestamp) return applyDecision(ctx, Kinds.Backup, b, dataUnreachable(b, e.message));
        return applyDecision(ctx, Kinds.Backup, b, failed(b, e.reason, e.message, new Date(ctx.clock.now())));
      }
      if (b.metadata.deletionTimestamp && e instanceof ApiError && e.statusCode === 403 && /being terminated/.test(e.message)) {
        return applyDecision(ctx, Kinds.Backup, b, namespaceTerminating(b));
      }
      throw e;
    }
  }

  private async prepare(ctx: ReconcileContext, b: Backup & KubeObject, p: BackupPrereq): Promise<void> {
    const ns = b.metadata.namespace!;
    switch (p.kind) {
      case "ensureClaim":
        return ensureClaim(ctx.client, p.claim, ns);
      case "copySecrets":
        for (const c of p.copies) await copySecret(ctx.client, c, ns);
        return;
      case "snapshotNameFree":
        return snapshotNameFree(ctx.client, p.name, b);
    }
  }
}

/** backuprepo's reasons, as Backup failure reasons. */
function repoReason(r: string): Reason {
  return r === "SecretNotFound" || r === "SecretKeyMissing" ? Reason.SecretNotFound : r === "RepoNotReady" ? Reason.RepoNotReady : Reason.RepoNotFound;
}

function parseTarget(json: string | undefined): { podName?: string; containerName?: string } {
  try {
    const v = JSON.parse(json ?? "{}") as { podName?: unknown; containerName?: unknown };
    return { podName: typeof v.podName === "string" ? v.podName : undefined, containerName: typeof v.containerName === "string" ? v.containerName : undefined };
  } catch {
    return {};
  }
}

/** A prerequisite that cannot be met: fails the Backup. */
class PrereqFailed extends Error {
  constructor(readonly reason: Reason, message: string) {
    super(message);
  }
}

async function exists(client: KubeClient, kind: Kind, name: string, ns: string): Promise<boolean> {
  try {
    await client.get(kind, name, ns);
    return true;
  } catch (e) {
    if (isNotFound(e)) return false;
    throw e;
  }
}

/**
 * A live read just before the VolumeSnapshot is created: one of that name left by another Backup
 * (snapshots carry no owner reference) fails this one instead of being taken for its own.
 */
async function snapshotNameFree(client: KubeClient, name: string, owner: Backup & KubeObject): Promise<void> {
  const ns = owner.metadata.namespace!;
  const cur = await readObject<VolumeSnapshotObject & KubeObject>(client, undefined, Kinds.VolumeSnapshot, name, ns);
  if (cur && cur.metadata.labels?.[LabelBackupUID] !== owner.metadata.uid) {
    throw new PrereqFailed(Reason.SnapshotFailed, `VolumeSnapshot "${ns}/${name}" already exists and belongs to another Backup (a protected one deleted earlier keeps its snapshots): delete it or give the Backup another name`);
  }
}

// The policy's own persistentVolumeClaim (a repo's PVC is backuprepo's ensureRepoAccess).
async function ensureClaim(client: KubeClient, claim: ClaimToEnsure, ns: string): Promise<void> {
  if (await exists(client, Kinds.PersistentVolumeClaim, claim.name, ns)) return;
  if (!claim.create) throw new PrereqFailed(Reason.PVCNotFound, `PersistentVolumeClaim "${ns}/${claim.name}" not found: create it`);
  const manifest = claim.pvTemplate ? await claimFromPVTemplate(client, claim.pvTemplate, claim.name, ns) : claimManifest(claim, ns);
  await createIfAbsent(client, Kinds.PersistentVolumeClaim, manifest);
}

// persistentVolumeConfigMap: create the templated PV (pre-bound) and return the claim for it.
async function claimFromPVTemplate(client: KubeClient, ref: { name: string; namespace: string }, claimName: string, ns: string): Promise<V1PersistentVolumeClaim> {
  const where = `"${ref.namespace}/${ref.name}" (BackupPolicy .persistentVolumeClaim.persistentVolumeConfigMap)`;
  let cm: V1ConfigMap & KubeObject;
  try {
    cm = await client.get<V1ConfigMap & KubeObject>(Kinds.ConfigMap, ref.name, ref.namespace);
  } catch (e) {
    if (isNotFound(e)) throw new PrereqFailed(Reason.PVTemplateInvalid, `ConfigMap ${where} not found: create it with a "${PV_TEMPLATE_KEY}" key`);
    throw e;
  }
  const r = persistentVolumeFromTemplate(cm.data?.[PV_TEMPLATE_KEY], claimName, ns, where);
  if (!r.ok) throw new PrereqFailed(Reason.PVTemplateInvalid, r.message);
  await createIfAbsent(client, Kinds.PersistentVolume, r.pv);
  return r.claim;
}

// A repo Secret copied into the workload namespace (only the keys the agent needs).
async function copySecret(client: KubeClient, c: SecretCopy, ns: string): Promise<void> {
  let src: V1Secret & KubeObject;
  try {
    src = await client.get<V1Secret & KubeObject>(Kinds.Secret, c.from.name, c.from.namespace);
  } catch (e) {
    if (isNotFound(e)) throw new PrereqFailed(Reason.SecretNotFound, `Secret "${c.from.namespace}/${c.from.name}" of BackupRepo "${c.repo}" not found: create it or fix the repo`);
    throw e;
  }
  try {
    await copyRepoSecret(client, c, decodeSecretData(src), ns);
  } catch (e) {
    if (e instanceof RepoAccessError) throw new PrereqFailed(repoReason(e.reason), e.message);
    throw e;
  }
}
