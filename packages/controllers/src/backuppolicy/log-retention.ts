// Pure: which archived log a policy's running logfile Backup may prune. A base backup (any
// non-logfile Backup of the policy) needs the log from its start on; a log file pushed before
// the oldest base still kept started was finished before it, so no kept base needs it. The
// decision is handed to the archiver (which alone writes its backup's manifest) as a file in a
// ConfigMap the logfile StatefulSet mounts (LOG_KEEP_FROM_FILE); tools prune what was pushed
// before that time, and keep everything while the file is absent or empty.
import { AnnotationLogKeepFrom, LogRetentionKeepFromKey } from "@dataprotection/api";
import { childName, ownerReference, rfc3339, type Kind } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import { isActive, type ObservedBackup } from "./backups.ts";

/** Clock skew allowed between the operator (a base's startTimestamp) and the archiver (a push's time); OperatorOptions.logKeepFromMarginMs. */
export const LOG_KEEP_FROM_MARGIN_MS = 60_000;

export function logRetentionConfigMapName(logBackupName: string): string {
  return childName(logBackupName, "log-retention");
}

export interface LogRetentionDecision {
  creates: Array<{ kind: Kind; object: object }>;
  patches: Array<{ kind: Kind; name: string; namespace: string; patch: object }>;
}

/**
 * The oldest start of a base still kept (Completed or still running, not being deleted), less
 * the margin; undefined while there is none (keep every log file).
 */
export function logKeepFrom(own: readonly ObservedBackup[], marginMs = LOG_KEEP_FROM_MARGIN_MS): Date | undefined {
  const starts = own
    .filter((b) => b.backupType !== "logfile" && !b.deleting && (b.phase === "Completed" || isActive(b)))
    .map((b) => b.startTimestamp?.getTime() ?? b.creationTimestamp.getTime());
  return starts.length ? new Date(Math.min(...starts) - marginMs) : undefined;
}

/**
 * For each running logfile Backup whose recorded keep-from (annotation) is not the current
 * one: the ConfigMap (created if absent, owned by the logfile Backup), its data, then the
 * annotation that records it was handed over. Nothing when they agree, so a steady policy writes nothing.
 */
export function decideLogRetention(own: readonly ObservedBackup[], namespace: string, marginMs = LOG_KEEP_FROM_MARGIN_MS): LogRetentionDecision {
  const d: LogRetentionDecision = { creates: [], patches: [] };
  const keepFrom = logKeepFrom(own, marginMs);
  if (!keepFrom) return d;
  const value = rfc3339(keepFrom);
  for (const log of own) {
    if (log.backupType !== "logfile" || log.deleting || !log.uid || log.phase !== "Running" || log.logKeepFrom === value) continue;
    const name = logRetentionConfigMapName(log.name);
    d.creates.push({
      kind: Kinds.ConfigMap,
      object: {
        apiVersion: "v1", kind: "ConfigMap",
        metadata: {
          name, namespace,
          ownerReferences: [ownerReference({ metadata: { name: log.name, uid: log.uid } }, Kinds.Backup)],
        },
        data: { [LogRetentionKeepFromKey]: value },
      },
    });
    d.patches.push({ kind: Kinds.ConfigMap, name, namespace, patch: { data: { [LogRetentionKeepFromKey]: value } } });
    d.patches.push({ kind: Kinds.Backup, name: log.name, namespace, patch: { metadata: { annotations: { [AnnotationLogKeepFrom]: value } } } });
  }
  return d;
}
