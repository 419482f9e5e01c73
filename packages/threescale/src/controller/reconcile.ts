// observe (the CR and the world: the cache, live reads of the tool Job and pods) -> decide
// (decideBackup/decideRestore, pure) -> apply (the runtime's applyDecision, with the plugin's
// read-then-write prerequisites performed by prepare).
import type { V1ConfigMap, V1Job, V1PersistentVolumeClaim, V1Pod, V1Secret } from "@kubernetes/client-node";
import {
  Kinds, LabelBackupName, LabelJobRole, LabelRestoreJob, RestoreJobPhase,
  type APIManagerBackupSpec, type APIManagerBackupStatus, type APIManagerRestoreSpec, type APIManagerRestoreStatus, type Backup, type BackupTool, type RestoreJob,
} from "@dataprotection/api";
import { applyDecision, controllerOf, createIfAbsent, labelValue, isNotFound, type Kind, type KubeObject, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import type { APIManagerObject } from "../tool/apimanager.ts";
import { decideBackup } from "./backup-decide.ts";
import { genericBackupName, genericRestoreName, restoreJobName, type Destination } from "./build.ts";
import { parseReport, type JobObservation, type Prereq, type ThreescaleOptions } from "./decide.ts";
import { decideRestore, type RestoreObservation, type RestoreSource } from "./restore-decide.ts";
import { importBackupName, importedSource, recordedComponents, type ImportObservation } from "./restore-import.ts";
import { laterPending } from "./restore-databases.ts";
import { Reason } from "../tool/reasons.ts";
import { componentBackupName, type ComponentObservation } from "./databases.ts";
import { BASE_TOOL, COMPONENT_SECRETS, type ComponentName, type ThreescaleSecrets } from "./endpoints.ts";

export type { ThreescaleOptions } from "./decide.ts";

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

/** An endpoint Secret created, or its data replaced when it differs (values are never logged). */
async function ensureSecret(ctx: ReconcileContext, want: V1Secret): Promise<void> {
  const { name, namespace } = want.metadata!;
  const data = Object.fromEntries(Object.entries(want.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")]));
  const have = await getOr<V1Secret & KubeObject>(ctx, Kinds.Secret, name!, namespace);
  if (!have) {
    await createIfAbsent(ctx.client, Kinds.Secret, { ...want, stringData: undefined, data });
    return;
  }
  const meta = { labels: want.metadata!.labels, ownerReferences: want.metadata!.ownerReferences };
  if (JSON.stringify(Object.entries(have.data ?? {}).sort()) === JSON.stringify(Object.entries(data).sort()) && JSON.stringify({ labels: have.metadata.labels, ownerReferences: have.metadata.ownerReferences }) === JSON.stringify(meta)) return;
  await ctx.client.replace(Kinds.Secret, { ...have, metadata: { ...have.metadata, ...meta }, data });
}

/** The 3scale Secrets includeDatabases reads the components from, decoded; an absent one is left out. */
async function threescaleSecrets(ctx: ReconcileContext, ns: string): Promise<ThreescaleSecrets> {
  const out: ThreescaleSecrets = {};
  for (const name of COMPONENT_SECRETS) {
    const s = await getOr<V1Secret & KubeObject>(ctx, Kinds.Secret, name, ns);
    if (s) out[name] = Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
  }
  return out;
}

/** Performs a prerequisite of `cr`'s decision: each reads first, so a pass that finds it done writes nothing. */
function prepare(ctx: ReconcileContext, cr: KubeObject): (p: Prereq) => Promise<void> {
  return async (p) => {
    if (p.ensure === "tool") {
      const want = p.tool;
      const have = await getOr<BackupTool & KubeObject>(ctx, Kinds.BackupTool, want.metadata.name!);
      if (!have) await createIfAbsent(ctx.client, Kinds.BackupTool, want);
      else if (JSON.stringify(have.spec) !== JSON.stringify({ ...have.spec, ...want.spec })) await ctx.client.replace(Kinds.BackupTool, { ...have, spec: { ...have.spec, ...want.spec } });
      return;
    }
    if (p.ensure === "secret") {
      await ensureSecret(ctx, p.secret);
      return;
    }
    if (p.ensure === "gate") {
      const { name, namespace } = p.configMap.metadata!;
      const have = await getOr<V1ConfigMap & KubeObject>(ctx, Kinds.ConfigMap, name!, namespace);
      if (!have) await createIfAbsent(ctx.client, Kinds.ConfigMap, p.configMap);
      else if (JSON.stringify(have.data ?? {}) !== JSON.stringify(p.configMap.data)) await ctx.client.patch(Kinds.ConfigMap, name!, namespace, { data: p.configMap.data });
      return;
    }
    const { name, namespace } = p.claim.metadata!;
    if (await getOr<V1PersistentVolumeClaim & KubeObject>(ctx, Kinds.PersistentVolumeClaim, name!, namespace)) return;
    await createIfAbsent(ctx.client, Kinds.PersistentVolumeClaim, p.claim);
    ctx.events.normal(cr, "DestinationCreated", `created PersistentVolumeClaim "${namespace}/${name}" for the backup`);
  };
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
    const status = cr.status ?? {};
    const dbs = cr.spec.includeDatabases === true && !status.completed && !status.failureReason ? await observeDatabasesOf(ctx, cr, status) : {};
    const d = decideBackup({
      name, namespace: ns, uid: cr.metadata.uid!, spec: cr.spec, status, apimanagers, destination,
      backup, ownsBackup, ...dbs,
      toolReport: failedBackup ? await toolReport(ctx, ns, `${LabelBackupName}=${labelValue(genericBackupName(name))},${LabelJobRole}=tool`) : undefined,
      now: new Date(ctx.clock.now()), options: this.o,
    });
    return applyDecision(ctx, Kinds.APIManagerBackup, cr, d, { prepare: prepare(ctx, cr) });
  }
}

/** What includeDatabases decides from: before the start the Secrets and tools (live reads of Secrets by name), after it the component Backups. */
async function observeDatabasesOf(ctx: ReconcileContext, cr: BackupCR, status: APIManagerBackupStatus): Promise<{ secrets?: ThreescaleSecrets; tools?: Record<string, BackupTool | undefined>; components?: ComponentObservation[]; busyWith?: string }> {
  const ns = cr.metadata.namespace!;
  const name = cr.metadata.name!;
  if (status.databases) {
    const components = status.databases.map((e) => {
      const b = ctx.cache.get<Backup & KubeObject>(Kinds.Backup, componentBackupName(name, e.name as ComponentName), ns);
      return { name: e.name as ComponentName, engine: e.engine, backup: b, owned: ownedBy(b, cr.metadata.uid), seen: !!e.phase, ...(e.runByAPIManager ? { runByAPIManager: true } : {}) };
    });
    return { components };
  }
  const busy = endpointsBusy(ctx, ns, { kind: "APIManagerBackup", name });
  if (busy) return { busyWith: busy };
  return { secrets: await threescaleSecrets(ctx, ns), tools: builtinTools(ctx) };
}

const builtinTools = (ctx: ReconcileContext) => Object.fromEntries(Object.values(BASE_TOOL).map((t) => [t, ctx.cache.get<BackupTool & KubeObject>(Kinds.BackupTool, t)]));

/**
 * Another APIManagerBackup or APIManagerRestore of the namespace whose database components are
 * running (the endpoint Secrets they read are named per namespace and component), named.
 */
function endpointsBusy(ctx: ReconcileContext, ns: string, self: { kind: "APIManagerBackup" | "APIManagerRestore"; name: string }): string | undefined {
  const running = (s: { completed?: boolean; failureReason?: string; databases?: unknown[] } | undefined) => !!s?.databases && !s.completed && !s.failureReason;
  const backup = ctx.cache.list<BackupCR>(Kinds.APIManagerBackup, { namespace: ns })
    .find((o) => !(self.kind === "APIManagerBackup" && o.metadata.name === self.name) && o.spec.includeDatabases === true && running(o.status));
  if (backup) return `APIManagerBackup "${ns}/${backup.metadata.name}"`;
  const restore = ctx.cache.list<RestoreCR>(Kinds.APIManagerRestore, { namespace: ns })
    .find((o) => !(self.kind === "APIManagerRestore" && o.metadata.name === self.name) && running(o.status) && restoringDatabases(o.status!));
  return restore ? `APIManagerRestore "${ns}/${restore.metadata.name}"` : undefined;
}

/** A restore still using the namespace's endpoint Secrets: before the APIManager, or for the databases it runs. */
const restoringDatabases = (s: APIManagerRestoreStatus): boolean => !s.mainStepsCompleted?.databasesRestored || laterPending(s);

/**
 * What a restore of a backup with databases decides from: before the start the Secrets and
 * tools, after it the component RestoreJobs; while a database the APIManager runs has no
 * RestoreJob yet, the Secrets (restored by then) and tools again.
 */
async function observeRestoreDatabasesOf(ctx: ReconcileContext, cr: RestoreCR, status: APIManagerRestoreStatus): Promise<Pick<RestoreObservation, "secrets" | "tools" | "components" | "busyWith" | "laterSecrets" | "laterTools">> {
  const ns = cr.metadata.namespace!;
  if (status.databases) {
    const components = status.databases.map((entry) => {
      const restoreJob = ctx.cache.get<RestoreJob & KubeObject>(Kinds.RestoreJob, entry.restoreJobName, ns);
      return { entry, restoreJob, owned: ownedBy(restoreJob, cr.metadata.uid) };
    });
    const unstarted = status.mainStepsCompleted?.databasesRestored && components.some((c) => c.entry.runByAPIManager && !c.restoreJob && !c.entry.phase);
    return unstarted ? { components, laterSecrets: await threescaleSecrets(ctx, ns), laterTools: builtinTools(ctx) } : { components };
  }
  const busy = endpointsBusy(ctx, ns, { kind: "APIManagerRestore", name: cr.metadata.name! });
  if (busy) return { busyWith: busy };
  return { secrets: await threescaleSecrets(ctx, ns), tools: builtinTools(ctx) };
}

export class APIManagerRestoreReconciler {
  constructor(private readonly op: PluginContext, private readonly o: ThreescaleOptions) {}

  private source(ctx: ReconcileContext, cr: RestoreCR): RestoreSource {
    const ns = cr.metadata.namespace!;
    const pvc = cr.spec.restoreSource.persistentVolumeClaim;
    if (pvc) return { ok: true, kind: "pvc", claimName: pvc.claimSource.claimName, readOnly: pvc.claimSource.readOnly };
    const repo = cr.spec.restoreSource.backupRepo;
    if (repo) return this.importSource(ctx, cr, repo);
    const ref = cr.spec.restoreSource.apiManagerBackup?.name ?? "";
    const b = ctx.cache.get<BackupCR>(Kinds.APIManagerBackup, ref, ns);
    if (!b) return { ok: false, reason: "SourceNotFound", message: `APIManagerBackup "${ns}/${ref}" (spec.restoreSource.apiManagerBackup.name) not found: create it or restore from its PVC with spec.restoreSource.persistentVolumeClaim` };
    if (!b.status?.completed) {
      return { ok: false, reason: "SourceNotCompleted", message: `APIManagerBackup "${ns}/${ref}" is not completed${b.status?.failureReason ? ` (failed: ${b.status.failureReason})` : ""}: restore from a completed backup` };
    }
    const generic = ctx.cache.get<Backup & KubeObject>(Kinds.Backup, genericBackupName(ref), ns);
    if (generic && ownedBy(generic, b.metadata.uid) && generic.status?.phase === "Completed") return { ok: true, kind: "backup", backupName: generic.metadata.name!, apiManager: b.status.apiManagerSourceName, databases: b.status.databases?.map((d) => ({ name: d.name, engine: d.engine, backupName: d.backupName, backupToolName: d.backupToolName, ...(d.runByAPIManager ? { runByAPIManager: true } : {}) })) };
    if (b.status.backupPersistentVolumeClaimName) return { ok: true, kind: "pvc", claimName: b.status.backupPersistentVolumeClaimName };
    return { ok: false, reason: "SourceNotFound", message: `the Backup "${ns}/${ref}" that holds APIManagerBackup "${ns}/${ref}"'s data is gone: restore from another backup` };
  }

  /**
   * restoreSource.backupRepo (restore-import.ts): the import Backups observed until all completed
   * (the APIManager's first, then the components its manifest records), then an ordinary source.
   */
  private importSource(ctx: ReconcileContext, cr: RestoreCR, repo: { name: string; path: string }): RestoreSource {
    const ns = cr.metadata.namespace!;
    const name = cr.metadata.name!;
    const observe = (what: ImportObservation["what"], path: string): ImportObservation => {
      const backup = ctx.cache.get<Backup & KubeObject>(Kinds.Backup, importBackupName(name, what), ns);
      return { what, path, backup, owned: ownedBy(backup, cr.metadata.uid) };
    };
    const completed = (i: ImportObservation) => i.owned && i.backup?.status?.phase === "Completed";
    const am = observe("apimanager", repo.path);
    if (!completed(am)) return { ok: true, kind: "importing", repo: repo.name, imports: [am] };
    const rec = recordedComponents(am.backup?.status?.manifests?.userContext);
    if (!rec.ok) return { ok: false, reason: Reason.ImportFailed, message: `the APIManager's backup at ${repo.path} in BackupRepo "${repo.name}" was imported, but ${rec.message}: nothing was restored` };
    const comps = rec.components.map((c) => observe(c.name, c.backupPath));
    if (!comps.every(completed)) return { ok: true, kind: "importing", repo: repo.name, imports: [am, ...comps] };
    return { ok: true, kind: "backup", ...importedSource({ name, namespace: ns, uid: cr.metadata.uid! }, rec.components), imported: true };
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
    const status = cr.status ?? {};
    const withDatabases = source.ok && source.kind === "backup" && !!source.databases?.length && restoringDatabases(status) && !status.completed && !status.failureReason;
    const dbs = withDatabases ? await observeRestoreDatabasesOf(ctx, cr, status) : {};
    const d = decideRestore({
      name, namespace: ns, uid: cr.metadata.uid!, status, source, apimanagers: ctx.cache.list<APIManagerObject & KubeObject>(Kinds.APIManager, { namespace: ns }), ...dbs,
      job: await observeJob(ctx, ns, restoreJobName(name)), restoreJob,
      toolReport: ended ? await toolReport(ctx, ns, `${LabelRestoreJob}=${labelValue(genericRestoreName(name))}`) : undefined,
      now: new Date(ctx.clock.now()), podStartMs: this.op.timeouts.podStartMs, options: this.o,
    });
    return applyDecision(ctx, Kinds.APIManagerRestore, cr, d, { prepare: prepare(ctx, cr) });
  }
}
