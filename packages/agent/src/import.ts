// dp-agent import: the manifest of a backup another namespace (or a previous cluster) wrote into
// this repo, taken for a new Backup only when it can show what it is. The attacker is whoever can
// write the repo but has no key, or a user naming another backup's path: with a key the manifest
// must authenticate (manifest-auth.ts); it must be bound to a backup id (so each object it lists
// can be checked to be that backup's, Agent.importBackup) and record the path it is read from (so a
// manifest copied to another path is not taken for a backup there). Without a key nothing can
// prove who wrote it: it is taken with a warning.
import type { RepoBackend } from "@dataprotection/storage";
import { AgentError } from "./errors.ts";
import { BACKUP_ID_RE } from "./format/header.ts";
import type { KeySource } from "./format/keys.ts";
import { MANIFEST_NAME, type Manifest, isStringMap, loadManifest } from "./manifest.ts";
import { checkManifest } from "./manifest-auth.ts";

/** A manifest import accepted: bound to the backup id it records. */
export type ImportedManifest = Manifest & { backupId: string };

export interface ImportSource {
  /** DP_BACKUP_PATH (normalised: no leading or trailing slashes). */
  backupPath: string;
  /** The repo key: the manifest must authenticate under it. */
  key?: KeySource;
  /** DP_BACKUP_ID, when set anyway: the manifest must record it. */
  backupId?: string;
  warn: (line: string) => void;
}

const trimSlashes = (p: string): string => p.replace(/^\/+|\/+$/g, "");

/** manifest.json at `src.backupPath`, refused (AgentError) unless it may be imported (see above). */
export async function importableManifest(backend: RepoBackend, src: ImportSource): Promise<ImportedManifest> {
  const of = `${MANIFEST_NAME} of ${src.backupPath}`;
  const m = await loadManifest(backend, src.backupPath);
  if (!m) throw new AgentError(`no backup at ${src.backupPath} in repo ${backend.location} (no ${MANIFEST_NAME} there): nothing to import`);
  if (src.key) {
    // The mac only; the backup id is import's own business (below). No warning: a manifest from
    // before authentication, which this lets through, records no backup id and is refused below.
    await checkManifest(m, src.backupPath, { key: src.key }, "read");
  } else {
    src.warn(`warning: the repository is not encrypted (no DP_ENCRYPTION_KEY): ${of} cannot prove who wrote it (anyone who can write the repo can write or edit it and its objects); it is imported as it is`);
  }
  if (m.backupId === undefined) {
    throw new AgentError(
      `${of} predates backup binding (it records no backup id), so its objects cannot show they belong to it: it cannot be imported; restore it where it was made (from the Backup that wrote it)`,
    );
  }
  if (typeof m.backupId !== "string" || !BACKUP_ID_RE.test(m.backupId)) throw new AgentError(`${of} records backup id ${JSON.stringify(m.backupId)}, which is not a backup id: refusing it`);
  if (typeof m.backupPath !== "string" || trimSlashes(m.backupPath) !== src.backupPath) {
    throw new AgentError(`${of} records backup path ${JSON.stringify(m.backupPath)}, not ${src.backupPath}: it was copied from another backup's path; refusing it (import that path instead)`);
  }
  // Set anyway: the manifest must be that backup's (manifest-auth.ts words it).
  if (src.backupId !== undefined) await checkManifest(m, src.backupPath, { backupId: src.backupId }, "read");
  checkShape(m, of);
  return m as ImportedManifest;
}

/**
 * What the termination report is made of must be what a writer records: an authenticated manifest
 * always is; an unencrypted one may have been written by hand.
 */
function checkShape(m: Manifest, of: string): void {
  const bad = (what: string): AgentError => new AgentError(`${of} ${what}: refusing it`);
  if (m.tool !== undefined && typeof m.tool !== "string") throw bad("records a tool that is not a name");
  if (m.userContext !== undefined && !isStringMap(m.userContext)) throw bad("records a user context that is not a map of strings");
  if (m.files.length === 0) throw new AgentError(`${of} lists no objects: nothing to import`);
  const count = (n: unknown): n is number => typeof n === "number" && Number.isSafeInteger(n) && n >= 0;
  const names = new Set<string>();
  for (const f of m.files as unknown[]) {
    const e = f as Partial<Record<keyof Manifest["files"][number], unknown>> | null;
    if (!e || typeof e !== "object" || typeof e.name !== "string") throw bad("lists an object without a name");
    if (names.has(e.name)) throw bad(`lists object "${e.name}" twice`);
    names.add(e.name);
    if (typeof e.sha256 !== "string" || !/^[0-9a-f]{64}$/.test(e.sha256)) throw bad(`has no sha256 checksum for object "${e.name}"`);
    if (!count(e.size) || !count(e.storedSize)) throw bad(`has no sizes for object "${e.name}"`);
    if (e.snapshot !== undefined && typeof e.snapshot !== "string") throw bad(`names a snapshot for object "${e.name}" that is not an id`);
  }
  if (m.totalSize !== m.files.reduce((s, f) => s + f.size, 0) || m.storedSize !== m.files.reduce((s, f) => s + f.storedSize, 0)) throw bad("has totals that are not the sums of its objects'");
}
