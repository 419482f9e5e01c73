// Pure: the database components of an includeDatabases APIManagerBackup (its status.databases),
// as the APIManager's backup records them in its manifest's userContext (DATABASES_CONTEXT_KEY);
// a restore reads them back in controller/restore-import.ts.
import { DATABASES_CONTEXT_KEY } from "./layout.ts";

/** One database component as recorded: its generic Backup and where that Backup's data is. */
export interface RecordedComponent {
  /** system-database, system-redis, backend-redis, backend-redis-queues or zync-database. */
  name: string;
  /** mysql, postgresql or redis. */
  engine?: string;
  /** The component's generic Backup, in the APIManagerBackup's namespace. */
  backupName: string;
  /** The BackupTool that took it. */
  backupToolName?: string;
  /** The component Backup's status.manifests.backupTool.filePath (its path in the repo). */
  backupPath: string;
  /** The APIManager runs this database itself (status.databases[].runByAPIManager). */
  runByAPIManager?: boolean;
}

export type ComponentsContext =
  /** `context` is undefined when there is no component to record. */
  | { ok: true; components: RecordedComponent[]; context?: Record<string, string> }
  /** `retry`: not there yet (a status write racing the tool pod's start); otherwise it never will be. */
  | { ok: false; retry: boolean; component?: string; message: string };

/** A path in a BackupRepo, as the API's BackupRepoRestoreSource.path takes it: segments of [A-Za-z0-9._-] not starting with "." (so no "." or ".."), an optional leading "/". */
export const BACKUP_PATH_RE = /^\/?(?:[A-Za-z0-9_-][A-Za-z0-9._-]*\/)*[A-Za-z0-9_-][A-Za-z0-9._-]*$/;
const MAX_PATH = 512;
const NAME_RE = /^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$/;
const MAX_NAME = 63;
/** dp-agent's limit on one userContext value. */
export const MAX_CONTEXT_VALUE = 2048;
/** status.databases' maxItems. */
const MAX_COMPONENTS = 16;

const isName = (v: unknown): v is string => typeof v === "string" && v.length <= MAX_NAME && NAME_RE.test(v);
const isPath = (v: unknown): v is string => typeof v === "string" && v.length <= MAX_PATH && BACKUP_PATH_RE.test(v);

/**
 * What the APIManager's backup records of an APIManagerBackup's `status.databases`: every entry
 * must be Completed with a backupPath (else `retry`: the status may not be written yet), and hold
 * names (at most 63 characters) and a repo path; mapped to RecordedComponent (undefined fields
 * left out) under DATABASES_CONTEXT_KEY as JSON.
 */
export function componentsContext(status: unknown): ComponentsContext {
  const databases = status && typeof status === "object" ? (status as { databases?: unknown }).databases : undefined;
  if (databases === undefined || databases === null) return { ok: true, components: [] };
  const invalid = (message: string, component?: string): ComponentsContext => ({ ok: false, retry: false, component, message });
  if (!Array.isArray(databases)) return invalid("status.databases is not a list");
  if (databases.length > MAX_COMPONENTS) return invalid(`status.databases lists ${databases.length} components: at most ${MAX_COMPONENTS}`);
  const components: RecordedComponent[] = [];
  const names = new Set<string>();
  let notYet: ComponentsContext | undefined;
  for (const [i, e] of databases.entries()) {
    if (!e || typeof e !== "object" || Array.isArray(e)) return invalid(`status.databases[${i}] is not an object`);
    const d = e as Record<string, unknown>;
    if (!isName(d.name)) return invalid(`status.databases[${i}].name ${JSON.stringify(d.name)} is not a component name (at most ${MAX_NAME} characters)`);
    const c = `database component "${d.name}"`;
    if (names.has(d.name)) return invalid(`${c} is listed twice in status.databases`, d.name);
    names.add(d.name);
    if (!isName(d.backupName)) return invalid(`${c} names Backup ${JSON.stringify(d.backupName)}, which is not a Backup name (at most ${MAX_NAME} characters)`, d.name);
    for (const f of ["engine", "backupToolName"] as const) {
      if (d[f] !== undefined && !isName(d[f])) return invalid(`${c} records ${f} ${JSON.stringify(d[f])}, which is not a name (at most ${MAX_NAME} characters)`, d.name);
    }
    if (d.phase === "Failed") return invalid(`${c}: its Backup "${d.backupName}" failed: the APIManager's backup cannot record it`, d.name);
    if (d.phase !== "Completed") {
      notYet ??= { ok: false, retry: true, component: d.name, message: `${c}: its Backup "${d.backupName}" is not Completed (phase ${typeof d.phase === "string" ? d.phase : "unset"})` };
      continue;
    }
    if (d.backupPath === undefined || d.backupPath === "") {
      notYet ??= { ok: false, retry: true, component: d.name, message: `${c}: status.databases records no backupPath for its Backup "${d.backupName}"` };
      continue;
    }
    if (!isPath(d.backupPath)) return invalid(`${c} records backupPath ${JSON.stringify(d.backupPath)}, which is not a repo path (segments of [A-Za-z0-9._-], at most ${MAX_PATH} characters)`, d.name);
    if (d.runByAPIManager !== undefined && typeof d.runByAPIManager !== "boolean") return invalid(`${c} records runByAPIManager ${JSON.stringify(d.runByAPIManager)}, which is not true or false`, d.name);
    components.push({
      name: d.name,
      ...(d.engine !== undefined ? { engine: d.engine as string } : {}),
      backupName: d.backupName,
      ...(d.backupToolName !== undefined ? { backupToolName: d.backupToolName as string } : {}),
      backupPath: d.backupPath,
      ...(d.runByAPIManager === true ? { runByAPIManager: true } : {}),
    });
  }
  if (notYet) return notYet;
  if (components.length === 0) return { ok: true, components };
  const value = JSON.stringify(components);
  if (value.length > MAX_CONTEXT_VALUE) return invalid(`the ${components.length} database components take ${value.length} characters as JSON: a backup records at most ${MAX_CONTEXT_VALUE}`);
  return { ok: true, components, context: { [DATABASES_CONTEXT_KEY]: value } };
}
