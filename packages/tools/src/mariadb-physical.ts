// MariaDB physical backup and point-in-time recovery: `mariadb-backup` (Debian's mariadb-backup,
// a hot copy of the data directory) and `mariadb-binlog-pitr` (binary-log archiving).
//
// Why streaming the binlogs with `mariadb-binlog --read-from-remote-server` and not copying
// them from the server's volume: the archiver then needs nothing of the server but an account
// with REPLICATION SLAVE (and BINLOG MONITOR for SHOW MASTER STATUS), like a replica. A copier
// would have to mount the server's data volume (a ReadWriteOnce volume pins it to the server's
// node, and log_bin_basename may point outside that volume), know where the binlogs are and what
// they are called, and race the server: PURGE BINARY LOGS / binlog_expire_logs_seconds delete
// files under it, and a file being appended to is read torn at any byte with no way to tell a
// finished file from one the server will extend. Streamed, the server sends whole events in
// commit order and says when a file ends (Rotate), so "finished" is exact, and the archiver's
// own copy of the file being written is what is snapshotted (a snapshot may still end inside an
// event: the restore keeps its whole events only).
//
// Backup (the logfile Backup's StatefulSet): `mariadb-binlog --raw --stop-never` writes exact
// copies of the server's binlog files into a temp dir; every ARCHIVE_INTERVAL each finished file
// (one a newer file follows) is pushed once as binlog/<file>, and the file being written as
// binlog/<file>.partial (again only when it grew), so the newest restorable point is at most one
// interval old. After a restart the archiver resumes from the newest file it archived (streamed
// again from its start); on its first start, from the server's current binlog. Binlogs pushed
// before the policy's keep-from time (LOG_KEEP_FROM_FILE) are pruned (dp-agent prune-log: never
// the newest), as postgres-pitr does with WAL.
//
// Restore (after mariadb-backup's restore of the base, the target scaled to 0): the base's
// binlog position (xtrabackup_binlog_info, which mariadb-backup writes into every backup of a
// server with log_bin; mariadb_backup_binlog_info in newer releases) says where replay starts;
// `dp-agent pull-log` fetches the binlogs from that file up to the first one archived well past
// KB_RECOVERY_TIME; a temporary mariadbd on the restored data directory (socket only) replays
// them with `mariadb-binlog --start-position=<base pos> --stop-datetime=<T + 1 s>` and is shut
// down cleanly. Scripts avoid `$(...)` and `$$` (see shell.ts).
//
// What "at or before restoreTime" means (T = restoreTime, its fraction of a second dropped):
// every binlog event carries a whole second (UTC epoch). A statement's events carry the second
// the statement began; a transaction's first event (GTID) and last (XID/COMMIT) carry the second
// its COMMIT began, or, for an autocommit statement, the second that statement began, which is
// the second NOW() / CURRENT_TIMESTAMP returned to it. The header events of a binlog file carry
// the second the file was opened (server start or rotation). mariadb-binlog stops at the first
// event stamped T + 1 s or later. So the restore holds every transaction whose commit began at
// or before T (whole seconds) and that the source logged before the first event stamped after T:
// with concurrent writers (or a rotation in the second after T), a transaction that began
// committing in second T but reached the binlog after an event stamped T + 1 is not restored; it
// was written after T + 1 began. A transaction cut by the stop is rolled back (mariadb-binlog
// ends its output with ROLLBACK). For rows inserted by autocommit statements of one session with
// a DATETIME column set by NOW(): restored exactly when that column is <= T (both in UTC), barring
// a rotation between such a statement's start in second T and its commit.
import { AnnotationRunAsRoot, LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";
import { DB_TOOLS_IMAGE } from "./images.ts";
import { checkedPipe } from "./shell.ts";

/** DATA_DIR's default: the server's datadir as the tool pod mounts it (the e2e servers' layout: the PVC at /data). */
export const MARIADB_DATA_DIR = "/data/mysql";

/** Client options of mariadb-backup, mariadb-binlog and mariadb; the password travels in MYSQL_PWD. */
const CONNECT = '--protocol=tcp --host="$DB_HOST" --port="${DB_PORT:-3306}" --user="$DB_USER"';

/** The object a mariadb-backup backup is stored as. */
export const MARIADB_BACKUP_OBJECT = "backup.xbstream";

/** Object name prefix of the archived binlogs. */
export const BINLOG_PREFIX = "binlog/";

export const MARIADB_BACKUP_SCRIPT = [
  "set -e",
  'export MYSQL_PWD="$DB_PASSWORD"',
  `d="\${DATA_DIR:-${MARIADB_DATA_DIR}}"`,
  'test -d "$d" || { echo "no data directory at $d: mount the server\'s data volume and set DATA_DIR to its datadir as the tool pod sees it" >&2; exit 1; }',
  // mariadb-backup keeps nothing in --target-dir when it streams; it must be writable.
  "t=`mktemp -d`",
  "trap 'rm -rf \"$t\"' EXIT",
  ...checkedPipe(
    `mariadb-backup --no-defaults --backup --stream=xbstream --datadir="$d" --target-dir="$t" ${CONNECT}`,
    `dp-agent push ${MARIADB_BACKUP_OBJECT}`,
    "mariadb-backup",
  ),
  'echo "backed up $d of $DB_HOST:${DB_PORT:-3306} into ' + MARIADB_BACKUP_OBJECT + ' (its binlog position is in xtrabackup_binlog_info when the server runs with log_bin)"',
].join("\n");

export const MARIADB_BACKUP_RESTORE_SCRIPT = [
  "set -e",
  `d="\${DATA_DIR:-${MARIADB_DATA_DIR}}"`,
  // The owner the server runs as: the data directory's, or, for a new one, its parent's.
  'if [ -d "$d" ]; then owner=`stat -c %u:%g "$d"`; else mkdir -p "$d"; owner=`stat -c %u:%g "$d/.."`; fi',
  // Unpacked and prepared inside $d (same file system: the move below is a rename), so the old
  // data stays until the new is ready.
  's="$d/.dp-restore"',
  'rm -rf "$s"; mkdir "$s"',
  ...checkedPipe(`dp-agent pull ${MARIADB_BACKUP_OBJECT}`, 'mbstream -x -C "$s"', `dp-agent pull ${MARIADB_BACKUP_OBJECT}`),
  `test -f "$s/xtrabackup_checkpoints" || { echo "${MARIADB_BACKUP_OBJECT} of $BACKUP_NAME holds no xtrabackup_checkpoints: not a mariadb-backup backup" >&2; exit 1; }`,
  // Applies the redo log copied during the backup: the files become a consistent data directory.
  'mariadb-backup --no-defaults --prepare --target-dir="$s"',
  'find "$d" -mindepth 1 -maxdepth 1 ! -name .dp-restore ! -name lost+found -exec rm -rf {} +',
  'find "$s" -mindepth 1 -maxdepth 1 -exec mv -t "$d" {} +',
  'rmdir "$s"',
  'chown -R "$owner" "$d"',
  // The binlog position of the base stays in $d for mariadb-binlog-pitr's replay.
  'pos=`cat "$d/xtrabackup_binlog_info" "$d/mariadb_backup_binlog_info" 2>/dev/null | head -n 1 || true`',
  'echo "restored $BACKUP_NAME into $d (owner $owner; binlog position of the base: ${pos:-none, the server ran without log_bin})"',
].join("\n");

/** Replica server id of one logfile Backup's mariadb-binlog: two archivers must not share one (the server drops the older). */
const SERVER_ID = 'sid=`printf %s "$BACKUP_NAME" | cksum | cut -d" " -f1`; sid=`expr "$sid" % 1000000000 + 1000000000`';

export const MARIADB_BINLOG_ARCHIVE_SCRIPT = [
  "set -e",
  'export MYSQL_PWD="$DB_PASSWORD"',
  "w=`mktemp -d`",
  'rp=""',
  "trap 'kill \"$rp\" 2>/dev/null || true; rm -rf \"$w\"' EXIT",
  'iv="${ARCHIVE_INTERVAL%s}"; [ -n "$iv" ] || iv=60',
  SERVER_ID,
  // Where to start: the newest binlog already archived (after a restart), else the server's current one.
  'dp-agent ls > "$w/.archived"',
  `first=\`cut -f1 "$w/.archived" | sed -n "s|^${BINLOG_PREFIX}||p" | sed "s/\\.partial$//" | LC_ALL=C sort | tail -n 1\``,
  'if [ -z "$first" ]; then',
  `  mariadb --no-defaults ${CONNECT} -N -B -e "SHOW MASTER STATUS" > "$w/.status"`,
  '  first=`cut -f1 "$w/.status"`',
  '  test -n "$first" || { echo "SHOW MASTER STATUS on $DB_HOST is empty: binary logging is off (start the server with log_bin)" >&2; exit 1; }',
  "fi",
  'echo "archiving binlogs of $DB_HOST:${DB_PORT:-3306} from $first on, every ${iv}s (replica server id $sid)"',
  "archive() {",
  '  ls "$w" | grep -E "\\.[0-9]+$" | LC_ALL=C sort > "$w/.files" || true',
  '  last=`tail -n 1 "$w/.files"`',
  // Finished files (a newer one follows), oldest first: pushed once, recorded as ending at their
  // last write (mtime), which a recovery's selection relies on however late the push; then their
  // partial copy goes.
  '  for f in `cat "$w/.files"`; do',
  '    [ "$f" != "$last" ] || break',
  `    dp-agent push "${BINLOG_PREFIX}$f" --stop-time "\`stat -c %Y "$w/$f"\`" < "$w/$f"`,
  `    dp-agent rm "${BINLOG_PREFIX}$f.partial" >/dev/null 2>&1 || true`,
  '    rm -f "$w/$f"',
  "  done",
  // The file being written: a snapshot of it, pushed again whenever it grew.
  '  if [ -n "$last" ]; then',
  '    cp "$w/$last" "$w/.snapshot"',
  '    size=`wc -c < "$w/.snapshot"`',
  '    if [ "$last:$size" != "$pushed" ]; then',
  `      dp-agent push "${BINLOG_PREFIX}$last.partial" < "$w/.snapshot"`,
  '      pushed="$last:$size"',
  "    fi",
  '    rm -f "$w/.snapshot"',
  "  fi",
  // Retention: no kept base backup needs a binlog pushed before its policy's keep-from time.
  `  if [ -s "$LOG_KEEP_FROM_FILE" ]; then dp-agent prune-log --prefix ${BINLOG_PREFIX} --before "\`cat "$LOG_KEEP_FROM_FILE"\`"; fi`,
  "}",
  'pushed=""',
  // Stopping the archive (the Backup completes or is deleted): one last push of what was received.
  "trap 'kill \"$rp\" 2>/dev/null || true; wait \"$rp\" 2>/dev/null || true; archive || true; exit 0' TERM INT",
  `mariadb-binlog --no-defaults --read-from-remote-server ${CONNECT} --raw --stop-never --to-last-log --stop-never-slave-server-id="$sid" --result-file="$w/" "$first" &`,
  "rp=$!",
  'while kill -0 "$rp" 2>/dev/null; do',
  '  sleep "$iv" & wait $!',
  "  archive",
  "done",
  // mariadb-binlog ended (server restarted or gone, binlog purged): push what it wrote, then fail
  // so the pod restarts and resumes from the newest archived binlog.
  'wait "$rp" || st=$?',
  "archive",
  'echo "mariadb-binlog stopped (exit ${st:-0}): restarting" >&2',
  "exit 1",
].join("\n");

/** The socket of the temporary replay server, in its run directory $r. */
const REPLAY_SOCKET = '--socket="$r/mysqld.sock"';

export const MARIADB_BINLOG_RECOVERY_SCRIPT = [
  "set -e",
  `d="\${DATA_DIR:-${MARIADB_DATA_DIR}}"`,
  'test -n "$KB_RECOVERY_TIME" || { echo "KB_RECOVERY_TIME is not set: this step runs in a RestoreJob with restoreTime" >&2; exit 1; }',
  'info="$d/xtrabackup_binlog_info"; [ -f "$info" ] || info="$d/mariadb_backup_binlog_info"',
  'if [ ! -s "$info" ]; then',
  '  if [ -f "$d/xtrabackup_binlog_info.replayed" ] || [ -f "$d/mariadb_backup_binlog_info.replayed" ]; then echo "$d was already rolled forward from its base: restore the base first" >&2; exit 1; fi',
  '  echo "no binlog position of the base in $d (xtrabackup_binlog_info): the base is restored first, by the mariadb-backup tool, from a server with log_bin" >&2; exit 1',
  "fi",
  'read -r bfile bpos brest < "$info"',
  'test -n "$bfile" && test -n "$bpos" || { echo "$info names no binlog file and position" >&2; exit 1; }',
  // Seconds: the restore's floor of restoreTime; replay stops at the first event of the next second.
  'ts="$KB_RECOVERY_TIMESTAMP"; [ -n "$ts" ] || ts=`date -u -d "$KB_RECOVERY_TIME" +%s`',
  't1=`expr "$ts" + 1`',
  'stop=`date -u -d "@$t1" "+%Y-%m-%d %H:%M:%S"`',
  // mariadb-binlog's own header format (yymmdd, space-padded hour), to compare event times with the stop.
  'stopstamp=`date -u -d "@$t1" "+%y%m%d %k:%M:%S"`',
  // The archive interval is not in a restore's env: 60 s assumed. A finished file is pushed at
  // most an interval plus one archive pass after it ended, hence twice that plus 30 s.
  'iv="${ARCHIVE_INTERVAL%s}"; [ -n "$iv" ] || iv=60',
  'slack="${BINLOG_SLACK_SECONDS:-}"; [ -n "$slack" ] || slack=`expr "$iv" \\* 2 + 30`',
  // Beside the data directory (not in it: a directory there is a database to the server).
  'w="${BINLOG_RESTORE_DIR:-$d.dp-binlog}"',
  "r=`mktemp -d`",
  'sp=""',
  // On any exit: the replay server (if still up) stopped cleanly, the scratch removed.
  "trap 'if [ -n \"$sp\" ] && kill -0 \"$sp\" 2>/dev/null; then kill -TERM \"$sp\"; wait \"$sp\" || true; fi; rm -rf \"$r\" \"$w\"' EXIT",
  // The archiver may replace the .partial object while it is read: up to three attempts.
  "n=1",
  `until rm -rf "$w" && mkdir -p "$w" && dp-agent pull-log "$w" --prefix ${BINLOG_PREFIX} --from "$bfile" --until "$KB_RECOVERY_TIME" --slack "$slack" > "$r/pulled"; do`,
  '  [ "$n" -lt 3 ] || exit 1',
  '  n=`expr "$n" + 1`; echo "dp-agent pull-log failed: attempt $n of 3" >&2; sleep 2',
  "done",
  'cat "$r/pulled"',
  'ls "$w" | LC_ALL=C sort > "$r/files"',
  'first=`head -n 1 "$r/files"`',
  'test "$first" = "$bfile" || { echo "the archive holds no $bfile, the binlog the base ends in (it starts at ${first:-nothing}): the logfile Backup began after this base" >&2; exit 1; }',
  // Consecutive numbers: a binlog purged before it was archived is a hole no replay can cross.
  `awk -F. '{ n = $NF + 0; if (NR > 1 && n != p + 1) { print "the archive has no binlog between " prev " and " $0 ": cannot replay across the gap" > "/dev/stderr"; exit 1 } p = n; prev = $0 }' "$r/files"`,
  // The last file may be a snapshot of a file being written, cut inside an event: keep it up to
  // the end of its last whole event.
  'last=`tail -n 1 "$r/files"`',
  'TZ=UTC mariadb-binlog --no-defaults "$w/$last" > "$r/last.sql" 2>/dev/null || true',
  'end=`sed -n "s/^#.* end_log_pos \\([0-9][0-9]*\\).*/\\1/p" "$r/last.sql" | sort -n | tail -n 1`',
  'size=`wc -c < "$w/$last"`',
  'if [ -n "$end" ] && [ "$end" -lt "$size" ]; then head -c "$end" "$w/$last" > "$r/cut"; mv "$r/cut" "$w/$last"; echo "$last: kept its $end bytes of whole events (of $size)"; fi',
  // A finished last file whose events all precede the stop means the next one was needed.
  'lastobj=`tail -n 1 "$r/pulled" | cut -f1`',
  'laststamp=`grep "^#[0-9]" "$r/last.sql" | tail -n 1 | cut -c2-16`',
  'rm -f "$r/last.sql"',
  'case "$lastobj" in',
  "  *.partial) ;;",
  `  *) if awk -v a="$laststamp" -v b="$stopstamp" 'BEGIN { exit !(a < b) }'; then echo "binlog $last (finished) ends with an event of $laststamp (yymmdd, UTC), before $stop UTC, and the binlog after it was not fetched: set BINLOG_SLACK_SECONDS above $slack" >&2; exit 1; fi ;;`,
  "esac",
  "set --",
  'while IFS= read -r f; do set -- "$@" "$w/$f"; done < "$r/files"',
  // A temporary server on the restored data directory: no network, no grant checks, no
  // replication or events, as the data directory's owner, with the InnoDB settings the backup
  // recorded (backup-my.cnf: page size, log and undo layout). REPLAY_SERVER_OPTIONS adds more
  // (e.g. lower_case_table_names, plugins the tables need).
  'uid=`stat -c %u "$d"`; gid=`stat -c %g "$d"`',
  'chown "$uid:$gid" "$r"',
  'if [ -f "$d/backup-my.cnf" ]; then defaults="--defaults-file=$d/backup-my.cnf"; else defaults="--no-defaults"; fi',
  'as=""; asroot=""',
  'if [ "`id -u`" = 0 ]; then if [ "$uid" = 0 ]; then asroot="--user=root"; else as="setpriv --reuid=$uid --regid=$gid --clear-groups"; fi; fi',
  `$as mariadbd "$defaults" --datadir="$d" ${REPLAY_SOCKET} --pid-file="$r/mysqld.pid" $asroot --skip-networking --skip-grant-tables --skip-slave-start --event-scheduler=OFF --max-allowed-packet=1G $REPLAY_SERVER_OPTIONS &`,
  "sp=$!",
  "n=0",
  `until mariadb --no-defaults ${REPLAY_SOCKET} -u root -e "SELECT 1" >/dev/null 2>&1; do`,
  '  kill -0 "$sp" 2>/dev/null || { wait "$sp" || true; sp=""; echo "the replay server on $d exited: see its log above" >&2; exit 1; }',
  '  n=`expr "$n" + 1`; [ "$n" -lt 600 ] || { echo "the replay server on $d did not accept connections within 600 s" >&2; exit 1; }',
  "  sleep 1",
  "done",
  'echo "replaying $# binlog(s) from $bfile:$bpos up to $stop UTC (exclusive)"',
  // FLUSH PRIVILEGES loads the grant tables, so account statements in the binlogs apply; the
  // session keeps every privilege it was given.
  ...checkedPipe(
    `{ echo "FLUSH PRIVILEGES;"; TZ=UTC mariadb-binlog --no-defaults --start-position="$bpos" --stop-datetime="$stop" "$@"; }`,
    `mariadb --no-defaults ${REPLAY_SOCKET} -u root --binary-mode --max-allowed-packet=1G`,
    "mariadb-binlog",
  ),
  // A clean shutdown (SIGTERM): InnoDB flushes, the real server starts without recovery.
  'kill -TERM "$sp"',
  'wait "$sp" || { sp=""; echo "the replay server on $d did not shut down cleanly" >&2; exit 1; }',
  'sp=""',
  // Replaying again onto the rolled-forward data would apply transactions twice.
  'mv "$info" "$info.replayed"',
  'echo "rolled $d forward from $bfile:$bpos to $KB_RECOVERY_TIME (events before $stop UTC)"',
].join("\n");

/**
 * `mariadb-backup` (physical): `mariadb-backup --backup --stream=xbstream` of the server's data
 * directory, streamed into the object `backup.xbstream`. The tool pod mounts the target's
 * volumes on its node (the Backup Job's contract), so DATA_DIR (default /data/mysql) must be the
 * server's datadir as mounted there; mariadb-backup also connects (DB_HOST/DB_PORT, DB_USER /
 * DB_PASSWORD) for the backup locks and the binlog position (BACKUP STAGE BLOCK_COMMIT: the
 * position is consistent with the copied InnoDB data). Restore (the target StatefulSet scaled to
 * 0, its data PVC mounted) unpacks it with `mbstream -x` into a scratch directory inside
 * $DATA_DIR, runs `mariadb-backup --prepare` there, then replaces the data directory's contents
 * with it and gives everything the data directory's owner. The binlog position of the base
 * (xtrabackup_binlog_info) stays in the data directory for mariadb-binlog-pitr.
 *
 * Needs: an account with RELOAD, PROCESS, LOCK TABLES and BINLOG MONITOR (10.5+), connecting
 * over TCP from the tool pod; the server's volume mountable by the tool pod (same node); the
 * same MariaDB major version in the tool image as the server (10.11 here). Annotated
 * run-as-root: the backup reads files of the server's uid, the restore writes them.
 */
export const mariadbBackupTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: {
    name: "mariadb-backup",
    labels: { [LabelManagedBy]: ManagedBy },
    annotations: { [AnnotationRunAsRoot]: "true" },
  },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "job",
    type: "file",
    env: [{ name: "DATA_DIR", value: MARIADB_DATA_DIR }],
    backupCommands: ["sh", "-c", MARIADB_BACKUP_SCRIPT],
    physical: { restoreCommands: [MARIADB_BACKUP_RESTORE_SCRIPT] },
  },
};

/**
 * `mariadb-binlog-pitr` (logfile): archives the server's binary logs through
 * `mariadb-binlog --read-from-remote-server --raw --stop-never` and, as the log step of a
 * point-in-time RestoreJob, replays them onto the base that mariadb-backup restored (see the
 * header of this file for what is restored).
 *
 * Needs: log_bin on the server (binlog_format any; the replay applies statements with the
 * session time zone the binlog records, so a server whose time_zone is SYSTEM should run with
 * the same TZ as the restore pod, or use ROW), an account with REPLICATION SLAVE and BINLOG
 * MONITOR over TCP (DB_USER/DB_PASSWORD), binlogs kept on the server at least as long as the
 * archiver may be down (expire_logs_days / binlog_expire_logs_seconds), and mariadb-backup for the
 * policy's datafile backups. max_binlog_size bounds what is re-pushed every interval (the file
 * being written is pushed whole). The restore writes its fetched binlogs to BINLOG_RESTORE_DIR
 * (default $DATA_DIR.dp-binlog, beside the data directory, on the same volume when DATA_DIR is
 * a subdirectory of the mount) and runs mariadbd from the tool image: the same major version as
 * the server. Binlog file names must sort in log order (basename.NNNNNN, up to 999999).
 *
 * The restore refuses (before starting any server) an archive that does not hold the base's
 * binlog, one with a numbering gap, and a data directory already rolled forward. Tool env knobs:
 * BINLOG_SLACK_SECONDS, how long after restoreTime a finished binlog may have been pushed and
 * still be needed (default twice the interval plus 30 s; a restore is not given ARCHIVE_INTERVAL,
 * so 60 s is assumed: raise it for longer intervals; a selection that stops short fails with
 * this name); REPLAY_SERVER_OPTIONS, extra mariadbd options for the replay server (what the
 * tables need beyond backup-my.cnf's InnoDB settings, e.g. --lower-case-table-names=1).
 */
export const mariadbBinlogPitrTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: {
    name: "mariadb-binlog-pitr",
    labels: { [LabelManagedBy]: ManagedBy },
    // The recovery step writes beside the data directory and runs the replay server as its owner.
    annotations: { [AnnotationRunAsRoot]: "true" },
  },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "statefulSet",
    type: "pitr",
    env: [{ name: "DATA_DIR", value: MARIADB_DATA_DIR }],
    backupCommands: ["sh", "-c", MARIADB_BINLOG_ARCHIVE_SCRIPT],
    physical: { restoreCommands: [MARIADB_BINLOG_RECOVERY_SCRIPT] },
  },
};
