// Pure: what a tool pod tells the controller — its termination message (dp-agent's report or
// the plain-files report of job.ts), why it cannot start — and the status formats used.
import type { V1Pod } from "@kubernetes/client-node";
import type { BackupFile } from "@dataprotection/api";
import { TOOL_CONTAINER } from "./job.ts";

export interface ToolReport {
  totalSize?: number;
  checksum?: string;
  files?: BackupFile[];
  checkpoint?: string;
  plainFiles?: boolean;
  /** The backup id dp-agent bound the objects to (format v5). */
  backupId?: string;
  /** The BackupTool the manifest records (DP_TOOL of its writer): `dp-agent import` reports it. */
  tool?: string;
  /** The manifest's userContext (what a tool recorded with its data), for status.manifests.userContext. */
  userContext?: Record<string, string>;
  /** backup.info as a KubeBlocks 0.6 tool wrote it (plain-files report), when it is a JSON object. */
  backupInfo?: Record<string, unknown>;
}

/** Parses a termination message; undefined when it is not a JSON report. */
export function parseToolReport(message: string | undefined): ToolReport | undefined {
  if (!message) return undefined;
  let v: unknown;
  try {
    v = JSON.parse(message.trim());
  } catch {
    return undefined;
  }
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const o = v as Record<string, unknown>;
  const r: ToolReport = {};
  if (typeof o.totalSize === "number" && Number.isFinite(o.totalSize)) r.totalSize = o.totalSize;
  if (typeof o.checksum === "string") r.checksum = o.checksum;
  if (typeof o.checkpoint === "string") r.checkpoint = o.checkpoint;
  if (Array.isArray(o.files)) r.files = o.files.flatMap(reportedFile);
  if (o.plainFiles === true) r.plainFiles = true;
  if (typeof o.backupId === "string" && /^[A-Za-z0-9._:/-]{1,253}$/.test(o.backupId)) r.backupId = o.backupId;
  if (typeof o.tool === "string") r.tool = o.tool;
  const uc = userContextOf(o.userContext);
  if (uc) r.userContext = uc;
  const info = typeof o.backupInfo === "string" && o.backupInfo ? decodeBackupInfo(o.backupInfo) : undefined;
  if (info) r.backupInfo = info;
  return r;
}

/** A reported userContext: string values only, at most 8 keys of names, values up to 2048 characters. */
function userContextOf(v: unknown): Record<string, string> | undefined {
  if (!v || typeof v !== "object" || Array.isArray(v)) return undefined;
  const entries = Object.entries(v as Record<string, unknown>).filter((e): e is [string, string] => /^[A-Za-z0-9._/-]{1,63}$/.test(e[0]) && typeof e[1] === "string" && e[1].length <= 2048);
  return entries.length && entries.length <= 8 ? Object.fromEntries(entries) : undefined;
}

function decodeBackupInfo(b64: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(Buffer.from(b64, "base64").toString("utf8"));
    return v && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

// A file entry: a name, or (dp-agent) { name, size: stored bytes, checksum }.
function reportedFile(f: unknown): BackupFile[] {
  if (typeof f === "string") return [{ name: f }];
  if (!f || typeof f !== "object" || typeof (f as { name?: unknown }).name !== "string") return [];
  const { name, size, checksum } = f as { name: string; size?: unknown; checksum?: unknown };
  return [{ name, ...(typeof size === "number" && Number.isFinite(size) ? { size: formatBytes(size) } : {}), ...(typeof checksum === "string" ? { checksum } : {}) }];
}

// The tool container is an init container in the sealed layout (plain-files.ts).
function toolStatus(pod: V1Pod | undefined, container = TOOL_CONTAINER) {
  return [...(pod?.status?.containerStatuses ?? []), ...(pod?.status?.initContainerStatuses ?? [])].find((c) => c.name === container);
}

/** The tool container's termination message (empty string when none). */
export function terminationMessageOf(pod: V1Pod | undefined, container = TOOL_CONTAINER): string {
  return toolStatus(pod, container)?.state?.terminated?.message ?? "";
}

/** When the tool container started (the incremental checkpoint default), as RFC 3339. */
export function toolStartedAt(pod: V1Pod | undefined, container = TOOL_CONTAINER): string | undefined {
  const s = toolStatus(pod, container)?.state;
  const t = s?.terminated?.startedAt ?? s?.running?.startedAt;
  return t ? new Date(t).toISOString().replace(/\.\d{3}Z$/, "Z") : undefined;
}

const STUCK_REASONS = new Set([
  "CreateContainerConfigError", "CreateContainerError", "ImagePullBackOff", "ErrImagePull", "InvalidImageName", "ErrImageNeverPull",
]);

/** Why a pod has not started, if it looks stuck; undefined when it runs or is merely starting. */
export function podStartProblem(pod: V1Pod): string | undefined {
  if (pod.status?.phase && pod.status.phase !== "Pending") return undefined;
  const sched = pod.status?.conditions?.find((c) => c.type === "PodScheduled");
  if (sched?.status === "False") return `pod ${pod.metadata?.name} cannot be scheduled: ${sched.message ?? sched.reason ?? "Unschedulable"}`;
  for (const c of [...(pod.status?.initContainerStatuses ?? []), ...(pod.status?.containerStatuses ?? [])]) {
    const w = c.state?.waiting;
    if (!w) continue;
    if (STUCK_REASONS.has(w.reason ?? "")) return `container ${c.name} of pod ${pod.metadata?.name}: ${w.reason}: ${w.message ?? ""}`.trim();
    if (w.message) return `container ${c.name} of pod ${pod.metadata?.name} is ${w.reason ?? "waiting"}: ${w.message}`;
  }
  return `pod ${pod.metadata?.name} is Pending`;
}

/** Bytes as a quantity string with a binary unit, e.g. 1536 -> "1.5Ki". */
export function formatBytes(n: number): string {
  const units = ["Ki", "Mi", "Gi", "Ti", "Pi"];
  if (n < 1024) return String(Math.max(0, Math.round(n)));
  let v = n;
  let u = -1;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${Number(v.toFixed(2))}${units[u]}`;
}

/** Parses a Kubernetes quantity (restoreSize) into bytes; NaN when unreadable. */
export function parseQuantity(q: string | number | undefined): number {
  if (q === undefined) return NaN;
  if (typeof q === "number") return q;
  const m = /^([0-9.]+)([KMGTPE]i?|[kmu]?)$/.exec(q.trim());
  if (!m) return NaN;
  const pow: Record<string, number> = { "": 1, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60, m: 1e-3, u: 1e-6 };
  return Number(m[1]) * (pow[m[2]] ?? NaN);
}

/** A duration as Go's time.Duration prints it ("1h2m0.5s", "350ms", "0s"). */
export function formatDuration(ms: number): string {
  if (ms <= 0) return "0s";
  if (ms < 1000) return `${Math.round(ms)}ms`;
  const h = Math.floor(ms / 3_600_000);
  const m = Math.floor((ms % 3_600_000) / 60_000);
  const s = Number(((ms % 60_000) / 1000).toFixed(3));
  return `${h ? `${h}h` : ""}${h || m ? `${m}m` : ""}${s}s`;
}
