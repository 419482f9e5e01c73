// Pure: the progress of a followed Backup or RestoreJob (--wait). On a terminal one line,
// rewritten in place at every poll (phase, bytes moved when the object says, time elapsed);
// otherwise a plain line each time the phase or the bytes change, for logs and pipes.
import { humanDuration } from "./table.ts";

export interface Progressing {
  status?: {
    phase?: string;
    totalSize?: string;
    manifests?: { backupTool?: { uploadTotalSize?: string } };
  };
}

/** What the object says it moved so far: a Backup's totalSize, else its tool's uploadTotalSize. */
export function bytesMoved(obj: Progressing): string | undefined {
  return obj.status?.totalSize || obj.status?.manifests?.backupTool?.uploadTotalSize || undefined;
}

/** "backup/b1 InProgress (12Mi, 41s elapsed)". */
export function progressLine(ref: string, obj: Progressing, elapsedMs: number): string {
  const bytes = bytesMoved(obj);
  return `${ref} ${obj.status?.phase || "(no phase yet)"} (${bytes ? `${bytes}, ` : ""}${humanDuration(elapsedMs)} elapsed)`;
}

export interface ProgressOutput {
  out: (line: string) => void;
  /** Raw text without a newline; with tty, the line is rewritten in place through it. */
  write?: (text: string) => void;
  tty?: boolean;
  /** The terminal's width: a longer line is cut so that \r can rewrite it. */
  columns?: number;
}

/** Follows one object's progress; call update() at every poll and end() before printing anything else. */
export class Progress {
  private last?: string;
  private live = false;

  constructor(
    private readonly o: ProgressOutput,
    private readonly ref: string,
    private readonly startedAt: number,
  ) {}

  update(obj: Progressing, now: number): void {
    const line = progressLine(this.ref, obj, now - this.startedAt);
    const key = `${obj.status?.phase ?? ""}\u0000${bytesMoved(obj) ?? ""}`;
    if (this.o.tty && this.o.write) {
      const width = this.o.columns && this.o.columns > 1 ? this.o.columns - 1 : undefined;
      this.o.write(`\r\u001b[2K${width && line.length > width ? line.slice(0, width) : line}`);
      this.live = true;
    } else if (obj.status?.phase && key !== this.last) {
      this.o.out(line);
    }
    this.last = key;
  }

  /** Ends the in-place line with a newline (nothing to do for plain lines). */
  end(): void {
    if (this.live) this.o.write!("\n");
    this.live = false;
  }
}
