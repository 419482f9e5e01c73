// Pure: a Backup with spec.importFrom names a completed backup another namespace (or another
// cluster) wrote into a BackupRepo. No tool runs: a Job runs `dp-agent import`, which verifies
// every object against the backup's manifest (authenticated with the repo's key, bound to the
// backup id it was written under) and reports it; the Backup completes with that report, so a
// RestoreJob of this namespace restores it like any other. The trust argument is in
// docs/security.md: a namespace the repo admits already holds the repo's credential and key, so
// importing reads nothing it could not read; and the data is never deleted through the import.
import type { V1Job, V1Pod } from "@kubernetes/client-node";
import { BackupDataFormat, BackupPhase, type Backup, type BackupRepo } from "@dataprotection/api";
import { rfc3339, setCondition } from "@dataprotection/runtime";
import type { RepoAccess } from "../backuprepo/access.ts";
import { buildRepoAgentJob } from "../backuprepo/agent-job.ts";
import { repoRefusal } from "../backuprepo/tenancy.ts";
import { Kinds } from "../kinds.ts";
import { owned, withStatus, type BackupDecision, type BackupPrereq } from "./decision.ts";
import { backupDirOf, isSafeFilePath } from "./env.ts";
import { childLabels, TOOL_CONTAINER, toolJobName } from "./job.ts";
import { SEALED_OBJECT } from "./plain-files.ts";
import { Condition, Reason } from "./reasons.ts";
import { parseToolReport, terminationMessageOf } from "./report.ts";

export type ImportValidation =
  | { ok: true; repo: BackupRepo; filePath: string }
  | { ok: false; reason: Reason; message: string };

/** "/<names>" of spec.importFrom.path: the form status.manifests.backupTool.filePath takes. */
export function importFilePath(path: string): string {
  return `/${path.replace(/^\/+|\/+$/g, "")}`;
}

/** A New Backup with spec.importFrom: its path is plain names, its repo exists and admits the namespace. */
export function validateImport(b: Backup, repos: readonly BackupRepo[], nsLabels: Readonly<Record<string, string>> | undefined): ImportValidation {
  const ns = b.metadata?.namespace ?? "";
  const src = b.spec.importFrom!;
  const filePath = importFilePath(src.path);
  if (!isSafeFilePath(filePath)) {
    return { ok: false, reason: Reason.PathInvalid, message: `.spec.importFrom.path ${JSON.stringify(src.path.slice(0, 100))} is not a plain path in the repo (names of letters, digits, ".", "_", "-" joined by "/"; no "." or ".."): give the filePath the original Backup recorded` };
  }
  const repo = repos.find((r) => r.metadata?.name === src.backupRepoName);
  if (!repo) return { ok: false, reason: Reason.RepoNotFound, message: `BackupRepo "${src.backupRepoName}" (.spec.importFrom.backupRepoName) not found: create it (pointing at the storage that holds the backup) or fix the name` };
  const refused = repoRefusal(repo, ns, nsLabels);
  if (refused) return { ok: false, reason: Reason.RepoNotAllowed, message: refused };
  return { ok: true, repo, filePath };
}

/** The Job that verifies and reports the backup: dp-agent alone, as the tool container (its report is read like a tool's). */
export function buildImportJob(b: Backup, access: RepoAccess, filePath: string, image: string): V1Job {
  return buildRepoAgentJob({
    name: toolJobName(b.metadata!.name!, 0), namespace: b.metadata?.namespace, labels: childLabels(b, "tool"), container: TOOL_CONTAINER, image, command: ["dp-agent", "import"], access, backoffLimit: 0,
    env: [{ name: "BACKUP_DIR", value: backupDirOf(filePath) }, { name: "DP_BACKUP_PATH", value: filePath.replace(/^\/+/, "") }],
  });
}

/** New import, validated and with the repo's access in the namespace: the Job starts, the Backup goes InProgress. */
export function startImport(b: Backup, repoName: string, access: RepoAccess, filePath: string, now: Date, image: string): BackupDecision {
  const job = buildImportJob(b, access, filePath, image);
  const prepare: BackupPrereq[] = access.secretCopies.length ? [{ kind: "copySecrets", copies: access.secretCopies }] : [];
  const message = `importing ${filePath} from BackupRepo "${repoName}": Job ${job.metadata?.name} verifies it against its manifest`;
  return {
    prepare,
    creates: [owned(b, Kinds.Job, job)],
    status: withStatus(b, {
      phase: BackupPhase.InProgress,
      startTimestamp: rfc3339(now),
      backupRepoName: repoName,
      ...(access.pvcName ? { persistentVolumeClaimName: access.pvcName } : {}),
      manifests: { backupTool: { filePath, ...(access.pvcName ? { volumeName: access.pvcName } : {}), encrypted: access.encrypted } },
      attempts: 0,
      observedGeneration: b.metadata?.generation,
      conditions: setCondition(b.status?.conditions, { type: Condition.Validated, status: "True", reason: Reason.BackupStarted, message: "import source resolved" }, now),
    }),
    events: [{ type: "Normal", reason: Reason.BackupStarted, message }],
  };
}

/** What the import Job's report adds to a completed imported Backup, or why it cannot be trusted. */
export type ImportOutcome =
  | { ok: true; backupId: string; toolName: string; format: BackupDataFormat }
  | { ok: false; message: string };

const TOOL_NAME = /^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/;

/**
 * The report of `dp-agent import`: the backup id the manifest and every object are bound to (what
 * a restore will insist on) and the tool that wrote it (a cluster-scoped BackupTool's name).
 * Sealed plain files are one object under a fixed name (plain-files.ts).
 */
export function importOutcome(pod: V1Pod | undefined): ImportOutcome {
  const r = parseToolReport(terminationMessageOf(pod));
  if (!r?.backupId) return { ok: false, message: "dp-agent import reported no backup id (the manifest is not bound to a backup)" };
  if (!r.tool || !TOOL_NAME.test(r.tool)) return { ok: false, message: `dp-agent import reported ${r.tool ? `tool ${JSON.stringify(r.tool.slice(0, 80))}, which is not a BackupTool name` : "no tool (the manifest names none)"}: the backup cannot be restored by a RestoreJob` };
  const names = (r.files ?? []).map((f) => f.name);
  const format = names.length === 1 && names[0] === SEALED_OBJECT ? BackupDataFormat.SealedPlainFiles : BackupDataFormat.Agent;
  return { ok: true, backupId: r.backupId, toolName: r.tool, format };
}
