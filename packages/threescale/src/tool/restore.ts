// The restore step of the tool (logical restore commands): refuse when an APIManager exists,
// recreate Secrets and ConfigMaps, System's FileStorage, the APIManager; wait for sidekiq (and for
// the databases the APIManager runs, gate.ts); resync routes.
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import type { V1Deployment } from "@kubernetes/client-node";
import { isAlreadyExists, type KubeObject } from "@dataprotection/runtime";
import { setTimeout as sleep } from "node:timers/promises";
import { Kinds } from "@dataprotection/api";
import { fileStorageOf, isDeploymentReady, systemStorageClaim, type APIManagerObject } from "./apimanager.ts";
import { buildResyncJob, SYSTEM_STORAGE_MOUNT } from "./helper.ts";
import { gateVerdict, restoreGateName } from "./gate.ts";
import { getOrUndefined } from "./kube.ts";
import { APIMANAGER_FILE, BACKED_UP_CONFIGMAPS, FILESTORAGE_PVC_DIR, FILESTORAGE_S3_DIR, RESTORED_SECRETS, configMapFile, forCreate, secretFile, type ObjectLike } from "./layout.ts";
import { Reason, StepError } from "./reasons.ts";
import { runJobToCompletion, runWithSystemStorage, seconds, type StepContext } from "./steps.ts";
import { s3BackendFor } from "./backup.ts";

export interface RestoreResult {
  apiManager: string;
  created: string[];
  existing: string[];
  absent: string[];
  resynced: boolean;
}

async function readJson(ctx: StepContext, path: string): Promise<ObjectLike | undefined> {
  const buf = await ctx.store.getFile(path);
  if (!buf) return undefined;
  try {
    return JSON.parse(buf.toString("utf8")) as ObjectLike;
  } catch {
    throw new StepError(Reason.BackupDataInvalid, `${path} in ${ctx.store.description} is not valid JSON: the backup is damaged`);
  }
}

async function createUnlessExists(ctx: StepContext, kind: typeof Kinds.Secret, obj: ObjectLike): Promise<boolean> {
  try {
    await ctx.client.create(kind, forCreate(obj, ctx.namespace) as KubeObject);
    return true;
  } catch (e) {
    if (isAlreadyExists(e)) return false;
    throw e;
  }
}

export async function runRestore(ctx: StepContext): Promise<RestoreResult> {
  const { client, namespace: ns } = ctx;
  const am = (await readJson(ctx, APIMANAGER_FILE)) as APIManagerObject | undefined;
  if (!am?.metadata?.name) throw new StepError(Reason.BackupDataInvalid, `${APIMANAGER_FILE} not found in ${ctx.store.description}: this is not an APIManager backup (check the restore source)`);
  const amName = am.metadata.name;
  const present = await client.list<KubeObject>(Kinds.APIManager, { namespace: ns });
  if (present.items.length > 0) {
    const names = present.items.map((a) => a.metadata.name).join(", ");
    throw new StepError(Reason.APIManagerExists, `APIManager ${names} already exists in namespace ${ns}: restore into a namespace without an APIManager (or delete it first)`);
  }
  ctx.log(`restoring APIManager ${amName} into namespace ${ns} from ${ctx.store.description}`);

  const r: RestoreResult = { apiManager: amName, created: [], existing: [], absent: [], resynced: false };
  const restoreObjects = async (kind: typeof Kinds.Secret, names: readonly string[], file: (n: string) => string, label: string) => {
    for (const name of names) {
      const obj = await readJson(ctx, file(name));
      if (!obj) {
        r.absent.push(`${label}/${name}`);
        continue;
      }
      if (await createUnlessExists(ctx, kind, obj)) r.created.push(`${label}/${name}`);
      else r.existing.push(`${label}/${name}`);
    }
  };
  await restoreObjects(Kinds.Secret, RESTORED_SECRETS, secretFile, "secrets");
  await restoreObjects(Kinds.ConfigMap, BACKED_UP_CONFIGMAPS, configMapFile, "configmaps");
  if (r.existing.length) ctx.log(`left as they are (already present): ${r.existing.join(", ")}`);

  const fs = fileStorageOf(am);
  if (fs.kind === "pvc") {
    const claim = systemStorageClaim(am, ns, ctx.env.THREESCALE_SYSTEM_STORAGE_ACCESS_MODE || "ReadWriteMany")!;
    try {
      await client.create(Kinds.PersistentVolumeClaim, claim as unknown as KubeObject);
      r.created.push(`persistentvolumeclaims/${fs.claimName}`);
    } catch (e) {
      if (!isAlreadyExists(e)) throw e;
      r.existing.push(`persistentvolumeclaims/${fs.claimName}`);
    }
    await runWithSystemStorage(ctx, ["restore-files"], fs.claimName, "restore-files");
  } else {
    await restoreS3(ctx, amName, fs.secretName, fs.sts);
  }

  try {
    await client.create(Kinds.APIManager, forCreate(am, ns) as KubeObject);
  } catch (e) {
    if (!isAlreadyExists(e)) throw e;
  }
  r.created.push(`apimanagers/${amName}`);
  await waitForSidekiq(ctx, amName);
  await waitForDatabases(ctx);
  await resync(ctx);
  r.resynced = true;
  return r;
}

/** In the helper pod: the stored system-storage files into the new PVC. */
export async function runRestoreFiles(ctx: StepContext, dir = SYSTEM_STORAGE_MOUNT): Promise<void> {
  if (!(await ctx.store.getDir(FILESTORAGE_PVC_DIR, dir))) ctx.log(`no ${FILESTORAGE_PVC_DIR} in ${ctx.store.description}: System FileStorage was empty`);
}

async function* walk(root: string, dir = root): AsyncGenerator<string> {
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(root, p);
    else if (e.isFile()) yield relative(root, p);
  }
}

async function restoreS3(ctx: StepContext, amName: string, secretName: string, sts: boolean): Promise<void> {
  const backend = await s3BackendFor(ctx, secretName, sts, amName);
  const stage = await mkdtemp(join(tmpdir(), "threescale-s3-"));
  try {
    if (!(await ctx.store.getDir(FILESTORAGE_S3_DIR, stage))) return;
    let n = 0;
    for await (const rel of walk(stage)) {
      await backend.put(rel.split("\\").join("/"), await readFile(join(stage, rel)));
      n++;
    }
    ctx.log(`System FileStorage: ${n} objects to ${backend.location}`);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}

async function waitForSidekiq(ctx: StepContext, amName: string): Promise<void> {
  const timeoutMs = seconds(ctx.env.THREESCALE_READY_TIMEOUT_SECONDS, 1200);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const a = await getOrUndefined<APIManagerObject & KubeObject>(ctx.client, Kinds.APIManager, amName, ctx.namespace);
    if (isDeploymentReady(a, "system-sidekiq")) return;
    if (Date.now() > deadline) {
      throw new StepError(Reason.APIManagerNotReady, `APIManager "${ctx.namespace}/${amName}" did not report system-sidekiq ready (status.deployments.ready) within ${timeoutMs / 1000}s: check the 3scale operator and the restored databases, then run the routes resync (bundle exec rake zync:resync:domains) yourself`);
    }
    await sleep(ctx.pollMs);
  }
}

/**
 * The databases the APIManager runs itself are restored by the APIManagerRestore once the
 * APIManager runs their servers; the resync waits for its gate (gate.ts) to say so. No gate (a
 * direct Job, or nothing the APIManager runs in the backup): nothing to wait for.
 */
async function waitForDatabases(ctx: StepContext): Promise<void> {
  const rj = ctx.env.DP_RESTORE_JOB_NAME;
  if (!rj) return;
  const name = restoreGateName(rj);
  const timeoutMs = seconds(ctx.env.THREESCALE_STEP_TIMEOUT_SECONDS, 1800);
  const deadline = Date.now() + timeoutMs;
  let seen = false;
  for (;;) {
    const cm = await getOrUndefined<KubeObject & { data?: Record<string, string> }>(ctx.client, Kinds.ConfigMap, name, ctx.namespace);
    const v = gateVerdict(name, seen, cm ? cm.data ?? {} : undefined);
    if (v.verdict === "go") {
      if (seen) ctx.log("the databases the APIManager runs are restored");
      return;
    }
    if (v.verdict === "fail") throw new StepError(Reason.DatabaseRestoreFailed, `${v.message}; the routes were not resynced`);
    if (!seen) ctx.log(`waiting for the databases the APIManager runs (${v.components}) to be restored before the routes resync`);
    seen = true;
    if (Date.now() > deadline) {
      throw new StepError(Reason.DatabaseRestoreFailed, `the databases the APIManager runs (${v.components}) were not restored within ${timeoutMs / 1000}s (ConfigMap "${ctx.namespace}/${name}"): the routes were not resynced`);
    }
    await sleep(ctx.pollMs);
  }
}

async function resync(ctx: StepContext): Promise<void> {
  const d = await getOrUndefined<V1Deployment & KubeObject>(ctx.client, Kinds.Deployment, "system-sidekiq", ctx.namespace);
  if (!d?.spec?.template?.spec) throw new StepError(Reason.SidekiqNotFound, `Deployment "${ctx.namespace}/system-sidekiq" not found although the APIManager reports it ready: run bundle exec rake zync:resync:domains in a system-sidekiq pod yourself`);
  const job = buildResyncJob(d.spec.template, ctx.namespace, ctx.env.BACKUP_NAME || ctx.env.POD_NAME || "threescale-restore");
  await runJobToCompletion(ctx, job, "routes resync (zync:resync:domains)", seconds(ctx.env.THREESCALE_STEP_TIMEOUT_SECONDS, 1800), Reason.ResyncFailed);
}
