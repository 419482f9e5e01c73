// Thin shells: read the CR and the world, call decideBackup/decideRestore, apply, write status.
import type { V1Job, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import type { APIManagerBackupSpec, APIManagerBackupStatus, APIManagerRestoreSpec, APIManagerRestoreStatus } from "@dataprotection/api";
import { Kinds, type OperatorContext } from "@dataprotection/controllers";
import { isAlreadyExists, isNotFound, updateStatus, type Kind, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import type { APIManagerObject } from "../tool/apimanager.ts";
import { toolRbac } from "../tool/definition.ts";
import { RbacKinds } from "../kinds.ts";
import { Reason } from "../tool/reasons.ts";
import { backupJobName, buildToolJob, destinationClaim, restoreJobName } from "./build.ts";
import { decideBackup, decideRestore, type Decision, type JobObservation, type RestoreObservation } from "./decide.ts";

export interface ThreescaleOptions {
  /** How long a restore waits for system-sidekiq to be ready (s). */
  readyTimeoutSeconds?: number;
  /** Hard bound on a tool Job (s). */
  jobDeadlineSeconds?: number;
  image?: string;
  /** Extra env for tool Jobs (e.g. THREESCALE_POLL_MS in tests). */
  env?: Array<{ name: string; value: string }>;
}

type BackupCR = KubeObject & { spec: APIManagerBackupSpec; status?: APIManagerBackupStatus };
type RestoreCR = KubeObject & { spec: APIManagerRestoreSpec; status?: APIManagerRestoreStatus };

async function getOr<T extends KubeObject>(ctx: ReconcileContext, kind: Kind, name: string, ns: string): Promise<T | undefined> {
  try {
    return await ctx.client.get<T>(kind, name, ns);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function createIfAbsent(ctx: ReconcileContext, kind: Kind, obj: object): Promise<void> {
  try {
    await ctx.client.create(kind, obj as KubeObject);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
}

async function observeJob(ctx: ReconcileContext, ns: string, name: string): Promise<JobObservation> {
  const job = await getOr<V1Job & KubeObject>(ctx, Kinds.Job, name, ns);
  if (!job) return { pods: [] };
  const pods = await ctx.client.list<V1Pod & KubeObject>(Kinds.Pod, { namespace: ns, labelSelector: `job-name=${name}` });
  return { job, pods: pods.items };
}

async function ensureRbac(ctx: ReconcileContext, ns: string): Promise<void> {
  const r = toolRbac(ns);
  await createIfAbsent(ctx, RbacKinds.ServiceAccount, r.serviceAccount);
  await createIfAbsent(ctx, RbacKinds.Role, r.role);
  await createIfAbsent(ctx, RbacKinds.RoleBinding, r.roleBinding);
}

async function finish<S>(ctx: ReconcileContext, kind: Kind, cr: KubeObject & { status?: S }, d: Decision<S>): Promise<ReconcileResult | void> {
  if (d.status) await updateStatus(ctx.client, kind, cr, (draft) => void (draft.status = d.status));
  if (d.event) ctx.events.record(cr, d.event.type, d.event.reason, d.event.message);
  return d.requeueAfterMs ? { requeueAfter: d.requeueAfterMs } : undefined;
}

export class APIManagerBackupReconciler {
  constructor(private readonly op: OperatorContext, private readonly o: ThreescaleOptions) {}

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const cr = ctx.cache.get<BackupCR>(Kinds.APIManagerBackup, req.name, req.namespace);
    if (!cr || cr.metadata.deletionTimestamp) return;
    const ns = cr.metadata.namespace!;
    const name = cr.metadata.name!;
    const apimanagers = ctx.cache.list<APIManagerObject & KubeObject>(Kinds.APIManager, { namespace: ns });
    const d = decideBackup({
      name, namespace: ns, status: cr.status ?? {}, apiManagerName: cr.spec.apiManagerName, apimanagers,
      job: await observeJob(ctx, ns, backupJobName(name)), pvcName: name, now: new Date(ctx.clock.now()), podStartMs: this.op.timeouts.podStartMs,
    });
    if (!cr.spec.backupDestination.persistentVolumeClaim && d.steps.length) {
      const msg = `spec.backupDestination.backupRepo is not supported by APIManagerBackup yet: use persistentVolumeClaim, or a BackupPolicy with BackupTool "threescale-apimanager" for a BackupRepo`;
      return finish(ctx, Kinds.APIManagerBackup, cr, { steps: [], status: { ...(cr.status ?? {}), completed: false, failureReason: `${Reason.BackupFailed}: ${msg}` }, event: { type: "Warning", reason: Reason.BackupFailed, message: msg } });
    }
    for (const step of d.steps) {
      if (step === "ensureRbac") await ensureRbac(ctx, ns);
      if (step === "ensureDestination") {
        const am = apimanagers.find((a) => a.metadata.name === d.status?.apiManagerSourceName)!;
        const claim = destinationClaim({ name, uid: cr.metadata.uid, namespace: ns, spec: cr.spec }, { name: am.metadata.name!, uid: am.metadata.uid });
        const existing = await getOr<V1PersistentVolumeClaim & KubeObject>(ctx, Kinds.PersistentVolumeClaim, name, ns);
        if (!existing) {
          await createIfAbsent(ctx, Kinds.PersistentVolumeClaim, claim);
          ctx.events.normal(cr, Reason.DestinationCreated, `created PersistentVolumeClaim "${ns}/${name}" for the backup`);
        }
      }
      if (step === "createJob") {
        await createIfAbsent(ctx, Kinds.Job, buildToolJob({
          kind: "APIManagerBackup", cr: { name, namespace: ns, uid: cr.metadata.uid! }, claimName: name,
          deadlineSeconds: this.o.jobDeadlineSeconds ?? 7200, image: this.o.image,
          extraEnv: [{ name: "APIMANAGER_NAME", value: d.status?.apiManagerSourceName ?? "" }, ...(this.o.env ?? [])],
        }));
      }
    }
    return finish(ctx, Kinds.APIManagerBackup, cr, d);
  }
}

export class APIManagerRestoreReconciler {
  constructor(private readonly op: OperatorContext, private readonly o: ThreescaleOptions) {}

  private source(ctx: ReconcileContext, cr: RestoreCR): RestoreObservation["source"] {
    const ns = cr.metadata.namespace!;
    const pvc = cr.spec.restoreSource.persistentVolumeClaim;
    if (pvc) return { ok: true, claimName: pvc.claimSource.claimName };
    const ref = cr.spec.restoreSource.apiManagerBackup?.name ?? "";
    const b = ctx.cache.get<BackupCR>(Kinds.APIManagerBackup, ref, ns);
    if (!b) return { ok: false, reason: Reason.SourceNotFound, message: `APIManagerBackup "${ns}/${ref}" (spec.restoreSource.apiManagerBackup.name) not found: create it or restore from its PVC with spec.restoreSource.persistentVolumeClaim` };
    if (!b.status?.completed || !b.status.backupPersistentVolumeClaimName) {
      return { ok: false, reason: Reason.SourceNotCompleted, message: `APIManagerBackup "${ns}/${ref}" is not completed${b.status?.failureReason ? ` (failed: ${b.status.failureReason})` : ""}: restore from a completed backup` };
    }
    return { ok: true, claimName: b.status.backupPersistentVolumeClaimName };
  }

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const cr = ctx.cache.get<RestoreCR>(Kinds.APIManagerRestore, req.name, req.namespace);
    if (!cr || cr.metadata.deletionTimestamp) return;
    const ns = cr.metadata.namespace!;
    const name = cr.metadata.name!;
    const source = this.source(ctx, cr);
    const d = decideRestore({
      name, namespace: ns, status: cr.status ?? {}, source, apimanagers: ctx.cache.list<APIManagerObject & KubeObject>(Kinds.APIManager, { namespace: ns }),
      job: await observeJob(ctx, ns, restoreJobName(name)), now: new Date(ctx.clock.now()), podStartMs: this.op.timeouts.podStartMs,
    });
    for (const step of d.steps) {
      if (step === "ensureRbac") await ensureRbac(ctx, ns);
      if (step === "createJob" && source.ok) {
        await createIfAbsent(ctx, Kinds.Job, buildToolJob({
          kind: "APIManagerRestore", cr: { name, namespace: ns, uid: cr.metadata.uid! }, claimName: source.claimName,
          readOnly: cr.spec.restoreSource.persistentVolumeClaim?.claimSource.readOnly, deadlineSeconds: this.o.jobDeadlineSeconds ?? 7200, image: this.o.image,
          extraEnv: [{ name: "THREESCALE_READY_TIMEOUT_SECONDS", value: String(this.o.readyTimeoutSeconds ?? 1200) }, ...(this.o.env ?? [])],
        }));
      }
    }
    return finish(ctx, Kinds.APIManagerRestore, cr, d);
  }
}
