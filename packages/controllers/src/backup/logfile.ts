// Pure: logfile (PITR) backups. The tool runs continuously as a one-replica StatefulSet;
// the Backup stays Running, its backupLog.stopTime kept current, until the policy's logfile
// schedule is disabled or the policy is deleted, then Completed.
import type { V1StatefulSet } from "@kubernetes/client-node";
import { BackupPhase, LogRetentionKeepFromKey, type Backup, type BackupPolicy, type BackupStatus } from "@dataprotection/api";
import { childName, rfc3339, type KubeObject } from "@dataprotection/runtime";
import { archiveIntervalEnv, archiveIntervalSeconds } from "../backuppolicy/archive-interval.ts";
import { logRetentionConfigMapName } from "../backuppolicy/log-retention.ts";
import { Kinds } from "../kinds.ts";
import { startedStatus } from "./decide.ts";
import { deletions, owned, withStatus, type BackupDecision, type BackupPrereq } from "./decision.ts";
import { toolEnv } from "./env.ts";
import { buildToolPodTemplate, childLabels } from "./job.ts";
import { Reason } from "./reasons.ts";
import { formatDuration } from "./report.ts";
import type { BackupPlan } from "./validate.ts";

/** Where a logfile tool finds its policy's log-retention ConfigMap (LOG_KEEP_FROM_FILE). */
export const LOG_RETENTION_MOUNT = "/dp/log-retention";

/**
 * A logfile tool's spool (LOG_SPOOL_DIR): an emptyDir, so what the tool received but has not
 * pushed yet survives a restart of its container (a stream that was already confirmed to the
 * database, such as WAL under a replication slot, exists nowhere else).
 */
export const LOG_SPOOL_MOUNT = "/dp/log-spool";

/** How often at most a Running logfile Backup refreshes stopTime and availableReplicas. */
export const MAX_LOG_STATUS_INTERVAL_MS = 10_000;

export function logStatefulSetName(backupName: string): string {
  return childName(backupName, "log");
}

/** Where a logfile Backup records its archive interval (status.manifests.userContext). */
export const ARCHIVE_INTERVAL_CONTEXT_KEY = "archive_interval";

function archiveInterval(plan: BackupPlan): string {
  const cron = plan.policy.spec.schedule?.logfile?.cronExpression;
  return cron ? archiveIntervalEnv(cron) : "60s";
}

export function buildLogStatefulSet(b: Backup, plan: BackupPlan): V1StatefulSet {
  const d = plan.destination!;
  const tool = plan.tool!;
  const env = toolEnv({
    backupName: b.metadata!.name!, filePath: plan.filePath, target: plan.target, secret: plan.secret,
    ttl: plan.policy.spec.retention?.ttl, logfile: true, archiveInterval: archiveInterval(plan), access: d.access, tool, backupId: b.metadata?.uid,
  });
  env.push({ name: "LOG_KEEP_FROM_FILE", value: `${LOG_RETENTION_MOUNT}/${LogRetentionKeepFromKey}` });
  env.push({ name: "LOG_SPOOL_DIR", value: LOG_SPOOL_MOUNT });
  const template = buildToolPodTemplate({ backup: b, tool, target: plan.target, access: d.access, env, command: tool.spec.backupCommands, role: "logfile", restartPolicy: "Always" });
  // The policy's keep-from time (backuppolicy/log-retention.ts), updated in place while the archiver runs.
  const spec = template.spec!;
  spec.volumes = [
    ...(spec.volumes ?? []),
    { name: "dp-log-retention", configMap: { name: logRetentionConfigMapName(b.metadata!.name!), optional: true } },
    { name: "dp-log-spool", emptyDir: {} },
  ];
  for (const c of spec.containers) {
    c.volumeMounts = [
      ...(c.volumeMounts ?? []),
      { name: "dp-log-retention", mountPath: LOG_RETENTION_MOUNT, readOnly: true },
      { name: "dp-log-spool", mountPath: LOG_SPOOL_MOUNT },
    ];
  }
  const name = logStatefulSetName(b.metadata!.name!);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name, namespace: b.metadata?.namespace, labels: childLabels(b, "logfile") },
    spec: { replicas: 1, serviceName: name, selector: { matchLabels: childLabels(b, "logfile") }, template },
  };
}

export function startLogfile(b: Backup, plan: BackupPlan, now: Date): BackupDecision {
  const d = plan.destination!;
  const prepare: BackupPrereq[] = [];
  if (d.claim) prepare.push({ kind: "ensureClaim", claim: d.claim });
  if (d.access.secretCopies.length) prepare.push({ kind: "copySecrets", copies: d.access.secretCopies });
  const sts = buildLogStatefulSet(b, plan);
  const status = startedStatus(b, plan, now, BackupPhase.Running);
  status.manifests = {
    ...status.manifests,
    backupLog: { startTime: rfc3339(now) },
    backupTool: { ...status.manifests?.backupTool, logFilePath: plan.filePath, ...(b.metadata?.uid ? { backupId: b.metadata.uid } : {}) },
    // A point-in-time restore's log step gets it back as ARCHIVE_INTERVAL (how late a finished log file may be pushed).
    userContext: { ...status.manifests?.userContext, [ARCHIVE_INTERVAL_CONTEXT_KEY]: archiveInterval(plan) },
  };
  if (d.access.pvcName) status.logFilePersistentVolumeClaimName = d.access.pvcName;
  status.availableReplicas = 0;
  return { prepare, creates: [owned(b, Kinds.StatefulSet, sts)], status: withStatus(b, status), events: [{ type: "Normal", reason: Reason.BackupRunning, message: `archiving logs continuously with BackupTool "${plan.tool?.metadata?.name}" (StatefulSet ${sts.metadata?.name})` }] };
}

export interface LogfileObservation {
  backup: Backup;
  policy?: BackupPolicy;
  statefulSet?: KubeObject & { status?: { availableReplicas?: number } };
}

export function decideLogfile(o: LogfileObservation, now: Date): BackupDecision {
  const b = o.backup;
  const log = b.status?.manifests?.backupLog ?? {};
  const schedule = o.policy?.spec.schedule?.logfile;
  if (!o.policy || !schedule?.enable) {
    const why = o.policy ? `the logfile schedule of BackupPolicy "${o.policy.metadata?.name}" is disabled` : `BackupPolicy "${b.spec.backupPolicyName}" was deleted`;
    const start = Date.parse(b.status?.startTimestamp ?? "") || now.getTime();
    return {
      status: withStatus(b, {
        phase: BackupPhase.Completed,
        completionTimestamp: rfc3339(now),
        duration: formatDuration(now.getTime() - start),
        availableReplicas: 0,
        manifests: { ...b.status?.manifests, backupLog: { ...log, stopTime: rfc3339(now) } },
      }),
      deletes: deletions(b, Kinds.StatefulSet, [logStatefulSetName(b.metadata!.name!)]),
      events: [{ type: "Normal", reason: Reason.LogArchivingStopped, message: `stopped log archiving: ${why}` }],
    };
  }
  const interval = Math.min(archiveIntervalSeconds(schedule.cronExpression) * 1000, MAX_LOG_STATUS_INTERVAL_MS);
  const available = o.statefulSet?.status?.availableReplicas ?? 0;
  const status: Partial<BackupStatus> = { availableReplicas: available };
  if (available > 0) status.manifests = { ...b.status?.manifests, backupLog: { ...log, stopTime: rfc3339(now) } };
  return { status: withStatus(b, status), requeueAfterMs: interval };
}
