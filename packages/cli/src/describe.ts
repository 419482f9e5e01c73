// Pure: what `kubectl-dp describe backup|policy|restore NAME` prints, in kubectl describe's
// style: "Label:  value" blocks, nested sections, small tables, Conditions and the object's
// Events last. (object, what else was read, now) -> lines; -o json|yaml prints describeDocument.
import type { Backup, BackupPolicy, Condition, LabelSelector, RestoreJob } from "@dataprotection/api";
import { selectorToString } from "@dataprotection/runtime";
import { ticksAround } from "./cron.ts";
import { UsageError } from "./exit.ts";
import { policyStatus } from "./status.ts";
import { age, formatTable, humanDuration, isoTime } from "./table.ts";

export type DescribeKind = "backup" | "policy" | "restore";

const KIND_ALIASES: Record<string, DescribeKind> = {
  backup: "backup", backups: "backup", "backup.dataprotection.kubeblocks.io": "backup",
  policy: "policy", policies: "policy", backuppolicy: "policy", backuppolicies: "policy", "backuppolicy.dataprotection.kubeblocks.io": "policy",
  restore: "restore", restores: "restore", restorejob: "restore", restorejobs: "restore", "restorejob.dataprotection.kubeblocks.io": "restore",
};

/** backup, policy or restore (kubectl's plural and long names too). */
export function parseDescribeKind(word: string): DescribeKind {
  const k = KIND_ALIASES[word.toLowerCase()];
  if (!k) throw new UsageError(`describe ${word}: expected backup, policy or restore`);
  return k;
}

/** A core/v1 Event as read (events.k8s.io fields such as eventTime may be there too). */
export interface EventLike {
  metadata?: { name?: string; creationTimestamp?: string };
  involvedObject?: { kind?: string; name?: string; uid?: string };
  type?: string;
  reason?: string;
  message?: string;
  count?: number;
  firstTimestamp?: string | null;
  lastTimestamp?: string | null;
  eventTime?: string | null;
  source?: { component?: string };
  reportingComponent?: string;
}

/** How many Events describe shows (the newest ones). */
export const MAX_EVENTS = 20;

const lastSeen = (e: EventLike): string => String(e.lastTimestamp || e.eventTime || e.firstTimestamp || e.metadata?.creationTimestamp || "");
const firstSeen = (e: EventLike): string => String(e.firstTimestamp || e.eventTime || e.lastTimestamp || e.metadata?.creationTimestamp || "");

/** The Events about this object (same kind and name; same uid when both carry one), oldest first. */
export function eventsOf(events: readonly EventLike[], kind: string, name: string, uid?: string): EventLike[] {
  return events
    .filter((e) => e.involvedObject?.name === name && (!e.involvedObject.kind || e.involvedObject.kind === kind) && (!uid || !e.involvedObject.uid || e.involvedObject.uid === uid))
    .sort((a, b) => lastSeen(a).localeCompare(lastSeen(b)) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
}

/** An Event in -o json|yaml: what describe's Events table shows, with full times. */
export function eventSummary(e: EventLike): { type: string; reason: string; count: number; firstTimestamp: string; lastTimestamp: string; from: string; message: string } {
  return {
    type: e.type ?? "",
    reason: e.reason ?? "",
    count: e.count ?? 1,
    firstTimestamp: isoTime(firstSeen(e)),
    lastTimestamp: isoTime(lastSeen(e)),
    from: e.source?.component || e.reportingComponent || "",
    message: e.message ?? "",
  };
}

// ---- layout ---------------------------------------------------------------------------

/** A described field: a value (several lines for maps), or a nested block or table. */
type Field = [label: string, value: string | string[] | Field[] | { table: { header: string[]; rows: string[][] } }];

const NONE = "<none>";

function render(fields: readonly Field[], indent = 0): string[] {
  const pad = " ".repeat(indent);
  // Values start in one column per block: after the longest label of a field that has one on its line.
  const inline = fields.filter(([, v]) => !Array.isArray(v) || v.length === 0 || typeof v[0] === "string");
  const width = Math.max(0, ...inline.map(([l]) => l.length + 1)) + 2;
  const out: string[] = [];
  for (const [label, v] of fields) {
    if (typeof v === "string") out.push(`${pad}${`${label}:`.padEnd(width)}${v}`.trimEnd());
    else if (Array.isArray(v) && (v.length === 0 || typeof v[0] === "string")) {
      const values = v as string[];
      if (values.length === 0) out.push(`${pad}${`${label}:`.padEnd(width)}${NONE}`);
      values.forEach((line, i) => out.push(`${pad}${(i === 0 ? `${label}:` : "").padEnd(width)}${line}`.trimEnd()));
    } else if (Array.isArray(v)) {
      out.push(`${pad}${label}:`);
      out.push(...render(v as Field[], indent + 2));
    } else {
      const t = v.table;
      if (t.rows.length === 0) {
        out.push(`${pad}${`${label}:`.padEnd(width)}${NONE}`);
      } else {
        out.push(`${pad}${label}:`);
        out.push(...formatTable(t.header, t.rows).split("\n").map((l) => `${pad}  ${l}`));
      }
    }
  }
  return out;
}

const when = (t: string | undefined, now: Date): string => (t ? `${isoTime(t)} (${age(t, now)} ago)` : NONE);
const map = (m: Record<string, string> | undefined): string[] => Object.entries(m ?? {}).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}=${v}`);
const selector = (s: LabelSelector | undefined): string => (s ? selectorToString(s) || "<all pods>" : NONE);

function header(o: { metadata?: { name?: string; namespace?: string; labels?: Record<string, string>; annotations?: Record<string, string>; creationTimestamp?: string; deletionTimestamp?: string } }, now: Date): Field[] {
  const m = o.metadata ?? {};
  return [
    ["Name", m.name ?? ""],
    ["Namespace", m.namespace ?? ""],
    ["Labels", map(m.labels)],
    // last-applied-configuration is a copy of the object: kubectl describe leaves it out too.
    ["Annotations", map(Object.fromEntries(Object.entries(m.annotations ?? {}).filter(([k]) => k !== "kubectl.kubernetes.io/last-applied-configuration")))],
    ["Created", when(m.creationTimestamp ? String(m.creationTimestamp) : undefined, now)],
    ...(m.deletionTimestamp ? [["Deleting Since", when(String(m.deletionTimestamp), now)] as Field] : []),
  ];
}

function conditionsField(conditions: readonly Condition[] | undefined, now: Date): Field {
  return ["Conditions", {
    table: {
      header: ["Type", "Status", "Reason", "Age", "Message"],
      rows: (conditions ?? []).map((c) => [c.type, c.status, c.reason, c.lastTransitionTime ? age(String(c.lastTransitionTime), now) : "", c.message.replace(/\s+/g, " ")]),
    },
  }];
}

/** kubectl's Events block: Type, Reason, Age ("3m (x4 over 10m)"), From, Message; dashes under the header. */
export function eventLines(events: readonly EventLike[], now: Date, max = MAX_EVENTS): string[] {
  if (events.length === 0) return [`Events:  ${NONE}`];
  const shown = events.slice(-max);
  const rows = shown.map((e) => {
    const last = age(lastSeen(e), now);
    const count = e.count ?? 1;
    return [e.type ?? "", e.reason ?? "", count > 1 ? `${last} (x${count} over ${age(firstSeen(e), now)})` : last, e.source?.component || e.reportingComponent || "", (e.message ?? "").replace(/\s+/g, " ")];
  });
  const head = ["Type", "Reason", "Age", "From", "Message"];
  const dashes = head.map((h) => "-".repeat(h.length));
  const lines = formatTable(head, [dashes, ...rows]).split("\n").map((l) => `  ${l}`);
  return ["Events:", ...(events.length > shown.length ? [`  (${events.length - shown.length} older Events not shown)`] : []), ...lines];
}

/** The fields, then the Events (an empty Events block is one more aligned field, as kubectl prints it). */
function withEvents(fields: Field[], events: readonly EventLike[], now: Date): string[] {
  return events.length ? [...render(fields), ...eventLines(events, now)] : render([...fields, ["Events", NONE]]);
}

// ---- the kinds ------------------------------------------------------------------------

export function describeBackup(b: Backup, events: readonly EventLike[], now: Date): string[] {
  const s = b.status ?? {};
  const tool = s.manifests?.backupTool;
  const log = s.manifests?.backupLog;
  const snap = s.manifests?.backupSnapshot;
  const stored: Field[] = [];
  if (tool?.filePath) stored.push(["File Path", tool.filePath]);
  if (tool?.logFilePath) stored.push(["Log File Path", tool.logFilePath]);
  if (tool?.volumeName) stored.push(["Volume Name", tool.volumeName]);
  if (tool?.dataFormat) stored.push(["Data Format", tool.dataFormat]);
  if (tool?.uploadTotalSize) stored.push(["Upload Total Size", tool.uploadTotalSize]);
  if (tool?.checksum) stored.push(["Checksum", tool.checksum]);
  if (tool?.checkpoint) stored.push(["Checkpoint", tool.checkpoint]);
  if (tool?.backupId) stored.push(["Backup Id", tool.backupId]);
  if (tool?.encrypted !== undefined) stored.push(["Encrypted", String(tool.encrypted)]);
  for (const [k, v] of Object.entries(b.status?.manifests?.userContext ?? {})) stored.push([`User Context ${k}`, v.length > 120 ? `${v.slice(0, 117)}...` : v]);
  if (snap?.volumeSnapshotName) stored.push(["Volume Snapshot", snap.volumeSnapshotName]);
  if (snap?.volumeSnapshotContentName) stored.push(["Volume Snapshot Content", snap.volumeSnapshotContentName]);
  if (tool?.files) stored.push(["Files", { table: { header: ["NAME", "SIZE", "CHECKSUM"], rows: tool.files.map((f) => [f.name, f.size ?? "", f.checksum ?? ""]) } }]);
  const repo = s.backupRepoName ? `BackupRepo ${s.backupRepoName}` : s.persistentVolumeClaimName ? `PVC ${s.persistentVolumeClaimName}` : NONE;
  const fields: Field[] = [
    ...header(b, now),
    ["Policy", b.spec.backupPolicyName],
    ["Type", b.spec.backupType ?? "datafile"],
    ...(b.spec.parentBackupName ? [["Parent", b.spec.parentBackupName] as Field] : []),
    ...(b.spec.importFrom ? [["Imported From", `BackupRepo ${b.spec.importFrom.backupRepoName}, ${b.spec.importFrom.path}`] as Field] : []),
    ...(s.incrementalChain?.length ? [["Incremental Chain", s.incrementalChain.join(" -> ")] as Field] : []),
    ["Phase", s.phase ?? NONE],
    ...(s.failureReason ? [["Failure Reason", s.failureReason] as Field] : []),
    ...(s.attempts ? [["Failed Attempts", String(s.attempts)] as Field] : []),
    ["Started", when(s.startTimestamp, now)],
    ["Completed", when(s.completionTimestamp, now)],
    ["Duration", s.duration ?? NONE],
    ["Total Size", s.totalSize ?? NONE],
    ["Expiration", s.expiration ? isoTime(s.expiration) : NONE],
    ["Stored In", repo],
    ["Backup Tool", s.backupToolName ?? NONE],
    ...(log?.startTime || log?.stopTime ? [["Log Span", `${isoTime(log.startTime) || "?"}/${isoTime(log.stopTime) || "?"}`] as Field] : []),
    ...(s.availableReplicas !== undefined && (b.spec.backupType === "logfile") ? [["Available Replicas", String(s.availableReplicas)] as Field] : []),
    stored.length ? ["Stored Objects", stored] : ["Stored Objects", NONE],
    conditionsField(s.conditions, now),
  ];
  return withEvents(fields, events, now);
}

/** `backups` may hold the whole namespace's: the policy's own are picked out. */
export function describePolicy(p: BackupPolicy, backups: readonly Backup[], events: readonly EventLike[], now: Date): string[] {
  const s = p.status ?? {};
  const name = p.metadata?.name ?? "";
  const namespace = p.metadata?.namespace ?? "";
  const st = policyStatus(p, backups, now);
  const schedules = (["datafile", "snapshot", "logfile"] as const).flatMap((t) => {
    const one = p.spec.schedule?.[t];
    if (!one) return [];
    const ticks = one.enable && t !== "logfile" ? ticksAround(one.cronExpression, now) : undefined;
    const next = ticks ? `${isoTime(ticks.next)} (in ${humanDuration(ticks.next.getTime() - now.getTime())})` : one.enable && t !== "logfile" ? "invalid cron" : "-";
    return [[t, String(one.enable === true), one.cronExpression, next]];
  });
  const sections: Field[] = (["datafile", "logfile", "snapshot"] as const).flatMap((t): Field[] => {
    const sec = p.spec[t];
    if (!sec) return [];
    const f: Field[] = [];
    if ("backupToolName" in sec && sec.backupToolName) f.push(["Backup Tool", sec.backupToolName]);
    if ("backupRepoName" in sec && sec.backupRepoName) f.push(["Backup Repo", sec.backupRepoName]);
    if ("persistentVolumeClaim" in sec && sec.persistentVolumeClaim?.name) f.push(["PVC", sec.persistentVolumeClaim.name]);
    f.push(["Target", selector(sec.target.labelsSelector)]);
    if (sec.target.secret) f.push(["Secret", `${sec.target.secret.name} (keys ${sec.target.secret.usernameKey ?? "username"}, ${sec.target.secret.passwordKey ?? "password"})`]);
    f.push(["History Limit", String(sec.backupsHistoryLimit ?? 7)]);
    if (sec.onFailAttempted !== undefined) f.push(["On Fail Attempted", String(sec.onFailAttempted)]);
    return [[t[0]!.toUpperCase() + t.slice(1), f]];
  });
  const own = backups
    .filter((b) => b.spec.backupPolicyName === name && (b.metadata?.namespace ?? namespace) === namespace)
    .sort((a, b) => String(b.metadata?.creationTimestamp ?? "").localeCompare(String(a.metadata?.creationTimestamp ?? "")) || (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  const recent = own.slice(0, 10);
  const w = st.pitr.at(-1);
  const fields: Field[] = [
    ...header(p, now),
    ["Phase", s.phase ?? NONE],
    ...(s.failureReason ? [["Failure Reason", s.failureReason] as Field] : []),
    ["Retention TTL", p.spec.retention?.ttl ?? NONE],
    ["Last Schedule", when(s.lastScheduleTime, now)],
    ["Last Success", when(st.lastSuccess, now)],
    ["Schedules", { table: { header: ["TYPE", "ENABLED", "CRON", "NEXT-TICK"], rows: schedules } }],
    ...sections,
    ["Recovery", [
      ["Newest Point", st.newestPoint ? `${st.newestPoint.backup} (${st.newestPoint.type}, ${st.newestPoint.time}, ${humanDuration(st.newestPoint.ageSeconds * 1000)} old)` : NONE],
      ["Period", st.periodSeconds !== undefined ? humanDuration(st.periodSeconds * 1000) : NONE],
      ["Health", st.health],
      ["PITR Window", w ? `${w.from}/${w.to} (logfile backup ${w.backup}${w.base ? `, base ${w.base}` : ", no datafile backup inside its span"})` : NONE],
    ]],
    [own.length > recent.length ? `Backups (newest ${recent.length} of ${own.length})` : "Backups", {
      table: {
        header: ["NAME", "TYPE", "PHASE", "SIZE", "AGE"],
        rows: recent.map((b) => [b.metadata?.name ?? "", b.spec.backupType ?? "datafile", b.status?.phase ?? "", b.status?.totalSize ?? "", age(b.metadata?.creationTimestamp ? String(b.metadata.creationTimestamp) : undefined, now)]),
      },
    }],
    conditionsField(s.conditions, now),
  ];
  return withEvents(fields, events, now);
}

export function describeRestore(r: RestoreJob, events: readonly EventLike[], now: Date): string[] {
  const s = r.status ?? {};
  const mounts = new Map((r.spec.targetVolumeMounts ?? []).map((m) => [m.name, m.mountPath]));
  const start = Date.parse(s.startTimestamp ?? "");
  const end = Date.parse(s.completionTimestamp ?? "");
  const fields: Field[] = [
    ...header(r, now),
    ["Backup", r.spec.backupJobName],
    ["Restore Time", r.spec.restoreTime ? isoTime(r.spec.restoreTime) : NONE],
    ["Target", [
      ["Selector", selector(r.spec.target.labelsSelector)],
      ["Secret", r.spec.target.secret ? `${r.spec.target.secret.name} (keys ${r.spec.target.secret.usernameKey ?? "username"}, ${r.spec.target.secret.passwordKey ?? "password"})` : NONE],
    ]],
    ["Volumes", {
      table: {
        header: ["NAME", "CLAIM", "MOUNT"],
        rows: (r.spec.targetVolumes ?? []).map((v) => [v.name, v.persistentVolumeClaim?.claimName ?? (v.hostPath ? `hostPath ${v.hostPath.path}` : ""), mounts.get(v.name) ?? ""]),
      },
    }],
    ["On Fail Attempted", r.spec.onFailAttempted !== undefined ? String(r.spec.onFailAttempted) : NONE],
    ["Phase", s.phase ?? NONE],
    ...(s.failureReason ? [["Failure Reason", s.failureReason] as Field] : []),
    ...(s.attempts ? [["Failed Attempts", String(s.attempts)] as Field] : []),
    ["Started", when(s.startTimestamp, now)],
    ["Completed", when(s.completionTimestamp, now)],
    ["Duration", Number.isNaN(start) || Number.isNaN(end) ? NONE : humanDuration(end - start)],
    conditionsField(s.conditions, now),
  ];
  return withEvents(fields, events, now);
}

/** describe -o json|yaml: the object as read and its Events (oldest first, all of them). */
export function describeDocument(obj: object, events: readonly EventLike[]): { object: object; events: ReturnType<typeof eventSummary>[] } {
  return { object: obj, events: events.map(eventSummary) };
}
