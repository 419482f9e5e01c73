import { writeFile } from "node:fs/promises";
import { type Manifest, backupChecksum } from "./manifest.ts";

// The kubelet keeps at most 4096 bytes of a termination message.
const LIMIT = 4096;

/** What the controller copies into status.totalSize and status.manifests.backupTool. */
export interface TerminationReport {
  totalSize: number;
  dataSize: number;
  checksum: string;
  files: string[];
  filePath: string;
  filesTruncated?: boolean;
}

export function terminationReport(m: Manifest): TerminationReport {
  const r: TerminationReport = {
    totalSize: m.storedSize,
    dataSize: m.totalSize,
    checksum: backupChecksum(m),
    files: m.files.map((f) => f.name),
    filePath: m.backupPath,
  };
  while (JSON.stringify(r).length > LIMIT && r.files.length > 0) {
    r.files = r.files.slice(0, Math.floor(r.files.length / 2));
    r.filesTruncated = true;
  }
  return r;
}

/** Best effort: a missing /dev/termination-log (outside a pod) must not fail the command. */
export async function writeTermination(path: string, text: string): Promise<void> {
  await writeFile(path, text.slice(0, LIMIT)).catch(() => undefined);
}
