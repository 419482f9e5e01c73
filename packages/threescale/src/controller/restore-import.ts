// Pure: an APIManagerRestore from restoreSource.backupRepo, where no APIManagerBackup is in the
// namespace (disaster recovery into a new namespace or cluster). The APIManager's backup is
// imported first (a generic Backup with spec.importFrom: verified against its authenticated
// manifest); its manifest's userContext records the database components the backup took, with
// their paths (the 3scale tool writes it, tool/components.ts); each is imported in turn. Once all
// are Completed the observation resolves to an ordinary Backup source and the restore goes on as
// from an APIManagerBackup (restore-decide.ts), databases first.
import { BackupPhase, BackupType, DataProtectionAPIVersion, Kinds, LabelManagedBy, LabelThreescaleOwner, ManagedBy, type APIManagerRestoreStatus, type Backup } from "@dataprotection/api";
import { childName, labelValue, type Kind } from "@dataprotection/runtime";
import { BACKUP_PATH_RE } from "../tool/components.ts";
import { DATABASES_CONTEXT_KEY } from "../tool/layout.ts";
import { Reason } from "../tool/reasons.ts";
import { COMPONENTS, type ComponentName } from "./endpoints.ts";
import { restoreOwner, type BackedUpComponent } from "./restore-databases.ts";

type CR = { name: string; namespace: string; uid: string };

/** The import Backup of the APIManager's backup ("apimanager") or of a component, owned by the APIManagerRestore. */
export const importBackupName = (cr: string, what: "apimanager" | ComponentName): string => childName(cr, `import-${what}`);

export function buildImportBackup(cr: CR, what: "apimanager" | ComponentName, repo: string, path: string): Backup {
  return {
    apiVersion: DataProtectionAPIVersion,
    kind: "Backup",
    metadata: {
      name: importBackupName(cr.name, what), namespace: cr.namespace,
      labels: { [LabelThreescaleOwner]: labelValue(cr.name), [LabelManagedBy]: ManagedBy, "app.kubernetes.io/component": what },
      ownerReferences: restoreOwner(cr),
    },
    // Filed under a policy that does not exist: an import has no schedule or retention of its own.
    spec: { backupPolicyName: childName(cr.name, "imported"), backupType: BackupType.Datafile, importFrom: { backupRepoName: repo, path } },
  } as Backup;
}

/** A component as the APIManager's backup recorded it (its manifest's userContext). */
export interface RecordedComponent {
  name: ComponentName;
  engine?: string;
  backupToolName?: string;
  backupPath: string;
  /** The APIManager runs it itself: restored once the restored APIManager runs its server. */
  runByAPIManager?: boolean;
}

const NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;
const ENGINES = new Set(["mysql", "postgresql", "redis"]);

/**
 * The components the imported APIManager backup records (none when its manifest records none:
 * a backup without includeDatabases). What a manifest says is checked as input: it names only
 * known components, once each, with plain paths.
 */
export function recordedComponents(userContext: Readonly<Record<string, string>> | undefined): { ok: true; components: RecordedComponent[] } | { ok: false; message: string } {
  const raw = userContext?.[DATABASES_CONTEXT_KEY];
  if (raw === undefined) return { ok: true, components: [] };
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record is not JSON` };
  }
  if (!Array.isArray(v) || v.length > COMPONENTS.length) return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record is not a list of at most ${COMPONENTS.length} components` };
  const out: RecordedComponent[] = [];
  for (const e of v as unknown[]) {
    const c = (e && typeof e === "object" ? e : {}) as Record<string, unknown>;
    const name = c.name;
    if (typeof name !== "string" || !(COMPONENTS as readonly string[]).includes(name)) return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record names component ${JSON.stringify(String(name).slice(0, 40))}, which is not one of ${COMPONENTS.join(", ")}` };
    if (out.some((x) => x.name === name)) return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record names component ${name} twice` };
    const path = c.backupPath;
    if (typeof path !== "string" || path.length > 512 || !BACKUP_PATH_RE.test(path)) return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record gives component ${name} no plain backup path` };
    if (c.engine !== undefined && (typeof c.engine !== "string" || !ENGINES.has(c.engine))) return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record gives component ${name} an unknown engine` };
    if (c.backupToolName !== undefined && (typeof c.backupToolName !== "string" || !NAME.test(c.backupToolName))) return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record gives component ${name} a tool that is not a name` };
    if (c.runByAPIManager !== undefined && typeof c.runByAPIManager !== "boolean") return { ok: false, message: `its ${DATABASES_CONTEXT_KEY} record gives component ${name} a runByAPIManager that is not true or false` };
    out.push({
      name: name as ComponentName, backupPath: path, ...(c.engine ? { engine: c.engine as string } : {}), ...(c.backupToolName ? { backupToolName: c.backupToolName as string } : {}),
      ...(c.runByAPIManager === true ? { runByAPIManager: true } : {}),
    });
  }
  return { ok: true, components: out };
}

/** An import Backup as observed: absent, or present and whether this CR owns it. */
export interface ImportObservation {
  what: "apimanager" | ComponentName;
  path: string;
  backup?: Backup;
  owned: boolean;
}

export type ImportsState =
  | { state: "running"; creates: Array<{ kind: Kind; object: object }>; message: string }
  | { state: "failed"; reason: string; message: string }
  | { state: "completed" };

/**
 * Where the imports stand: any failed (or named like ours and not ours) fails the restore naming
 * it; missing ones are created (again, idempotently); else running until all completed.
 */
export function importsState(cr: CR, repo: string, imports: readonly ImportObservation[]): ImportsState {
  const creates: Array<{ kind: Kind; object: object }> = [];
  for (const i of imports) {
    const name = importBackupName(cr.name, i.what);
    const what = i.what === "apimanager" ? `the APIManager's backup at ${i.path}` : `component ${i.what} at ${i.path}`;
    if (!i.backup) {
      creates.push({ kind: Kinds.Backup, object: buildImportBackup(cr, i.what, repo, i.path) });
      continue;
    }
    if (!i.owned) return { state: "failed", reason: Reason.BackupNameTaken, message: `Backup "${cr.namespace}/${name}" exists and does not belong to APIManagerRestore "${cr.namespace}/${cr.name}": delete or rename it, or create the APIManagerRestore under another name` };
    if (i.backup.status?.phase === BackupPhase.Failed) {
      return { state: "failed", reason: Reason.ImportFailed, message: `${what} in BackupRepo "${repo}" could not be imported: Backup "${cr.namespace}/${name}" failed: ${i.backup.status.failureReason ?? "no reason recorded"}; nothing was restored` };
    }
  }
  if (creates.length === 0 && imports.every((i) => i.backup?.status?.phase === BackupPhase.Completed)) return { state: "completed" };
  const names = imports.map((i) => i.what).join(", ");
  return { state: "running", creates, message: `importing from BackupRepo "${repo}" (${names}), then restoring as from an APIManagerBackup` };
}

/** The restore source once every import completed: the imported Backups, as an APIManagerBackup's status would name them. */
export function importedSource(cr: CR, components: readonly RecordedComponent[]): { backupName: string; databases: BackedUpComponent[] } {
  return {
    backupName: importBackupName(cr.name, "apimanager"),
    databases: components.map((c) => ({
      name: c.name, ...(c.engine ? { engine: c.engine } : {}), backupName: importBackupName(cr.name, c.name), ...(c.backupToolName ? { backupToolName: c.backupToolName } : {}),
      ...(c.runByAPIManager ? { runByAPIManager: true } : {}),
    })),
  };
}

/** Status keys of a restore whose imports all completed. */
export function importedStatus(s: APIManagerRestoreStatus): APIManagerRestoreStatus {
  return { ...s, mainStepsCompleted: { ...s.mainStepsCompleted, backupsImported: true } };
}
