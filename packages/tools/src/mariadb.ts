// Built-in MariaDB tool: a logical dump of the user databases, streamed through dp-agent.
import { LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";
import { DB_TOOLS_IMAGE } from "./images.ts";
import { checkedPipe } from "./shell.ts";

/** Client options from the env contract; the password travels in MYSQL_PWD, not on the command line. */
const CONNECT = '--protocol=tcp -h "$DB_HOST" -P "${DB_PORT:-3306}" -u "$DB_USER" --default-character-set=utf8mb4';

/** Schemas that belong to the server, not to its users: never dumped, never restored into. */
export const MARIADB_SYSTEM_SCHEMAS = ["mysql", "information_schema", "performance_schema", "sys"];

const LIST_USER_DATABASES =
  `SELECT schema_name FROM information_schema.schemata WHERE schema_name NOT IN (${MARIADB_SYSTEM_SCHEMAS.map((s) => `'${s}'`).join(", ")}) ORDER BY schema_name`;

/**
 * `mariadb-dump` (logical): `mariadb-dump --single-transaction --routines --events --triggers
 * --hex-blob --add-drop-database --databases <user databases>` streamed into the object
 * `dump.sql`. The user databases are every schema but mysql, information_schema,
 * performance_schema and sys, listed with a query at backup time: the system tables (accounts,
 * grants, time zones) are left out because loading mysql.* into a running server swaps its
 * accounts under the connections it serves, the restoring one included. Accounts and grants
 * are therefore not in the backup; they must exist on the server restored into.
 *
 * Restore (podScope ReadWrite, the primary) pipes the dump into `mariadb` against DB_HOST,
 * which stops at the first error: each backed-up database is dropped and recreated with its
 * tables, views, routines, triggers and events as they were at backup time. Databases created
 * after the backup are left alone.
 *
 * Needs: target.secret naming an account that may connect over TCP from the tool pod with, for
 * the backup, SELECT, SHOW VIEW, TRIGGER, EVENT and LOCK TABLES on the user databases and, for
 * the restore, DROP/CREATE on them plus the right to create objects with the dump's DEFINERs
 * (in practice an admin account WITH GRANT OPTION). DB_PORT defaults to 3306. The snapshot is
 * consistent for InnoDB tables only (--single-transaction takes no lock); DDL during the dump
 * can break it. A failed mariadb-dump or `dp-agent pull` fails the Job even though the other
 * side of the pipe succeeded. No file access: runs as the target's user or 65532.
 */
export const mariadbDumpTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: { name: "mariadb-dump", labels: { [LabelManagedBy]: ManagedBy } },
  spec: {
    image: DB_TOOLS_IMAGE,
    deployKind: "job",
    type: "file",
    backupCommands: [
      "sh", "-c",
      [
        "set -e",
        'export MYSQL_PWD="$DB_PASSWORD"',
        // DB_NAME (an external endpoint naming its database): that one only.
        'if [ -n "${DB_NAME:-}" ]; then',
        '  case "$DB_NAME" in -*|*[!A-Za-z0-9_-]*) echo "DB_NAME is not a plain database name" >&2; exit 1;; esac',
        '  dbs="$DB_NAME"',
        "else",
        `  dbs=\`mariadb ${CONNECT} -N -B -r -e "${LIST_USER_DATABASES}"\``,
        "fi",
        // One argument per database, names with spaces included.
        "set --",
        'while IFS= read -r db; do if [ -n "$db" ]; then set -- "$@" "$db"; fi; done <<EOF',
        "$dbs",
        "EOF",
        'if [ $# -eq 0 ]; then',
        '  echo "no user databases on $DB_HOST: storing an empty dump"',
        '  echo "-- no user databases at backup time" | dp-agent push dump.sql',
        "  exit 0",
        "fi",
        'echo "dumping $# database(s): $*"',
        ...checkedPipe(
          `mariadb-dump ${CONNECT} --single-transaction --routines --events --triggers --hex-blob --add-drop-database --databases "$@"`,
          "dp-agent push dump.sql",
          "mariadb-dump",
        ),
      ].join("\n"),
    ],
    logical: {
      podScope: "ReadWrite",
      restoreCommands: [
        [
          "set -e",
          'export MYSQL_PWD="$DB_PASSWORD"',
          ...checkedPipe("dp-agent pull dump.sql", `mariadb ${CONNECT}`, "dp-agent pull dump.sql"),
          'echo "restored $BACKUP_NAME into $DB_HOST:${DB_PORT:-3306}"',
        ].join("\n"),
      ],
    },
  },
};
