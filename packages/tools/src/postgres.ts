// Built-in PostgreSQL tools: a logical one (pg_dumpall) and a physical one (pg_basebackup).
// Both stream through dp-agent, so nothing is written to BACKUP_DIR in plain text.
//
// Scripts avoid `$$` and `$(...)`: Kubernetes expands `$(VAR)` and turns `$$` into `$` in
// container commands and args. Backticks do the command substitution instead.
import { AnnotationRunAsRoot, LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";
import { DB_TOOLS_IMAGE } from "./images.ts";
import { checkedPipe } from "./shell.ts";

/** libpq connection options from the env contract (DB_HOST, DB_PORT, DB_USER). */
const CONNECT = '-h "$DB_HOST" -p "${DB_PORT:-5432}" -U "$DB_USER" -w';

/**
 * Makes `pg_dumpall --clean --if-exists` output restorable with ON_ERROR_STOP into a server that
 * already has the objects:
 * - in the roles section (before the first `\connect`), `DROP ROLE IF EXISTS` lines are left
 *   out (the connected user cannot drop itself, and a role owning objects cannot be dropped
 *   before its databases are), and `CREATE ROLE r;` tolerates an existing role; the
 *   `ALTER ROLE` that follows still sets its attributes and password from the backup;
 * - `DROP DATABASE` (template1, postgres and the others, recreated right after) ends the
 *   sessions still connected to them (`WITH (FORCE)`, PostgreSQL 13+) instead of failing
 *   half-way through the restore.
 * COPY data is passed through untouched. The program holds no single quote.
 */
export const PG_DUMPALL_RESTORE_FILTER = [
  "/^COPY .* FROM stdin;$/ { copy = 1; print; next }",
  'copy { if ($0 == "\\\\.") copy = 0; print; next }',
  "/^\\\\connect / { roles = 1 }",
  "!roles && /^DROP ROLE IF EXISTS / { next }",
  '!roles && /^CREATE ROLE .*;$/ { sub(/;$/, ""); print "DO $dp$BEGIN " $0 "; EXCEPTION WHEN duplicate_object THEN NULL; END $dp$;"; next }',
  '/^DROP DATABASE .*;$/ { sub(/;$/, " WITH (FORCE);") }',
  "{ print }",
].join("\n");

/**
 * A database name given in DB_NAME must be a plain identifier: libpq reads a `-d` value holding
 * `=` as a connection string, and a leading `-` as an option.
 */
const DB_NAME_CHECK = '  case "$DB_NAME" in -*|*[!A-Za-z0-9_-]*) echo "DB_NAME is not a plain database name" >&2; exit 1;; esac';

/**
 * `postgres-dump` (logical): `pg_dumpall --clean --if-exists` of every database, role and
 * tablespace definition, streamed into the object `dump.sql`. Restore (podScope ReadWrite, the
 * primary) pulls it through {@link PG_DUMPALL_RESTORE_FILTER} into `psql -v ON_ERROR_STOP=1`
 * against DB_HOST: existing databases are dropped and recreated from the dump, roles are
 * created when missing and altered to their backed-up attributes, roles not in the dump stay.
 *
 * Needs: the policy's and the RestoreJob's target.secret naming a superuser (DB_USER /
 * DB_PASSWORD; pg_dumpall reads pg_authid, the restore drops and creates databases) and a
 * pg_hba entry letting it connect over TCP from the tool pod to every database (`\connect`
 * goes through template1 and postgres). DB_PORT defaults to 5432. A failed pg_dumpall or a
 * failed `dp-agent pull` fails the Job even though the other side of the pipe succeeded.
 * With DB_NAME set (an external endpoint: externalEndpointTool, where the account is usually
 * the database's owner, not a superuser) the backup is `pg_dump --clean --if-exists --no-owner
 * --no-privileges` of that database only, and the restore plays it into that database (which
 * must exist) with `psql -v ON_ERROR_STOP=1`, owned by the restoring account.
 * A PostgreSQL 15 client (`\restrict` in dumps of 15.14+ needs psql 15.14+).
 */
export const postgresDumpTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: { name: "postgres-dump", labels: { [LabelManagedBy]: ManagedBy } },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "job",
    type: "file",
    backupCommands: [
      "sh", "-c",
      [
        "set -e",
        'export PGPASSWORD="$DB_PASSWORD"',
        // DB_NAME (an external endpoint naming its database): that database only, as its owner.
        'if [ -n "${DB_NAME:-}" ]; then',
        DB_NAME_CHECK,
        ...checkedPipe(`pg_dump ${CONNECT} --clean --if-exists --no-owner --no-privileges -d "$DB_NAME"`, "dp-agent push dump.sql", "pg_dump").map((l) => `  ${l}`),
        "  exit 0",
        "fi",
        ...checkedPipe(`pg_dumpall ${CONNECT} --clean --if-exists`, "dp-agent push dump.sql", "pg_dumpall"),
      ].join("\n"),
    ],
    logical: {
      podScope: "ReadWrite",
      restoreCommands: [
        [
          "set -e",
          'export PGPASSWORD="$DB_PASSWORD"',
          'if [ -n "${DB_NAME:-}" ]; then',
          DB_NAME_CHECK,
          ...checkedPipe("dp-agent pull dump.sql", `psql -X -q -v ON_ERROR_STOP=1 ${CONNECT} -d "$DB_NAME" >/dev/null`, "dp-agent pull dump.sql").map((l) => `  ${l}`),
          '  echo "restored $BACKUP_NAME into database $DB_NAME on $DB_HOST:${DB_PORT:-5432}"',
          "  exit 0",
          "fi",
          `filter='${PG_DUMPALL_RESTORE_FILTER}'`,
          ...checkedPipe("dp-agent pull dump.sql", `awk "$filter" | psql -X -q -v ON_ERROR_STOP=1 ${CONNECT} -d postgres >/dev/null`, "dp-agent pull dump.sql"),
          'echo "restored $BACKUP_NAME into $DB_HOST:${DB_PORT:-5432}"',
        ].join("\n"),
      ],
    },
  },
};

/**
 * `postgres-basebackup` (physical): `pg_basebackup -Ft -X fetch -c fast -D -`, one tar of the
 * whole cluster on stdout with the WAL needed to make it consistent (pg_wal/, plus
 * backup_label and backup_manifest), streamed into the object `base.tar`. Restore (the target
 * StatefulSet scaled to 0, its data PVC mounted) empties $DATA_DIR (default /data/pgdata) and
 * extracts the tar into it with numeric owners, then gives the directory and everything in it
 * the owner of PG_VERSION (pg_basebackup writes backup_manifest's tar header with a uid of its
 * own) and the directory mode 0700, so the server starts, replays the fetched WAL and opens
 * read-write.
 *
 * Needs: target.secret naming a user with the REPLICATION attribute (or a superuser), a
 * `host replication <user> <tool pod address> <method>` line in pg_hba.conf and a free WAL
 * sender (max_wal_senders >= 1). DATA_DIR must be the server's data directory as mounted in the
 * restore Job (the RestoreJob's targetVolumeMounts). Annotated run-as-root: the restore writes
 * files owned by the server's uid into a directory only that uid may enter (0700).
 * Tablespaces outside the data directory are not supported (they would come as extra tars).
 */
export const postgresBasebackupTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: {
    name: "postgres-basebackup",
    labels: { [LabelManagedBy]: ManagedBy },
    annotations: { [AnnotationRunAsRoot]: "true" },
  },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "job",
    type: "file",
    env: [{ name: "DATA_DIR", value: "/data/pgdata" }],
    backupCommands: [
      "sh", "-c",
      [
        "set -e",
        'export PGPASSWORD="$DB_PASSWORD"',
        ...checkedPipe(`pg_basebackup ${CONNECT} -Ft -X fetch -c fast -D -`, "dp-agent push base.tar", "pg_basebackup"),
      ].join("\n"),
    ],
    physical: {
      restoreCommands: [
        [
          "set -e",
          'd="${DATA_DIR:-/data/pgdata}"',
          'mkdir -p "$d"',
          'find "$d" -mindepth 1 -delete',
          ...checkedPipe("dp-agent pull base.tar", 'tar -xf - -C "$d" --numeric-owner', "dp-agent pull base.tar"),
          'test -s "$d/PG_VERSION" || { echo "base.tar of $BACKUP_NAME holds no PG_VERSION: not a PostgreSQL data directory" >&2; exit 1; }',
          'chown -R `stat -c %u:%g "$d/PG_VERSION"` "$d"',
          'chmod 0700 "$d"',
          'echo "restored $BACKUP_NAME into $d"',
        ].join("\n"),
      ],
    },
  },
};
