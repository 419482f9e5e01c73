// Built-in Redis tool: the server's RDB snapshot fetched over the replication protocol,
// streamed through dp-agent, and written back into the data directory for a physical restore.
import { AnnotationRunAsRoot, LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";
import { DB_TOOLS_IMAGE } from "./images.ts";
import { checkedPipe } from "./shell.ts";

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
    backupCommands: [
      "sh", "-c",
      [
        "set -e",
        'if [ -n "$DB_PASSWORD" ]; then export REDISCLI_AUTH="$DB_PASSWORD"; fi',
        "set --",
        'if [ -n "$DB_USER" ]; then set -- --user "$DB_USER"; fi',
        ...checkedPipe('redis-cli "$@" -h "$DB_HOST" -p "${DB_PORT:-6379}" --rdb -', "dp-agent push dump.rdb", "redis-cli --rdb"),
      ].join("\n"),
    ],
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
          "if tail -c 40 \"$tmp\" | LC_ALL=C grep -Eqx '[0-9a-f]{40}'; then truncate -s -40 \"$tmp\"; fi",
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
