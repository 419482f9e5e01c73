// `postgres-pitr`: PostgreSQL continuous archiving and point-in-time recovery.
//
// Why pg_receivewal and not archive_command: archive_command runs inside the database server, so
// the server's image would need dp-agent and the repo's credentials. pg_receivewal streams WAL
// over the replication protocol from the logfile Backup's own pod, like any other tool pod; a
// replication slot makes the server keep every segment until it is received (no gap after a
// restart of the archiver), and the slot is dropped when the archiver is stopped (SIGTERM).
//
// Backup (the logfile Backup's StatefulSet): every ARCHIVE_INTERVAL each finished segment is
// pushed once as wal/<segment>, and the segment being written as wal/<segment>.partial, so the
// newest restorable point is at most one interval old. Segments pushed before the policy's
// keep-from time (LOG_KEEP_FROM_FILE: the oldest kept base backup's start, less a minute, from
// the BackupPolicy controller) are pruned after every pass: no kept base needs them, whatever
// kept it (ttl, history limit, protection). Restore (after postgres-basebackup's
// restore of the base): `dp-agent pull-log` fetches the segments from the base backup's start
// segment (backup_label) up to the first one archived an interval past KB_RECOVERY_TIME into
// $DATA_DIR/dp_wal, and the server is told to recover to that time and promote
// (restore_command copies from dp_wal; timeline latest). Scripts avoid `$(...)` and `$$` (see
// postgres.ts).
import { AnnotationRunAsRoot, LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";
import { DB_TOOLS_IMAGE } from "./images.ts";

const CONNECT = '-h "$DB_HOST" -p "${DB_PORT:-5432}" -U "$DB_USER" -w';

/** Replication slot of one logfile Backup: lower case letters, digits and underscores. */
const SLOT = 'slot=`echo "dp_$BACKUP_NAME" | tr "A-Z" "a-z" | tr -c "a-z0-9_\\n" "_" | cut -c1-63`';

export const POSTGRES_ARCHIVE_SCRIPT = [
  "set -e",
  'export PGPASSWORD="$DB_PASSWORD"',
  // The spool (an emptyDir) outlives this container: WAL received under the slot is confirmed to
  // the server, which may then recycle it, so what a crashed run had not pushed is only here.
  'if [ -n "${LOG_SPOOL_DIR:-}" ]; then w="$LOG_SPOOL_DIR/wal"; mkdir -p "$w"; else w=`mktemp -d`; fi',
  SLOT,
  'iv="${ARCHIVE_INTERVAL%s}"; [ -n "$iv" ] || iv=60',
  `pg_receivewal ${CONNECT} --create-slot --if-not-exists -S "$slot"`,
  // Stopping the archive (the Backup completes or is deleted) releases the server's WAL.
  // What was received is pushed first.
  `trap 'kill "$rp" 2>/dev/null || true; wait "$rp" 2>/dev/null || true; archive || true; pg_receivewal ${CONNECT} --drop-slot -S "$slot" || true; rm -rf "$w"; exit 0' TERM INT`,
  `pg_receivewal ${CONNECT} -D "$w" -S "$slot" --synchronous -n &`,
  "rp=$!",
  "archive() {",
  // Finished segments, oldest first: pushed once, recorded as ending at their last write (mtime:
  // pg_receivewal writes as it receives), which a recovery's selection relies on however late
  // the push; then their partial copy goes.
  '  for f in `ls "$w" | grep -E "^[0-9A-F]{24}$" || true`; do',
  '    dp-agent push "wal/$f" --stop-time "`stat -c %Y "$w/$f"`" < "$w/$f"',
  '    dp-agent rm "wal/$f.partial" >/dev/null 2>&1 || true',
  '    rm -f "$w/$f"',
  "  done",
  // The segment being written: a snapshot of it, pushed again every interval.
  '  p=`ls "$w" | grep -E "^[0-9A-F]{24}\\.partial$" | tail -n 1 || true`',
  '  if [ -n "$p" ]; then cp "$w/$p" "$w/.snapshot"; dp-agent push "wal/$p" < "$w/.snapshot"; rm -f "$w/.snapshot"; fi',
  // Retention: no kept base backup needs a segment pushed before its policy's keep-from time.
  // A failed prune is retried on the next pass: archiving goes on.
  '  if [ -s "$LOG_KEEP_FROM_FILE" ]; then dp-agent prune-log --prefix wal/ --before "`cat "$LOG_KEEP_FROM_FILE"`" || echo "prune-log failed (exit $?): retried in ${iv}s" >&2; fi',
  "}",
  'while kill -0 "$rp" 2>/dev/null; do',
  '  sleep "$iv" & wait $!',
  "  archive",
  "done",
  // pg_receivewal ended (server gone, slot dropped): push what it wrote, then fail, so the container
  // restarts and resumes from the spool and the slot.
  'wait "$rp" || st=$?',
  "archive",
  'echo "pg_receivewal stopped (exit ${st:-0}): restarting" >&2',
  "exit 1",
].join("\n");

export const POSTGRES_RECOVERY_SCRIPT = [
  "set -e",
  'd="${DATA_DIR:-/data/pgdata}"',
  'test -s "$d/PG_VERSION" || { echo "no PostgreSQL data directory at $d: the base backup is restored first" >&2; exit 1; }',
  'test -n "$KB_RECOVERY_TIME" || { echo "KB_RECOVERY_TIME is not set: this step runs in a RestoreJob with restoreTime" >&2; exit 1; }',
  'start=`sed -n "s/^START WAL LOCATION: .* (file \\([0-9A-F]*\\))$/\\1/p" "$d/backup_label" 2>/dev/null || true`',
  'test -n "$start" || { echo "$d/backup_label names no start WAL file: the base is not a postgres-basebackup backup" >&2; exit 1; }',
  'w="$d/dp_wal"',
  'rm -rf "$w"; mkdir -p "$w"',
  'iv="${ARCHIVE_INTERVAL%s}"; [ -n "$iv" ] || iv=60',
  'dp-agent pull-log "$w" --prefix wal/ --from "$start" --from-skip 8 --until "$KB_RECOVERY_TIME" --slack "$iv"',
  // The server's recovery_target_time parser wants "YYYY-MM-DD HH:MM:SS+00", not RFC 3339's T/Z.
  't=`echo "$KB_RECOVERY_TIME" | sed "s/T/ /; s/Z$/+00/"`',
  // restore_command runs in the data directory; the settings apply while recovery.signal exists.
  "{",
  "  echo \"restore_command = 'cp dp_wal/%f \\\"%p\\\"'\"",
  "  echo \"recovery_target_time = '$t'\"",
  "  echo \"recovery_target_inclusive = on\"",
  "  echo \"recovery_target_action = 'promote'\"",
  "  echo \"recovery_target_timeline = 'latest'\"",
  '} >> "$d/postgresql.auto.conf"',
  ': > "$d/recovery.signal"',
  'chown -R `stat -c %u:%g "$d/PG_VERSION"` "$d"',
  'echo "recovery to $KB_RECOVERY_TIME prepared in $d: `ls "$w" | wc -l` WAL files from $start on"',
].join("\n");

/**
 * Needs: a superuser or a role with REPLICATION (DB_USER/DB_PASSWORD from the policy's
 * target.secret), a pg_hba `replication` entry for the archiver pod, max_wal_senders and
 * max_replication_slots above the ones in use (PostgreSQL 15 defaults: 10), and the
 * postgres-basebackup tool for the policy's datafile backups (its backup_label tells the
 * recovery where to start).
 */
export const postgresPitrTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: {
    name: "postgres-pitr",
    labels: { [LabelManagedBy]: ManagedBy },
    // The recovery step writes into the data directory and gives it back to its owner.
    annotations: { [AnnotationRunAsRoot]: "true" },
  },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "statefulSet",
    type: "pitr",
    env: [{ name: "DATA_DIR", value: "/data/pgdata" }],
    backupCommands: ["sh", "-c", POSTGRES_ARCHIVE_SCRIPT],
    physical: { restoreCommands: [POSTGRES_RECOVERY_SCRIPT] },
  },
};
