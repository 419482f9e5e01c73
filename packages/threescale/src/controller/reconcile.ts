// Thin shells: read the CR and the world, call decideBackup/decideRestore, apply, write status.
import type { V1Job, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import {
  Kinds, LabelBackupName, LabelJobRole, LabelRestoreJob, RestoreJobPhase,
  type APIManagerBackupSpec, type APIManagerBackupStatus, type APIManagerRestoreSpec, type APIManagerRestoreStatus, type Backup, type BackupTool, type RestoreJob,
} from "@dataprotection/api";
import { controllerOf, createIfAbsent, isNotFound, updateStatus, type Kind, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import type { APIManagerObject } from "../tool/apimanager.ts";
import { PLAIN_TOOL_NAME, TOOL_NAME, threescaleToolFor, toolRbac } from "../tool/definition.ts";
import { decideBackup } from "./backup-decide.ts";
import { buildBackup, buildPolicy, buildRestoreJob, buildToolJob, destinationClaim, genericBackupName, genericRestoreName, restoreJobName, type Destination } from "./build.ts";
import { parseReport, type Decision, type JobObservation } from "./decide.ts";
import { decideRestore, type RestoreSource } from "./restore-decide.ts";

export interface ThreescaleOptions {
  /** How long a restore waits for system-sidekiq to be ready (s). */
  readyTimeoutSeconds?: number;
  /** Hard bound on a tool Job, and on the generic Backup/RestoreJob a CR waits for (s). */
  jobDeadlineSeconds?: number;
  image?: string;
  /** Extra env for tool pods (e.g. THREESCALE_POLL_MS in tests): set on the BackupTools the plugin installs. */
  env?: Array<{ name: string; value: string }>;
  /** The chart's ClusterRole for the tool (`<release>-threescale-tool`); default TOOL_CLUSTER_ROLE. */
  toolClusterRole?: string;
}

/**
 * What the plugin takes from the operator that registers it: the controllers' OperatorContext
 * satisfies it, so this package needs no controllers code.
 */
export interface PluginContext {
  timeouts: { podStartMs: number };
}

type BackupCR = KubeObject & { spec: APIManagerBackupSpec; status?: APIManagerBackupStatus };
type RestoreCR = KubeObject & { spec: APIManagerRestoreSpec; status?: APIManagerRestoreStatus };

async function getOr<T extends KubeObject>(ctx: ReconcileContext, kind: Kind, name: string, ns?: string): Promise<T | undefined> {
  try {
    return await ctx.client.get<T>(kind, name, ns);
  } catch (e) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

async function observeJob(ctx: ReconcileContext, ns: string, name: string): Promise<JobObservation> {
  const job = await getOr<V1Job & KubeObject>(ctx, Kinds.Job, name, ns);
  if (!job) return { pods: [] };
  const pods = await ctx.client.list<V1Pod & KubeObject>(Kinds.Pod, { namespace: ns, labelSelector: `job-name=${name}` });
  return { job, pods: pods.items };
}

/** The newest terminated tool container's report among pods matching `labelSelector`. */
async function toolReport(ctx: ReconcileContext, ns: string, labelSelector: string): Promise<Record<string, unknown> | undefined> {
  const pods = (await ctx.client.list<V1Pod & KubeObject>(Kinds.Pod, { namespace: ns, labelSelector })).items;
  pods.sort((a, b) => String(b.metadata.creationTimestamp ?? "").localeCompare(String(a.metadata.creationTimestamp ?? "")));
  for (const p of pods) {
    const msg = [...(p.status?.containerStatuses ?? []), ...(p.status?.initContainerStatuses ?? [])].map((c) => c.state?.terminated?.message).find((m) => m?.trim().startsWith("{"));
    if (msg) return parseReport(msg);
  }
  return undefined;
}

async function ensureRbac(ctx: ReconcileContext, ns: string, o: ThreescaleOptions): Promise<void> {
  const r = toolRbac(ns, o.toolClusterRole);
  await createIfAbsent(ctx.client, Kinds.ServiceAccount, r.serviceAccount);
  await createIfAbsent(ctx.client, Kinds.RoleBinding, r.roleBinding);
}

/** The plugin's two BackupTools, created or brought back to this operator's image and env. */
async function ensureTools(ctx: ReconcileContext, o: ThreescaleOptions): Promise<void> {
  for (const plain of [false, true]) {
    const ready = o.readyTimeoutSeconds ? [{ name: "THREESCALE_READY_TIMEOUT_SECONDS", value: String(o.readyTimeoutSeconds) }] : [];
    const want = threescaleToolFor({ plain, image: o.image, env: [...ready, ...(o.env ?? [])] });
    const have = await getOr<BackupTool & KubeObject>(ctx, Kinds.BackupTool, want.metadata.name!);
    if (!have) await createIfAbsent(ctx.client, Kinds.BackupTool, want);
    else if (JSON.stringify(have.spec) !== JSON.stringify({ ...have.spec, ...want.spec })) await ctx.client.replace(Kinds.BackupTool, { ...have, spec: { ...have.spec, ...want.spec } });
  }
}

async function finish<S>(ctx: ReconcileContext, kind: Kind, cr: KubeObject & { status?: S }, d: Decision<S>): Promise<ReconcileResult | void> {
  if (d.status) await updateStatus(ctx.client, kind, cr, (draft) => void (draft.status = d.status));
  if (d.event) ctx.events.record(cr, d.event.type, d.event.reason, d.event.message);
  return d.requeueAfterMs ? { requeueAfter: d.requeueAfterMs } : undefined;
}

const ownedBy = (o: KubeObject | undefined, uid: string | undefined): boolean => !!o && !!uid && controllerOf(o)?.uid === uid;

export class APIManagerBackupReconciler {
  constructor(private readonly op: PluginContext, private readonly o: ThreescaleOptions) {}

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const cr = ctx.cache.get<BackupCR>(Kinds.APIManagerBackup, req.name, req.namespace);
    if (!cr || cr.metadata.deletionTimestamp) return;
    const ns = cr.metadata.namespace!;
    const name = cr.metadata.name!;
    const apimanagers = ctx.cache.list<APIManagerObject & KubeObject>(Kinds.APIManager, { namespace: ns });
    const repo = cr.spec.backupDestination.backupRepo?.name;
    const destination: Destination = repo ? { kind: "repo", repoName: repo } : { kind: "pvc", claimName: name };
    const backup = ctx.cache.get<Backup & KubeObject>(Kinds.Backup, genericBackupName(name), ns);
    const ownsBackup = ownedBy(backup, cr.metadata.uid);
    const failedBackup = ownsBackup && backup?.status?.phase === "Failed";
    const d = decideBackup({
      name, namespace: ns, status: cr.status ?? {}, apiManagerName: cr.spec.apiManagerName, apimanagers, destination,
      backup, ownsBackup,
      toolReport: failedBackup ? await toolReport(ctx, ns, `${LabelBackupName}=${genericBackupName(name)},${LabelJobRole}=tool`) : undefined,
      now: new Date(ctx.clock.now()), deadlineMs: (this.o.jobDeadlineSeconds ?? 7200) * 1000,
    });
    const uidRef = { name, namespace: ns, uid: cr.metadata.uid! };
    for (const step of d.steps) {
      if (step === "ensureRbac") await ensureRbac(ctx, ns, this.o);
      if (step === "ensureTools") await ensureTools(ctx, this.o);
      if (step === "ensureDestination" && destination.kind === "pvc") {
        const am = apimanagers.find((a) => a.metadata.name === d.status?.apiManagerSourceName)!;
        if (!(await getOr<V1PersistentVolumeClaim & KubeObject>(ctx, Kinds.PersistentVolumeClaim, name, ns))) {
          await createIfAbsent(ctx.client, Kinds.PersistentVolumeClaim, destinationClaim({ name, uid: cr.metadata.uid, namespace: ns, spec: cr.spec }, { name: am.metadata.name!, uid: am.metadata.uid }));
          ctx.events.normal(cr, "DestinationCreated", `created PersistentVolumeClaim "${ns}/${name}" for the backup`);
        }
      }
      if (step === "ensurePolicy") await createIfAbsent(ctx.client, Kinds.BackupPolicy, buildPolicy(uidRef, destination, destination.kind === "pvc" ? PLAIN_TOOL_NAME : TOOL_NAME));
      if (step === "createBackup") await createIfAbsent(ctx.client, Kinds.Backup, buildBackup(uidRef, destination));
    }
    return finish(ctx, Kinds.APIManagerBackup, cr, d);
  }
}

export class APIManagerRestoreReconciler {
  constructor(private readonly op: PluginContext, private readonly o: ThreescaleOptions) {}

  private source(ctx: ReconcileContext, cr: RestoreCR): RestoreSource {
    const ns = cr.metadata.namespace!;
    const pvc = cr.spec.restoreSource.persistentVolumeClaim;
    if (pvc) return { ok: true, kind: "pvc", claimName: pvc.claimSource.claimName };
    const ref = cr.spec.restoreSource.apiManagerBackup?.name ?? "";
    const b = ctx.cache.get<BackupCR>(Kinds.APIManagerBackup, ref, ns);
    if (!b) return { ok: false, reason: "SourceNotFound", message: `APIManagerBackup "${ns}/${ref}" (spec.restoreSource.apiManagerBackup.name) not found: create it or restore from its PVC with spec.restoreSource.persistentVolumeClaim` };
    if (!b.status?.completed) {
      return { ok: false, reason: "SourceNotCompleted", message: `APIManagerBackup "${ns}/${ref}" is not completed${b.status?.failureReason ? ` (failed: ${b.status.failureReason})` : ""}: restore from a completed backup` };
    }
    const generic = ctx.cache.get<Backup & KubeObject>(Kinds.Backup, genericBackupName(ref), ns);
    if (generic && ownedBy(generic, b.metadata.uid) && generic.status?.phase === "Completed") return { ok: true, kind: "backup", backupName: generic.metadata.name!, apiManager: b.status.apiManagerSourceName };
    if (b.status.backupPersistentVolumeClaimName) return { ok: true, kind: "pvc", claimName: b.status.backupPersistentVolumeClaimName };
    return { ok: false, reason: "SourceNotFound", message: `the Backup "${ns}/${ref}" that holds APIManagerBackup "${ns}/${ref}"'s data is gone: restore from another backup` };
  }

  async reconcile(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
    const cr = ctx.cache.get<RestoreCR>(Kinds.APIManagerRestore, req.name, req.namespace);
    if (!cr || cr.metadata.deletionTimestamp) return;
    const ns = cr.metadata.namespace!;
    const name = cr.metadata.name!;
    const source = this.source(ctx, cr);
    const rj = ctx.cache.get<RestoreJob & KubeObject>(Kinds.RestoreJob, genericRestoreName(name), ns);
    const restoreJob = ownedBy(rj, cr.metadata.uid) ? rj : undefined;
    const ended = restoreJob?.status?.phase === RestoreJobPhase.Completed || restoreJob?.status?.phase === RestoreJobPhase.Failed;
    const d = decideRestore({
      name, namespace: ns, status: cr.status ?? {}, source, apimanagers: ctx.cache.list<APIManagerObject & KubeObject>(Kinds.APIManager, { namespace: ns }),
      job: await observeJob(ctx, ns, restoreJobName(name)), restoreJob,
      toolReport: ended ? await toolReport(ctx, ns, `${LabelRestoreJob}=${genericRestoreName(name)}`) : undefined,
      now: new Date(ctx.clock.now()), podStartMs: this.op.timeouts.podStartMs, deadlineMs: (this.o.jobDeadlineSeconds ?? 7200) * 1000,
    });
    for (const step of d.steps) {
      if (step === "ensureRbac") await ensureRbac(ctx, ns, this.o);
      if (step === "ensureTools") await ensureTools(ctx, this.o);
      if (step === "createRestoreJob" && source.ok && source.kind === "backup") await createIfAbsent(ctx.client, Kinds.RestoreJob, buildRestoreJob({ name, namespace: ns, uid: cr.metadata.uid! }, source.backupName));
      if (step === "createJob" && source.ok && source.kind === "pvc") {
        await createIfAbsent(ctx.client, Kinds.Job, buildToolJob({
          kind: "APIManagerRestore", cr: { name, namespace: ns, uid: cr.metadata.uid! }, claimName: source.claimName,
          readOnly: cr.spec.restoreSource.persistentVolumeClaim?.claimSource.readOnly, deadlineSeconds: this.o.jobDeadlineSeconds ?? 7200, image: this.o.image,
          extraEnv: [{ name: "THREESCALE_READY_TIMEOUT_SECONDS", value: String(this.o.readyTimeoutSeconds ?? 1200) }, ...(this.o.env ?? [])],
        }));
      }
    }
    return finish(ctx, Kinds.APIManagerRestore, cr, d);
  }
}
