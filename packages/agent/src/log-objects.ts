// Pure: which archived log objects (WAL segments, binlogs) a recovery to a point in time needs.
// A log archiver pushes each finished log file once, as <prefix><file>, and keeps re-pushing the
// file being written as <prefix><file>.partial; the manifest records when each push ended
// (stopTime). A finished file is recorded as ending at its last write (push --stop-time with its
// mtime), however late its push ran; a partial at its push. So a file recorded at P holds nothing
// written after P, and a finished file holds nothing written after the next file began.

export interface LogObject {
  name: string;
  /** When its push ended (manifest stopTime). */
  stopTime: string;
}

export interface LogSelection {
  /** Objects to fetch, in log order, and the file name each is written as. */
  fetch: Array<{ object: string; file: string }>;
  /** `from` was given and the archive does not hold it (pruned by retention, or never archived). */
  missingFrom?: { oldest?: string };
  /** The newest push time among them: no record after it can be recovered from this selection. */
  coveredUntil?: Date;
}

const PARTIAL = ".partial";

/**
 * The objects under `prefix` from log file `from` on (by name, which orders log files), up to and
 * including the first one that ended more than `slackMs` after `until`: its last record was
 * received after `until` + slack, so (the server's commit-to-archiver delay being under the
 * slack) everything in later files was committed after `until` and is not needed.
 * When no finished file reaches that far, the newest `.partial` beyond the last finished file is
 * added (written under its finished name, as the server expects it). `from` compares on the
 * part of the name after `fromSkip` characters (PostgreSQL: skip the 8-digit timeline).
 */
export function selectLogObjects(objects: readonly LogObject[], o: { prefix: string; from?: string; fromSkip?: number; until: Date; slackMs: number }): LogSelection {
  const skip = o.fromSkip ?? 0;
  const fileOf = (name: string) => name.slice(o.prefix.length);
  const logs = objects.filter((x) => x.name.startsWith(o.prefix) && fileOf(x.name).length > 0);
  const finished = logs.filter((x) => !x.name.endsWith(PARTIAL)).sort((a, b) => fileOf(a.name).localeCompare(fileOf(b.name)));
  const from = o.from?.slice(skip);
  const fetch: LogSelection["fetch"] = [];
  let covered: number | undefined;
  const take = (x: LogObject, file: string) => {
    fetch.push({ object: x.name, file });
    const t = Date.parse(x.stopTime);
    if (Number.isFinite(t)) covered = Math.max(covered ?? t, t);
  };
  const limit = o.until.getTime() + o.slackMs;
  let reached = false;
  for (const x of finished) {
    const file = fileOf(x.name);
    if (from !== undefined && file.slice(skip) < from) continue;
    take(x, file);
    if (Date.parse(x.stopTime) > limit) {
      reached = true;
      break;
    }
  }
  if (!reached) {
    const last = finished.length ? fileOf(finished[finished.length - 1]!.name) : undefined;
    const partial = logs
      .filter((x) => x.name.endsWith(PARTIAL))
      .map((x) => ({ x, file: fileOf(x.name).slice(0, -PARTIAL.length) }))
      .filter((p) => (last === undefined || p.file > last) && (from === undefined || p.file.slice(skip) >= from))
      .sort((a, b) => b.file.localeCompare(a.file))[0];
    if (partial) take(partial.x, partial.file);
  }
  const first = fetch[0]?.file;
  const missingFrom = from !== undefined && first?.slice(skip) !== from ? { oldest: finished[0] ? fileOf(finished[0].name) : undefined } : undefined;
  return { fetch, coveredUntil: covered === undefined ? undefined : new Date(covered), ...(missingFrom ? { missingFrom } : {}) };
}

/**
 * Archived log objects under `prefix` pushed before `before` (retention: the archiver prunes what
 * no kept base backup can need), never the newest finished one nor a partial.
 */
export function expiredLogObjects(objects: readonly LogObject[], prefix: string, before: Date): string[] {
  const finished = objects.filter((x) => x.name.startsWith(prefix) && !x.name.endsWith(PARTIAL)).sort((a, b) => a.name.localeCompare(b.name));
  return finished.slice(0, -1).filter((x) => Date.parse(x.stopTime) < before.getTime()).map((x) => x.name);
}
