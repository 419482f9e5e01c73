// Pure: how a tool that writes plain files into BACKUP_DIR (every KubeBlocks 0.6 addon tool) is
// backed up and restored on each kind of repo. The choice is made from the repo alone, before
// any pod exists:
//
//   in place  a mounted, unencrypted repo (a BackupRepo with accessMethod Mount, or a policy's
//             own PVC): the files stay in BACKUP_DIR in the KubeBlocks 0.6 layout; a restore first
//             checks them against the sha256 the Backup recorded (`dp-agent verify-files`).
//   sealed    an object store (accessMethod Tool) or an encrypted repo: BACKUP_DIR is a scratch
//             emptyDir (nothing reaches the repo unsealed); after the tool, a dp-agent container
//             stores the directory as one object (compressed, encrypted, checksummed); a restore
//             unpacks it into a scratch BACKUP_DIR before the tool's restore commands run.
//
// A tool that streams through dp-agent works the same in both: its objects go to the repo,
// which in the sealed layout is mounted at SEALED_REPO_PATH instead of /backupdata.
import type { V1Container, V1EnvVar } from "@kubernetes/client-node";
import { AccessMethod, BackupDataFormat, type Backup } from "@dataprotection/api";
import { BACKUP_MOUNT_PATH, type RepoAccess } from "../backuprepo/access.ts";

/** The object a sealed backup's BACKUP_DIR is stored as. */
export const SEALED_OBJECT = "plain-files.dpar";
/** The container that seals BACKUP_DIR after the tool (the tool then runs as an init container). */
export const SEAL_CONTAINER = "seal";
/** Where a mounted repo goes in the sealed layout (/backupdata is the scratch volume). */
export const SEALED_REPO_PATH = "/dp/repo";
/** Written by the plain-files report (when DP_SEAL_PLAIN_FILES is set) in the scratch volume, outside BACKUP_DIR: "seal these files". */
export const PLAIN_FILES_MARKER = `${BACKUP_MOUNT_PATH}/.dp-plain-files`;
const SCRATCH_VOLUME = "dp-plain-files";

/** Whether plain files on this repo are sealed by dp-agent (object store or encrypted) or kept in place. */
export function sealsPlainFiles(access: RepoAccess): boolean {
  return access.accessMethod !== AccessMethod.Mount || access.encrypted;
}

/** The repo access of the sealed layout: an emptyDir at /backupdata, a mounted repo moved to SEALED_REPO_PATH. */
export function sealedLayout(access: RepoAccess): RepoAccess {
  const moved = (m: { mountPath: string }) => m.mountPath === BACKUP_MOUNT_PATH;
  return {
    ...access,
    env: [
      ...access.env.map((e) => (e.name === "DP_REPO_PATH" && access.accessMethod === AccessMethod.Mount ? { name: e.name, value: SEALED_REPO_PATH } : e)),
      { name: "DP_SEAL_PLAIN_FILES", value: "true" },
    ],
    volumes: [...access.volumes, { name: SCRATCH_VOLUME, emptyDir: {} }],
    volumeMounts: [
      ...access.volumeMounts.map((m) => (moved(m) ? { ...m, mountPath: SEALED_REPO_PATH } : m)),
      { name: SCRATCH_VOLUME, mountPath: BACKUP_MOUNT_PATH },
    ],
  };
}

/** Whether a RepoAccess is already the sealed layout. */
export function isSealedLayout(access: RepoAccess): boolean {
  return access.volumes.some((v) => v.name === SCRATCH_VOLUME);
}

/**
 * After the tool: if its report marked plain files, store BACKUP_DIR as SEALED_OBJECT (dp-agent's
 * report becomes this container's termination message); otherwise the tool used dp-agent itself
 * and there is nothing to seal.
 */
export function sealContainer(image: string, env: readonly V1EnvVar[], access: RepoAccess): V1Container {
  return {
    name: SEAL_CONTAINER,
    image,
    command: ["sh", "-c", `set -e\nif [ -f "${PLAIN_FILES_MARKER}" ]; then exec dp-agent push-dir "$BACKUP_DIR" --name ${SEALED_OBJECT}; fi\necho "the tool stored its data through dp-agent: nothing to seal"`],
    env: [...env],
    volumeMounts: access.volumeMounts,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

/**
 * Before a restore step of a sealed backup (or an incremental backup of a sealed parent): unpack
 * its SEALED_OBJECT into its scratch BACKUP_DIR. `integrity`: env.ts integrityEnv of the Backup
 * whose data this is (DP_BACKUP_ID, DP_EXPECT_CHECKSUMS).
 */
export function unsealContainer(name: string, image: string, backupDir: string, backupPath: string, access: RepoAccess, integrity: readonly V1EnvVar[]): V1Container {
  return {
    name,
    image,
    command: ["sh", "-c", 'set -e; mkdir -p "$BACKUP_DIR"; dp-agent pull-dir "$BACKUP_DIR" --name ' + SEALED_OBJECT],
    env: [...access.env, { name: "BACKUP_DIR", value: backupDir }, { name: "DP_BACKUP_PATH", value: backupPath }, ...integrity],
    volumeMounts: access.volumeMounts,
    terminationMessagePolicy: "FallbackToLogsOnError",
  };
}

/**
 * How a Backup's data was written. Backups completed before status.manifests.backupTool.dataFormat
 * existed have none: a recorded checksum or file list is taken as dp-agent's, as those versions
 * did (their plain-files backups could not be restored anyway); nothing recorded means no format.
 */
export function dataFormatOf(b: Backup): BackupDataFormat | undefined {
  const m = b.status?.manifests?.backupTool;
  if (m?.dataFormat) return m.dataFormat;
  return m?.checksum || m?.files?.length ? BackupDataFormat.Agent : undefined;
}
