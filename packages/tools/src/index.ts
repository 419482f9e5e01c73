// Built-in BackupTools. Each is a plain BackupTool object: install it with kubectl/helm or
// create it from code. Commands run in the tool pod described in docs/execution-contract.md.
import { AnnotationRunAsRoot, LabelManagedBy, ManagedBy, type BackupTool } from "@dataprotection/api";
import { AGENT_IMAGE } from "./images.ts";
import { postgresDumpTool, postgresBasebackupTool } from "./postgres.ts";
import { postgresPitrTool } from "./postgres-pitr.ts";
import { mariadbDumpTool } from "./mariadb.ts";
import { mariadbBackupTool, mariadbBinlogPitrTool } from "./mariadb-physical.ts";
import { redisRdbOnlineTool, redisRdbTool } from "./redis.ts";

export { AGENT_IMAGE, DB_TOOLS_IMAGE } from "./images.ts";
export * from "./postgres.ts";
export * from "./postgres-pitr.ts";
export * from "./mariadb.ts";
export * from "./mariadb-physical.ts";
export * from "./redis.ts";

/**
 * `volume`: backs up the directory $DATA_DIR (default /data, the target's data mount) with
 * `dp-agent push-dir`, and restores it with `dp-agent pull-dir`. Incremental backups store the
 * files changed since the parent's checkpoint plus the full file list (files.list).
 */
export const volumeTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  // Root: a volume holds files of any owner and mode; pull-dir restores owners, which needs root,
  // and the restore writes into a data directory that belongs to the database's uid.
  metadata: { name: "volume", labels: { [LabelManagedBy]: ManagedBy }, annotations: { [AnnotationRunAsRoot]: "true" } },
  spec: {
    image: AGENT_IMAGE,
    deployKind: "job",
    type: "file",
    env: [{ name: "DATA_DIR", value: "/data" }],
    backupCommands: ["sh", "-c", 'set -e; dp-agent push-dir "${DATA_DIR:-/data}"'],
    incrementalBackupCommands: [
      "sh", "-c",
      [
        "set -e",
        'd="${DATA_DIR:-/data}"',
        "stage=`mktemp -d`",
        "trap 'rm -rf \"$stage\"' EXIT",
        'cd "$d"',
        "find . -mindepth 1 | LC_ALL=C sort | dp-agent push files.list",
        'find . -type f -newermt "$PARENT_CHECKPOINT" -exec cp -a --parents {} "$stage" \\;',
        'dp-agent push-dir "$stage"',
      ].join("\n"),
    ],
    physical: {
      restoreCommands: ["sh", "-c", 'set -e; mkdir -p "${DATA_DIR:-/data}"; dp-agent pull-dir "${DATA_DIR:-/data}"'],
      incrementalRestoreCommands: ["sh", "-c", 'set -e; dp-agent pull-dir "${DATA_DIR:-/data}"'],
    },
  },
};

/**
 * A KubeBlocks 0.6-style tool, unchanged in shape: it writes plain files into BACKUP_DIR
 * (a base.tar of the data directory, like `pg_basebackup -Ft`, and a connection info file made
 * from DB_HOST/DB_USER/DB_PASSWORD) and restores with `tar -xf`.
 */
export const kubeblocksFilesTool: BackupTool = {
  apiVersion: "dataprotection.kubeblocks.io/v1alpha1",
  kind: "BackupTool",
  metadata: { name: "kb-basebackup-files", labels: { [LabelManagedBy]: ManagedBy } },
  spec: {
    image: "registry.cn-hangzhou.aliyuncs.com/apecloud/postgresql:14.8.0",
    deployKind: "job",
    type: "file",
    env: [{ name: "DATA_DIR", value: "/data" }],
    backupCommands: [
      "sh", "-c",
      [
        "set -e",
        "mkdir -p ${BACKUP_DIR}",
        'echo "connecting to ${DB_HOST} as ${DB_USER}"',
        'pw=`printf %s "${DB_PASSWORD}" | sha256sum | cut -c1-16`',
        'printf "host=%s user=%s password-sha=%s\\n" "${DB_HOST}" "${DB_USER}" "$pw" > ${BACKUP_DIR}/backup.info',
        "tar -cf ${BACKUP_DIR}/base.tar -C ${DATA_DIR} .",
        "sync",
      ].join("\n"),
    ],
    physical: {
      restoreCommands: ["sh", "-c", "set -e; mkdir -p ${DATA_DIR}; tar -xf ${BACKUP_DIR}/base.tar -C ${DATA_DIR}"],
    },
  },
};

// Database tools, one file each (each adds its tools to the list below).

export const builtinTools: readonly BackupTool[] = [volumeTool, kubeblocksFilesTool, postgresDumpTool, postgresBasebackupTool, postgresPitrTool, mariadbDumpTool, mariadbBackupTool, mariadbBinlogPitrTool, redisRdbTool, redisRdbOnlineTool];

/** What the Helm chart installs: the built-in tools but the KubeBlocks 0.6-style example. */
export const shippedTools: readonly BackupTool[] = builtinTools.filter((t) => t !== kubeblocksFilesTool);
