// Pure: the tables `kubectl-dp list` and `status` print, in kubectl's plain table style, and the times in them.
import type { Backup, BackupPolicy, RestoreJob } from "@dataprotection/api";

/** kubectl's age: 45s, 12m, 5h, 3d, 2y (two units below a day: 5h12m). */
export function age(from: string | undefined, now: Date): string {
  const t = Date.parse(from ?? "");
  if (Number.isNaN(t)) return "<unknown>";
  return humanDuration(now.getTime() - t);
}

/** A duration the way kubectl prints ages (negative counts as 0): 45s, 12m, 5h12m, 3d, 2y. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ""}`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

/** RFC 3339 in UTC, whole seconds without ".000" (as the API server writes times); "" for no time. */
export function isoTime(t: string | number | Date | undefined): string {
  if (t === undefined || t === "") return "";
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? String(t) : d.toISOString().replace(/\.000Z$/, "Z");
}

/** Columns padded with three spaces, like kubectl get. */
export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]! + 3))).join("").trimEnd();
  return [line(header), ...rows.map(line)].join("\n");
}

type Table = { header: string[]; rows: string[][] };
const ns = (all: boolean, o: { metadata?: { namespace?: string } }): string[] => (all ? [o.metadata?.namespace ?? ""] : []);
export const byCreation = <T extends { metadata?: { creationTimestamp?: string | Date; name?: string } }>(a: T, b: T): number =>
  String(a.metadata?.creationTimestamp ?? "").localeCompare(String(b.metadata?.creationTimestamp ?? "")) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? "");
const created = (o: { metadata?: { creationTimestamp?: string | Date } }): string | undefined => (o.metadata?.creationTimestamp ? String(o.metadata.creationTimestamp) : undefined);

export function backupTable(items: Backup[], all: boolean, now: Date): Table {
  return {
    header: [...(all ? ["NAMESPACE"] : []), "NAME", "POLICY", "TYPE", "PHASE", "SIZE", "DURATION", "PARENT", "AGE"],
    rows: [...items].sort(byCreation).map((b) => [
      ...ns(all, b),
      b.metadata?.name ?? "",
      b.spec.backupPolicyName,
      b.spec.backupType ?? "datafile",
      b.status?.phase ?? "",
      b.status?.totalSize ?? "",
      b.status?.duration ?? "",
      b.spec.parentBackupName ?? "",
      age(created(b), now),
    ]),
  };
}

export function restoreTable(items: RestoreJob[], all: boolean, now: Date): Table {
  return {
    header: [...(all ? ["NAMESPACE"] : []), "NAME", "BACKUP", "PHASE", "RESTORE-TIME", "AGE", "REASON"],
    rows: [...items].sort(byCreation).map((r) => [
      ...ns(all, r),
      r.metadata?.name ?? "",
      r.spec.backupJobName,
      r.status?.phase ?? "",
      r.spec.restoreTime ? String(r.spec.restoreTime) : "",
      age(created(r), now),
      r.status?.failureReason ?? "",
    ]),
  };
}

export function policyTable(items: BackupPolicy[], all: boolean, now: Date): Table {
  const schedules = (p: BackupPolicy): string => {
    const s = p.spec.schedule;
    const parts = (["datafile", "snapshot", "logfile"] as const).flatMap((t) => {
      const one = s?.[t];
      return one?.enable === true ? [`${t}: ${one.cronExpression}`] : [];
    });
    return parts.join(", ") || "<none>";
  };
  return {
    header: [...(all ? ["NAMESPACE"] : []), "NAME", "PHASE", "SCHEDULES", "LAST-SCHEDULE", "AGE"],
    rows: [...items].sort(byCreation).map((p) => [
      ...ns(all, p),
      p.metadata?.name ?? "",
      p.status?.phase ?? "",
      schedules(p),
      p.status?.lastScheduleTime ? age(String(p.status.lastScheduleTime), now) : "",
      age(created(p), now),
    ]),
  };
}
