// Pure: what a finished tool pod's reports say about the backup's data: how it was written
// (status.manifests.backupTool.dataFormat), its measured size, checksum and files, and what a
// KubeBlocks 0.6 tool's backup.info adds, or why the data cannot be trusted to be in the repo.
import type { V1Pod } from "@kubernetes/client-node";
import { BackupDataFormat, type BackupToolManifestsStatus, type ManifestsStatus } from "@dataprotection/api";
import { SEAL_CONTAINER } from "./plain-files.ts";
import { formatBytes, parseToolReport, terminationMessageOf, type ToolReport } from "./report.ts";

export type DataOutcome =
  | {
    ok: true;
    format?: BackupDataFormat;
    /** status.totalSize: backup.info's totalSize when the tool wrote one (as KubeBlocks 0.6 shows it), else the measured size. */
    totalSize?: string;
    /** Measured fields of manifests.backupTool (bytes stored, checksum, files) and the format. */
    backupTool: Partial<BackupToolManifestsStatus>;
    /** From backup.info: manifests.userContext and manifests.backupLog. */
    manifests: Partial<Pick<ManifestsStatus, "userContext" | "backupLog">>;
  }
  | { ok: false; message: string };

/** Whether the pod ran the sealed layout (a seal container after the tool). */
export function ranSealed(pod: V1Pod | undefined): boolean {
  return !!pod?.spec?.containers.some((c) => c.name === SEAL_CONTAINER);
}

/**
 * `uid`: the Backup's, which the operator gave dp-agent as DP_BACKUP_ID; a reported backupId is
 * recorded only when it is that one (a restore then insists on it).
 */
export function dataOutcome(pod: V1Pod | undefined, uid?: string): DataOutcome {
  const bound = (r: ToolReport): ToolReport => (r.backupId && r.backupId === uid ? r : { ...r, backupId: undefined });
  const tool = bound(parseToolReport(terminationMessageOf(pod)) ?? {});
  if (!tool.plainFiles) {
    // dp-agent's report, or a tool that stored nothing (no BACKUP_DIR, no agent object).
    return { ok: true, ...measured(tool, tool.checksum || tool.files?.length ? BackupDataFormat.Agent : undefined), manifests: tool.userContext ? { userContext: tool.userContext } : {} };
  }
  if (!tool.checksum) {
    // A tool's own report of plain files (e.g. the 3scale tool's upstream layout at the volume's
    // root), not the operator's measurement: nothing to verify them against, and nothing sealed them.
    if (ranSealed(pod)) return { ok: false, message: `the tool reported plain files itself, without a checksum, on a repo where plain files are sealed: they did not reach the repo` };
    return { ok: true, ...measured(tool, undefined), manifests: {} };
  }
  const info = fromBackupInfo(tool.backupInfo);
  let source = tool;
  let format: BackupDataFormat = BackupDataFormat.PlainFiles;
  if (ranSealed(pod)) {
    const sealed = parseToolReport(terminationMessageOf(pod, SEAL_CONTAINER));
    const seal = sealed && bound(sealed);
    if (!seal?.checksum) {
      return { ok: false, message: `the tool wrote ${tool.files?.length ?? 0} plain file(s) into BACKUP_DIR but container "${SEAL_CONTAINER}" reported no sealed object: the files did not reach the repo` };
    }
    source = seal;
    format = BackupDataFormat.SealedPlainFiles;
  }
  const m = measured(source, format, info.totalSize);
  return { ok: true, ...m, backupTool: { ...m.backupTool, ...info.backupTool }, manifests: info.manifests };
}

function measured(r: ToolReport, format: BackupDataFormat | undefined, reportedTotal?: string): { format?: BackupDataFormat; totalSize?: string; backupTool: Partial<BackupToolManifestsStatus> } {
  const size = r.totalSize !== undefined ? formatBytes(r.totalSize) : undefined;
  return {
    format,
    totalSize: reportedTotal ?? size,
    backupTool: {
      ...(size ? { uploadTotalSize: size } : {}),
      ...(r.checksum ? { checksum: r.checksum } : {}),
      ...(r.checkpoint ? { checkpoint: r.checkpoint } : {}),
      ...(r.files ? { files: r.files } : {}),
      ...(r.backupId ? { backupId: r.backupId } : {}),
      ...(format ? { dataFormat: format } : {}),
    },
  };
}

const SIZE = /^[0-9]+(\.[0-9]+)?\s?([KMGTPE]i?B?|[kKmMgGtT]|B)?$/;
const stringsOf = (v: unknown): Record<string, string> | undefined => {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const out = Object.fromEntries(Object.entries(v as Record<string, unknown>).filter(([, x]) => typeof x === "string" || typeof x === "number").map(([k, x]) => [k, String(x)]));
  return Object.keys(out).length ? out : undefined;
};

/**
 * What a KubeBlocks 0.6 backup.info may set: totalSize (kept as the tool wrote it, e.g. du's
 * "4.2M"), manifests.backupTool.checkpoint, manifests.userContext and manifests.backupLog.
 * Not the checksum, file list, path or sizes the operator measured: a restore trusts those.
 */
export function fromBackupInfo(info: Record<string, unknown> | undefined): { totalSize?: string; backupTool: Partial<BackupToolManifestsStatus>; manifests: Partial<Pick<ManifestsStatus, "userContext" | "backupLog">> } {
  const out: ReturnType<typeof fromBackupInfo> = { backupTool: {}, manifests: {} };
  if (!info) return out;
  const total = info.totalSize;
  if ((typeof total === "string" || typeof total === "number") && SIZE.test(String(total).trim())) out.totalSize = String(total).trim();
  const m = (info.manifests && typeof info.manifests === "object" ? info.manifests : {}) as Record<string, unknown>;
  const bt = (m.backupTool && typeof m.backupTool === "object" ? m.backupTool : {}) as Record<string, unknown>;
  if (typeof bt.checkpoint === "string") out.backupTool.checkpoint = bt.checkpoint;
  const uc = stringsOf(m.userContext ?? info.userContext);
  if (uc) out.manifests.userContext = uc;
  const log = stringsOf(m.backupLog);
  if (log && (log.startTime || log.stopTime)) {
    out.manifests.backupLog = {
      ...(log.startTime && !Number.isNaN(Date.parse(log.startTime)) ? { startTime: log.startTime } : {}),
      ...(log.stopTime && !Number.isNaN(Date.parse(log.stopTime)) ? { stopTime: log.stopTime } : {}),
    };
  }
  return out;
}
