import { writeFile } from "node:fs/promises";
import { type Manifest, backupChecksum, isStringMap } from "./manifest.ts";

// The kubelet keeps at most 4096 bytes of a termination message.
const LIMIT = 4096;

/** One object of the backup: its name, stored bytes and checksum ("sha256:<hex>"). */
export interface ReportedFile {
  name: string;
  size: number;
  checksum: string;
}

/** What the controller copies into status.totalSize and status.manifests.backupTool. */
export interface TerminationReport {
  totalSize: number;
  dataSize: number;
  checksum: string;
  /** Every object with its size and checksum; only names when that would not fit. */
  files: ReportedFile[] | string[];
  filePath: string;
  filesTruncated?: boolean;
  /** The backup id the objects and manifest are bound to (format v5), for status.manifests.backupTool.backupId. */
  backupId?: string;
  /** The tool that wrote the backup (manifest `tool`, from DP_TOOL), for an imported Backup's status.backupToolName. */
  tool?: string;
  /** The manifest's userContext (`dp-agent context set`), for status.manifests.userContext. */
  userContext?: Record<string, string>;
}

export function terminationReport(m: Manifest): TerminationReport {
  const r: TerminationReport = {
    totalSize: m.storedSize,
    dataSize: m.totalSize,
    checksum: backupChecksum(m),
    files: m.files.map((f) => ({ name: f.name, size: f.storedSize, checksum: `sha256:${f.sha256}` })),
    filePath: m.backupPath,
    ...(m.backupId ? { backupId: m.backupId } : {}),
    ...(typeof m.tool === "string" && m.tool ? { tool: m.tool } : {}),
    ...(isStringMap(m.userContext) && Object.keys(m.userContext).length > 0 ? { userContext: m.userContext } : {}),
  };
  // Bytes, as the kubelet counts them (a user context may hold any UTF-8).
  const fits = (): boolean => Buffer.byteLength(JSON.stringify(r)) <= LIMIT;
  if (!fits()) r.files = m.files.map((f) => f.name);
  while (!fits() && r.files.length > 0) {
    r.files = r.files.slice(0, Math.floor(r.files.length / 2));
    r.filesTruncated = true;
  }
  // Still too long with no files: only a tool name longer than any BackupTool's, or a user context
  // beyond what a writer records (checkUserContext), can do that; dropped rather than cut mid-JSON,
  // the tool first: the user context is what a restore elsewhere needs.
  if (!fits()) delete r.tool;
  if (!fits()) delete r.userContext;
  return r;
}

/** Best effort: a missing /dev/termination-log (outside a pod) must not fail the command. */
export async function writeTermination(path: string, text: string): Promise<void> {
  await writeFile(path, text.slice(0, LIMIT)).catch(() => undefined);
}
