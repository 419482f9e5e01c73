// The checksum of a directory of plain files, as the Backup Job's plain-files report computes it
// in the tool's own shell (controllers/src/backup/job.ts, PLAIN_FILES_REPORT):
//   find . -type f | sed 's|^\./||' | LC_ALL=C sort | while read -r f; do sha256sum "$f"; done | sha256sum
// so a restore can check files a KubeBlocks 0.6-style tool wrote into BACKUP_DIR against the value
// the operator recorded in the Backup's status, before the tool's restore script reads them.
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir } from "node:fs/promises";
import { join } from "node:path";
import { AgentError } from "./errors.ts";

export interface PlainFilesSummary {
  /** "sha256:<hex>" over the sha256sum lines of every regular file, sorted by name (bytes). */
  checksum: string;
  totalSize: number;
  files: string[];
}

/** Regular files under dir, relative, in `LC_ALL=C sort` order; like find, symlinks are neither followed nor listed. */
async function regularFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(rel ? join(dir, rel) : dir, { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  await walk("");
  return out.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

/** One line as GNU sha256sum prints it (a name with "\" or a newline is escaped and the line starts with "\"). */
export function sha256sumLine(hex: string, name: string): string {
  if (!/[\\\n]/.test(name)) return `${hex}  ${name}\n`;
  return `\\${hex}  ${name.replace(/\\/g, "\\\\").replace(/\n/g, "\\n")}\n`;
}

export async function summarizePlainFiles(dir: string): Promise<PlainFilesSummary> {
  const st = await lstat(dir).catch(() => undefined);
  if (!st?.isDirectory()) throw new AgentError(`${dir} is not a directory: the backup's plain files are missing`);
  const files = await regularFiles(dir);
  const all = createHash("sha256");
  let totalSize = 0;
  for (const f of files) {
    all.update(sha256sumLine(await sha256File(join(dir, f)), f));
    totalSize += (await lstat(join(dir, f))).size;
  }
  return { checksum: `sha256:${all.digest("hex")}`, totalSize, files };
}

/** Throws unless the files under dir have the expected checksum (the one the Backup's status recorded). */
export async function verifyPlainFiles(dir: string, expected: string): Promise<PlainFilesSummary> {
  if (!/^sha256:[0-9a-f]{64}$/.test(expected)) throw new AgentError(`--expect ${JSON.stringify(expected)} is not sha256:<64 hex digits>`);
  const s = await summarizePlainFiles(dir);
  if (s.checksum !== expected) {
    throw new AgentError(`the plain files in ${dir} (${s.files.length} files, ${s.totalSize} bytes) have checksum ${s.checksum}, not ${expected} as the Backup recorded: they were changed, added or removed since the backup`);
  }
  return s;
}
