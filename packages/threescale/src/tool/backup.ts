// The backup step of the tool: Secrets, ConfigMaps, the APIManager and System's FileStorage
// written in the upstream layout to the store.
import { mkdtemp, mkdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { backendFromConfig } from "@dataprotection/storage";
import type { KubeObject } from "@dataprotection/runtime";
import { Kinds } from "@dataprotection/api";
import { decodeSecretData, fileStorageOf, s3ConfigFromSecret, secretMayBeAbsent, selectAPIManager, type APIManagerObject } from "./apimanager.ts";
import { type RecordedComponent, componentsContext } from "./components.ts";
import { getOrUndefined } from "./kube.ts";
import { ABSENT_FILE, APIMANAGER_FILE, BACKED_UP_CONFIGMAPS, BACKED_UP_SECRETS, DATABASES_CONTEXT_KEY, FILESTORAGE_PVC_DIR, FILESTORAGE_S3_DIR, configMapFile, objectKeyPath, secretFile, stripObject, toBackupJson } from "./layout.ts";
import { Reason, StepError } from "./reasons.ts";
import { runWithSystemStorage, type StepContext } from "./steps.ts";
import { SYSTEM_STORAGE_MOUNT } from "./helper.ts";

export interface BackupResult {
  apiManager: string;
  absent: string[];
  fileStorage: "pvc" | "s3";
}

export async function runBackup(ctx: StepContext): Promise<BackupResult> {
  const { client, namespace: ns, store } = ctx;
  const list = await client.list<APIManagerObject & KubeObject>(Kinds.APIManager, { namespace: ns });
  const sel = selectAPIManager(list.items, ns, ctx.env.APIMANAGER_NAME || (list.items.length > 1 ? await requestedName(ctx) : undefined));
  if (!sel.ok) throw new StepError(sel.reason, sel.message);
  const am = sel.apimanager;
  const amName = am.metadata.name!;
  ctx.log(`backing up APIManager ${ns}/${amName} to ${store.description}`);

  const absent: string[] = [];
  for (const name of BACKED_UP_SECRETS) {
    const s = await getOrUndefined<KubeObject>(client, Kinds.Secret, name, ns);
    if (!s) {
      if (!secretMayBeAbsent(name, am)) {
        throw new StepError(Reason.SecretNotFound, `Secret "${ns}/${name}" not found: APIManager "${amName}" needs it; create it (or restore it) and back up again`);
      }
      absent.push(`secrets/${name}`);
      continue;
    }
    await store.putFile(secretFile(name), toBackupJson(stripObject(s)));
  }
  for (const name of BACKED_UP_CONFIGMAPS) {
    const cm = await getOrUndefined<KubeObject>(client, Kinds.ConfigMap, name, ns);
    if (!cm) throw new StepError(Reason.ConfigMapNotFound, `ConfigMap "${ns}/${name}" not found: APIManager "${amName}" needs it; wait until the 3scale operator created it, then back up again`);
    await store.putFile(configMapFile(name), toBackupJson(stripObject(cm)));
  }
  await store.putFile(APIMANAGER_FILE, toBackupJson(stripObject(am)));

  const fs = fileStorageOf(am);
  if (fs.kind === "pvc") {
    const claim = await getOrUndefined<KubeObject>(client, Kinds.PersistentVolumeClaim, fs.claimName, ns);
    if (!claim) throw new StepError(Reason.HelperJobFailed, `PersistentVolumeClaim "${ns}/${fs.claimName}" (System FileStorage of APIManager "${amName}") not found: the APIManager is not fully deployed`);
    await runWithSystemStorage(ctx, ["backup-files"], fs.claimName, "backup-files");
  } else {
    await backupS3(ctx, am, fs.secretName, fs.sts);
  }
  if (absent.length) await store.putFile(ABSENT_FILE, toBackupJson({ absent }));
  await recordComponents(ctx);
  return { apiManager: amName, absent, fileStorage: fs.kind };
}

/** How long, and how often, the database components of the APIManagerBackup are read again until they are all Completed with a path. */
export const COMPONENTS_WAIT_MS = 30_000;
export const COMPONENTS_POLL_MS = 1_000;

/**
 * A repo destination (agent store): the database components of the APIManagerBackup this run is
 * for (BACKUP_NAME; its status.databases with spec.includeDatabases) recorded in the backup's
 * manifest under DATABASES_CONTEXT_KEY (componentsContext), so a restore in another namespace
 * finds them from this backup alone. Each must be Completed with a backupPath: the status is read
 * again every second for 30 s (it may be written while this pod starts), then the backup fails
 * naming the component. Nothing for a plain store, without BACKUP_NAME, without such a CR (a plain
 * BackupPolicy) or without components.
 */
export async function recordComponents(ctx: StepContext, o: { waitMs?: number; pollMs?: number } = {}): Promise<RecordedComponent[] | undefined> {
  const store = ctx.store;
  const name = ctx.env.BACKUP_NAME;
  if (!store.setUserContext || !name) return undefined;
  const waitMs = o.waitMs ?? COMPONENTS_WAIT_MS;
  const deadline = Date.now() + waitMs;
  const of = `APIManagerBackup "${ctx.namespace}/${name}"`;
  let seen = false;
  for (;;) {
    let cr: (KubeObject & { status?: unknown }) | undefined;
    let readError: string | undefined;
    try {
      cr = await getOrUndefined<KubeObject & { status?: unknown }>(ctx.client, Kinds.APIManagerBackup, name, ctx.namespace);
    } catch (e) {
      // An API error (forbidden, unavailable): read again until the deadline, then fail on it.
      readError = `cannot read it: ${e instanceof Error ? e.message : String(e)}`;
    }
    let why: string;
    let component: string | undefined;
    if (readError !== undefined) why = readError;
    else if (!cr) {
      if (!seen) return undefined;
      throw new StepError(Reason.DatabasesNotRecorded, `${of} was deleted while its backup recorded its database components`);
    } else {
      seen = true;
      const r = componentsContext(cr.status);
      if (r.ok) {
        if (!r.context) return undefined;
        await store.setUserContext(r.context);
        ctx.log(`recorded ${r.components.length} database components (${r.components.map((c) => c.name).join(", ")}) under ${DATABASES_CONTEXT_KEY}`);
        return r.components;
      }
      if (!r.retry) throw new StepError(Reason.DatabasesNotRecorded, `${of}: ${r.message}: the APIManager's backup cannot record its database components`);
      why = r.message;
      component = r.component;
    }
    if (Date.now() >= deadline) {
      throw new StepError(
        Reason.DatabasesNotRecorded,
        `${of}: ${why}, still after ${waitMs / 1000}s: the APIManager's backup cannot record ${component ? `database component "${component}"` : "its database components"} for a restore elsewhere`,
      );
    }
    await sleep(o.pollMs ?? COMPONENTS_POLL_MS);
  }
}

/**
 * With several APIManagers and no APIMANAGER_NAME: the spec.apiManagerName of the
 * APIManagerBackup this run is for (its generic Backup carries the same name, BACKUP_NAME).
 */
async function requestedName(ctx: StepContext): Promise<string | undefined> {
  const name = ctx.env.BACKUP_NAME;
  if (!name) return undefined;
  const cr = await getOrUndefined<KubeObject & { spec?: { apiManagerName?: string } }>(ctx.client, Kinds.APIManagerBackup, name, ctx.namespace).catch(() => undefined);
  return cr?.spec?.apiManagerName || undefined;
}

/** In the helper pod: the system-storage files into the store. */
export async function runBackupFiles(ctx: StepContext, dir = SYSTEM_STORAGE_MOUNT): Promise<void> {
  await ctx.store.putDir(FILESTORAGE_PVC_DIR, dir);
}

export async function s3BackendFor(ctx: StepContext, secretName: string, sts: boolean, amName: string) {
  if (sts) throw new StepError(Reason.S3STSUnsupported, `APIManager "${amName}" uses S3 with STS (spec.system.fileStorage.simpleStorageService.sts.enabled): only access keys are supported; back up the bucket with your S3 tooling`);
  const secret = await getOrUndefined<KubeObject & { data?: Record<string, string> }>(ctx.client, Kinds.Secret, secretName, ctx.namespace);
  if (!secret) throw new StepError(Reason.S3ConfigInvalid, `Secret "${ctx.namespace}/${secretName}" (simpleStorageService.configurationSecretRef of APIManager "${amName}") not found: create it`);
  const cfg = s3ConfigFromSecret(decodeSecretData(secret.data), secretName);
  if (!cfg.ok) throw new StepError(cfg.reason, cfg.message);
  return backendFromConfig({ ...cfg.config, connectTimeoutMs: 10_000, maxAttempts: 3 });
}

/** The bucket's objects, read with the credentials of the APIManager's configuration Secret. */
async function backupS3(ctx: StepContext, am: APIManagerObject, secretName: string, sts: boolean): Promise<void> {
  const backend = await s3BackendFor(ctx, secretName, sts, am.metadata.name!);
  const stage = await mkdtemp(join(tmpdir(), "threescale-s3-"));
  try {
    let n = 0;
    for await (const o of backend.list("")) {
      const rel = objectKeyPath(o.key);
      if (!rel) {
        ctx.log(`System FileStorage: skipping S3 key ${JSON.stringify(o.key)} (not a file path)`);
        continue;
      }
      const dest = join(stage, rel);
      await mkdir(dirname(dest), { recursive: true });
      const body = await backend.get(o.key);
      await writeFile(dest, body);
      n++;
    }
    ctx.log(`System FileStorage: ${n} objects from ${backend.location}`);
    await ctx.store.putDir(FILESTORAGE_S3_DIR, stage);
  } finally {
    await rm(stage, { recursive: true, force: true });
  }
}
