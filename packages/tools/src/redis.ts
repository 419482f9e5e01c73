// Built-in Redis tools: the server's RDB snapshot fetched over the replication protocol and
// streamed through dp-agent, then either written back into the data directory for a physical
// restore (redis-rdb) or loaded into the running server key by key (redis-rdb-online).
import { AnnotationRunAsRoot, LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";
import { DB_TOOLS_IMAGE } from "./images.ts";
import { checkedPipe } from "./shell.ts";

/**
 * The backup of both Redis tools (redis-rdb and redis-rdb-online): `redis-cli --rdb -` streamed
 * into the object `dump.rdb`, the password in REDISCLI_AUTH, the ACL user (DB_USER) with --user.
 */
export const REDIS_RDB_BACKUP_COMMANDS: readonly string[] = [
  "sh", "-c",
  [
    "set -e",
    'if [ -n "$DB_PASSWORD" ]; then export REDISCLI_AUTH="$DB_PASSWORD"; fi',
    "set --",
    'if [ -n "$DB_USER" ]; then set -- --user "$DB_USER"; fi',
    ...checkedPipe('redis-cli "$@" -h "$DB_HOST" -p "${DB_PORT:-6379}" --rdb -', "dp-agent push dump.rdb", "redis-cli --rdb"),
  ].join("\n"),
];

/** Drops the 40-character EOF mark of a diskless transfer from the end of an RDB file (see redis-rdb). */
const dropEofMark = (file: string): string =>
  `if tail -c 40 "${file}" | LC_ALL=C grep -Eqx '[0-9a-f]{40}'; then truncate -s -40 "${file}"; fi`;

/**
 * `redis-rdb` (physical): `redis-cli --rdb -` asks the server for a fresh RDB snapshot (as a
 * replica would, SYNC) and writes it to stdout, streamed into the object `dump.rdb`. The
 * password comes from DB_PASSWORD through REDISCLI_AUTH (never on the command line), the ACL
 * user from DB_USER (`--user`) when set.
 *
 * redis-cli 7.0 writing to stdout keeps the 40-character EOF mark of a diskless transfer
 * (repl-diskless-sync yes, the 7.0 default) after the RDB; the restore drops it. An RDB ends
 * with the EOF opcode 0xFF and an 8-byte checksum, so 40 trailing lower-case hex characters can
 * only be that mark.
 *
 * Restore (the target StatefulSet scaled to 0, its data PVC mounted at DATA_DIR, default /data,
 * Redis's `dir`): writes the RDB to $DATA_DIR/dump.rdb through a temp file and a rename. With
 * `appendonly yes` Redis loads the AOF and ignores dump.rdb, and without any AOF it starts
 * empty (7.0 creates a new, empty AOF): so a stale AOF is not just removed but replaced. An
 * existing $DATA_DIR/appendonlydir (7.0 multi-part AOF) becomes a directory holding only a
 * base file that is the restored RDB and a manifest naming it; an existing single-file
 * $DATA_DIR/appendonly.aof (before 7.0) becomes the RDB itself (an AOF with an RDB preamble and
 * no commands). When the server never had an AOF, none is created. Every file written gets the
 * owner of DATA_DIR. Names other than dump.rdb, appendonlydir and appendonly.aof (dbfilename,
 * appenddirname, appendfilename) are set with RDB_FILENAME, AOF_DIR and AOF_FILENAME in the
 * tool's env.
 *
 * Needs: target.secret with the password (and an ACL user allowed SYNC, `default` with
 * requirepass is) and a server that accepts a replica connection from the tool pod. DB_PORT
 * defaults to 6379. The RestoreJob's targetVolumeMounts put the data PVC at DATA_DIR. Annotated
 * run-as-root: the restore writes into the server's data directory and gives the files its
 * owner.
 */
export const redisRdbTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: {
    name: "redis-rdb",
    labels: { [LabelManagedBy]: ManagedBy },
    annotations: { [AnnotationRunAsRoot]: "true" },
  },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "job",
    type: "file",
    env: [{ name: "DATA_DIR", value: "/data" }],
    backupCommands: [...REDIS_RDB_BACKUP_COMMANDS],
    physical: {
      restoreCommands: [
        [
          "set -e",
          'd="${DATA_DIR:-/data}"',
          'rdb="${RDB_FILENAME:-dump.rdb}"',
          'aofdir="${AOF_DIR:-appendonlydir}"',
          'aof="${AOF_FILENAME:-appendonly.aof}"',
          'mkdir -p "$d"',
          'owner=`stat -c %u:%g "$d"`',
          "uid=`id -u`",
          'own() { if [ "$uid" = 0 ]; then chown -R "$owner" "$@"; fi; }',
          'tmp="$d/.$rdb.restoring"',
          'rm -f "$tmp"',
          'dp-agent pull dump.rdb > "$tmp"',
          'magic=`head -c 5 "$tmp"`',
          'if [ "$magic" != REDIS ]; then echo "dump.rdb of $BACKUP_NAME is not an RDB file" >&2; rm -f "$tmp"; exit 1; fi',
          dropEofMark("$tmp"),
          'own "$tmp"',
          'if [ -d "$d/$aofdir" ]; then',
          '  new="$d/.$aofdir.restoring"',
          '  rm -rf "$new"; mkdir "$new"',
          '  cp "$tmp" "$new/$aof.1.base.rdb"',
          "  printf 'file %s seq 1 type b\\n' \"$aof.1.base.rdb\" > \"$new/$aof.manifest\"",
          '  own "$new"',
          '  rm -rf "$d/$aofdir"; mv "$new" "$d/$aofdir"',
          '  echo "replaced $d/$aofdir with a base-only AOF: the restored RDB"',
          "fi",
          'if [ -f "$d/$aof" ]; then',
          '  cp "$tmp" "$d/.$aof.restoring"; own "$d/.$aof.restoring"; mv -f "$d/.$aof.restoring" "$d/$aof"',
          '  echo "replaced $d/$aof with the restored RDB"',
          "fi",
          'mv -f "$tmp" "$d/$rdb"',
          'echo "restored $BACKUP_NAME into $d/$rdb"',
        ].join("\n"),
      ],
    },
  },
};

/** MIGRATE batches: keys per MIGRATE command of redis-rdb-online's restore. */
export const REDIS_MIGRATE_BATCH = 100;

/**
 * The restore script of redis-rdb-online (run by sh -c, dash in the db-tools image). Kubernetes
 * expands `$(VAR)` in container commands, so no `$(`: backquotes and expr. The password reaches
 * processes only through their environment (REDISCLI_AUTH, the pod's DB_PASSWORD) and pipes:
 * `hex` is a shell function around the printf builtin, and the MIGRATE commands that carry it
 * are written by printf and awk into redis-cli's stdin.
 */
export const REDIS_RDB_ONLINE_RESTORE_SCRIPT = [
  "set -e",
  'port="${DB_PORT:-6379}"',
  'case "$port" in ""|*[!0-9]*) echo "DB_PORT is not a port number: $port" >&2; exit 1;; esac',
  'if [ -z "$DB_HOST" ]; then echo "DB_HOST is not set" >&2; exit 1; fi',
  'limit="${LOAD_TIMEOUT_SECONDS:-300}"',
  'case "$limit" in ""|*[!0-9]*) echo "LOAD_TIMEOUT_SECONDS is not a number of seconds: $limit" >&2; exit 1;; esac',
  // Enough databases for any RDB: a server configured with more than 16 writes SELECTDB with
  // indexes above 15, and a temporary server with fewer refuses to load the file. An empty
  // database costs a few hundred bytes.
  'dbcount="${RDB_DATABASES:-256}"',
  'case "$dbcount" in ""|*[!0-9]*) echo "RDB_DATABASES is not a number: $dbcount" >&2; exit 1;; esac',
  "unset REDISCLI_AUTH",
  'if [ -n "$DB_PASSWORD" ]; then export REDISCLI_AUTH="$DB_PASSWORD"; fi',
  "export REDISCLI_HISTFILE=/dev/null",
  "umask 077",
  "work=`mktemp -d`",
  'sock="$work/redis.sock"',
  'tpid=""',
  // The temporary server (no password: REDISCLI_AUTH is dropped for it) and the target.
  'scli() { env -u REDISCLI_AUTH redis-cli -s "$sock" "$@"; }',
  'tcli() { if [ -n "$DB_USER" ]; then redis-cli --user "$DB_USER" -h "$DB_HOST" -p "$port" "$@"; else redis-cli -h "$DB_HOST" -p "$port" "$@"; fi; }',
  'cleanup() {',
  '  if [ -n "$tpid" ]; then',
  '    scli SHUTDOWN NOSAVE > /dev/null 2>&1 || kill "$tpid" 2> /dev/null || true',
  '    wait "$tpid" 2> /dev/null || true',
  "  fi",
  '  rm -rf "$work" || true',
  "}",
  "trap cleanup EXIT",
  "trap 'exit 130' INT",
  "trap 'exit 143' TERM",
  'logtail() { echo "$1; the temporary redis-server\'s log ends with:" >&2; tail -n 20 "$work/redis.log" >&2 || true; exit 1; }',
  // Every byte as \xHH inside double quotes: redis-cli's parser reads it back whatever the bytes.
  "hex() { printf %s \"$1\" | od -An -v -tx1 | tr -d ' \\n' | sed 's/../\\\\x&/g'; }",
  'dp-agent pull dump.rdb > "$work/dump.rdb"',
  'magic=`head -c 5 "$work/dump.rdb"`',
  'if [ "$magic" != REDIS ]; then echo "dump.rdb of $BACKUP_NAME is not an RDB file" >&2; exit 1; fi',
  dropEofMark("$work/dump.rdb"),
  // A private server on a unix socket only (port 0: no TCP), loading the RDB as a master does:
  // keys whose absolute expiry has passed are dropped.
  "env -u REDISCLI_AUTH redis-server --port 0 --unixsocket \"$sock\" --unixsocketperm 700 --dir \"$work\" --dbfilename dump.rdb"
    + " --appendonly no --save '' --databases \"$dbcount\" --logfile \"$work/redis.log\" >> \"$work/redis.log\" 2>&1 &",
  "tpid=$!",
  "end=`date +%s`",
  "end=`expr $end + $limit`",
  "while :; do",
  '  if ! kill -0 "$tpid" 2> /dev/null; then tpid=""; logtail "the temporary redis-server could not load dump.rdb of $BACKUP_NAME"; fi',
  '  if [ "`scli PING 2> /dev/null`" = PONG ] && scli INFO persistence 2> /dev/null | tr -d "\\r" | grep -qx "loading:0"; then break; fi',
  '  if [ "`date +%s`" -ge "$end" ]; then logtail "dump.rdb of $BACKUP_NAME was not loaded after $limit s (LOAD_TIMEOUT_SECONDS)"; fi',
  "  sleep 0.2",
  "done",
  // The restore replaces the dataset, as the physical restore does.
  "r=`tcli FLUSHALL 2>&1` || true",
  'if [ "$r" != OK ]; then echo "FLUSHALL on $DB_HOST:$port failed: $r" >&2; exit 1; fi',
  'dbs=`scli INFO keyspace | tr -d "\\r" | sed -n "s/^db\\([0-9][0-9]*\\):keys=.*/\\1/p"`',
  'hostx=`hex "$DB_HOST"`',
  'auth=""',
  'if [ -n "$DB_PASSWORD" ]; then',
  '  pwx=`hex "$DB_PASSWORD"`',
  '  if [ -n "$DB_USER" ]; then userx=`hex "$DB_USER"`; auth=" AUTH2 \\"$userx\\" \\"$pwx\\""; else auth=" AUTH \\"$pwx\\""; fi',
  "fi",
  "total=0",
  "ndb=0",
  ': > "$work/migrate.out"',
  "for n in $dbs; do",
  // --no-raw: every key quoted (\n, \", \\, \xHH), one per line, as redis-cli reads it back.
  '  scli -n "$n" --no-raw --scan | LC_ALL=C sort -u > "$work/keys"',
  '  c=`wc -l < "$work/keys"`',
  // MIGRATE (no COPY) moves each key with its remaining TTL and deletes it here.
  `  { printf '%s\\n' "MIGRATE \\"$hostx\\" $port \\"\\" $n 60000 REPLACE$auth KEYS"; cat "$work/keys"; }`
    + ` | awk 'NR == 1 { h = $0; next } { b = b " " $0; if (++c == ${REDIS_MIGRATE_BATCH}) { print h b; b = ""; c = 0 } } END { if (c > 0) print h b }'`
    + ' | scli -n "$n" >> "$work/migrate.out" 2>&1',
  "  total=`expr $total + $c`",
  "  ndb=`expr $ndb + 1`",
  "done",
  // A key left behind is one a MIGRATE did not move.
  "for n in $dbs; do",
  '  left=`scli -n "$n" DBSIZE 2>&1` || true',
  '  if [ "$left" != 0 ]; then',
  '    echo "restore of $BACKUP_NAME into $DB_HOST:$port failed: db $n of the backup still holds $left key(s) that MIGRATE did not move; its first errors:" >&2',
  '    grep -v -x -e OK -e NOKEY -e "" "$work/migrate.out" | head -n 5 >&2 || true',
  "    exit 1",
  "  fi",
  "done",
  'echo "restored $BACKUP_NAME into $DB_HOST:$port: $total keys in $ndb databases"',
].join("\n");

/**
 * `redis-rdb-online` (logical): the backup is redis-rdb's (REDIS_RDB_BACKUP_COMMANDS, the object
 * `dump.rdb`); the restore loads it into the running server at DB_HOST:DB_PORT, which keeps
 * serving, and replaces its whole dataset. The tool pod pulls dump.rdb into a private temp dir
 * (dropping the diskless EOF mark as redis-rdb does), starts a temporary redis-server on a unix
 * socket in that dir (no TCP port, no password) that loads it, waits until it has loaded
 * (LOAD_TIMEOUT_SECONDS, default 300), FLUSHALLs the target, then for every database of the
 * RDB lists the keys with `redis-cli --scan` and has the temporary server `MIGRATE` them to
 * the target, 100 keys a command (REPLACE, AUTH or AUTH2). Nothing connects to the tool pod:
 * the temporary server opens the connections to the target. A key left in the temporary
 * server afterwards fails the restore with MIGRATE's first errors. The temp server is shut
 * down and the dir removed on exit, failures included.
 *
 * TTLs: the RDB holds absolute expiry times, and the temporary server loads it as a master
 * does, dropping keys whose time has passed: keys expired by restore time are not restored;
 * MIGRATE sends the others with their remaining time, so they expire when they would have, to
 * within the migration time.
 *
 * The password (DB_PASSWORD) is never on a command line: redis-cli reads it from REDISCLI_AUTH,
 * and the MIGRATE commands carrying it (\xHH-escaped by the printf builtin and od) go to
 * redis-cli through a pipe. DB_USER, when set, is the ACL user (--user, AUTH2).
 *
 * Needs: target.secret naming an account allowed FLUSHALL, SELECT and RESTORE on the target
 * (the temporary server authenticates with AUTH, or AUTH2 for an ACL user, and sends RESTORE
 * ... REPLACE for each key), and a target reachable from the tool pod. podScope ReadWrite:
 * the primary. Not run as root; no file access but its temp dir.
 *
 * Limits: not for Redis Cluster (MIGRATE to one node, keys of every slot) nor into a replica
 * (read-only). The target's `databases` must cover the databases in the RDB (MIGRATE fails
 * with "DB index is out of range" otherwise). The temporary server holds the whole dataset:
 * the tool pod needs about the RDB's in-memory size (the source's used_memory) in memory.
 * The RDB must be one the image's redis-server (7.0) reads (a 7.2+ server writes a newer
 * RDB version), the target must accept its DUMP payloads (Redis 7.0 or newer), and module
 * data types cannot be loaded. Redis Functions (libraries in the RDB) are not moved: they
 * stay as they are on the target. Writes to the target during the restore may be lost.
 */
export const redisRdbOnlineTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: { name: "redis-rdb-online", labels: { [LabelManagedBy]: ManagedBy } },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "job",
    type: "file",
    backupCommands: [...REDIS_RDB_BACKUP_COMMANDS],
    logical: {
      podScope: "ReadWrite",
      restoreCommands: [REDIS_RDB_ONLINE_RESTORE_SCRIPT],
    },
  },
};
