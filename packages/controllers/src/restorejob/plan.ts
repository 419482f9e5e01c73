// Pure: what a RestoreJob restores. Resolves the Backup, its incremental chain, the
// point-in-time choice, the tools and the repo into ordered steps, or says why not.
import { BackupDataFormat, BackupPhase, BackupType, type Backup, type BackupRepo, type BackupTool, type RestoreJob } from "@dataprotection/api";
import { dataFormatOf } from "../backup/plain-files.ts";
import { isSafeFilePath } from "../backup/env.ts";
import { repoRefusal } from "../backuprepo/tenancy.ts";
import { choosePitr } from "./pitr.ts";
import { Reason } from "./reasons.ts";
import { toolEnvProblem } from "../backuptool/validate.ts";

export type RestoreMode = "physical" | "logical";

/** One run of tool commands against one backup's data, in plan order. */
export interface RestoreStep {
  backup: Backup;
  tool: BackupTool;
  /** "base": restoreCommands; "incremental": incrementalRestoreCommands; "logfile": the log tool's restoreCommands. */
  kind: "base" | "incremental" | "logfile";
}

export interface RestorePlan {
  /** The Backup named by spec.backupJobName. */
  backup: Backup;
  steps: RestoreStep[];
  modes: RestoreMode[];
  /** Where the data lives: a BackupRepo, or a KubeBlocks 0.6 backup PVC. */
  repo?: BackupRepo;
  legacyPVC?: string;
  pitr?: { time: Date; base: Backup; log: Backup };
  /**
   * Snapshot backups: the VolumeSnapshot the Backup's status records. Each target PVC is provisioned
   * from its own volume's snapshot (snapshot.ts); this one only when the snapshots carry no labels.
   */
  volumeSnapshotName?: string;
  /** Backups whose data is verified (dp-agent objects, or plain files against the recorded checksum) before the target is touched. */
  verify: Backup[];
}

export type PlanResult =
  | { kind: "ok"; plan: RestorePlan }
  | { kind: "fail"; reason: Reason; message: string }
  | { kind: "wait"; message: string };

export interface PlanInputs {
  restore: RestoreJob;
  /** Backups of the RestoreJob's namespace. */
  backups: readonly Backup[];
  tools: ReadonlyMap<string, BackupTool>;
  repos: ReadonlyMap<string, BackupRepo>;
  /** The operator allows hostPath targetVolumes (OperatorOptions.allowHostPathRestore). */
  allowHostPath?: boolean;
  /** Labels of the RestoreJob's namespace; read only when a repo has a namespaceSelector. */
  namespaceLabels?: Record<string, string>;
}

const fail = (reason: Reason, message: string): PlanResult => ({ kind: "fail", reason, message });

export function commandsOf(step: RestoreStep, mode: RestoreMode): string[] {
  const cfg = step.tool.spec[mode];
  return (step.kind === "incremental" ? cfg?.incrementalRestoreCommands : cfg?.restoreCommands) ?? [];
}

export function planRestore(i: PlanInputs): PlanResult {
  const ns = i.restore.metadata.namespace ?? "";
  const rjName = `${ns}/${i.restore.metadata.name}`;
  const byName = new Map(i.backups.map((b) => [b.metadata.name ?? "", b]));
  const name = i.restore.spec.backupJobName;
  const unsafe = unsafeRestoreInput(i.restore, !!i.allowHostPath);
  if (unsafe) return fail(Reason.InvalidRestoreJob, `RestoreJob "${rjName}" ${unsafe}`);
  const backup = byName.get(name);
  if (!backup) return fail(Reason.BackupNotFound, `Backup "${ns}/${name}" not found: create it or change RestoreJob "${rjName}" .spec.backupJobName`);
  const phase = backup.status?.phase;
  if (phase === BackupPhase.Failed) return fail(Reason.BackupFailed, `Backup "${ns}/${name}" is Failed (${backup.status?.failureReason ?? "no reason"}): restore another backup`);

  if (backup.spec.backupType === BackupType.Snapshot) {
    if (phase !== BackupPhase.Completed) return { kind: "wait", message: `Backup "${ns}/${name}" is ${phase ?? "New"}; waiting for it to complete` };
    const snap = backup.status?.manifests?.backupSnapshot?.volumeSnapshotName;
    if (!snap) return fail(Reason.SnapshotNotReady, `snapshot Backup "${ns}/${name}" records no status.manifests.backupSnapshot.volumeSnapshotName: restore another backup`);
    return { kind: "ok", plan: { backup, steps: [], modes: ["physical"], volumeSnapshotName: snap, verify: [] } };
  }

  let planned: Array<Omit<RestoreStep, "tool">> = [];
  let pitr: RestorePlan["pitr"];
  const restoreTime = i.restore.spec.restoreTime;
  if (restoreTime) {
    const time = new Date(restoreTime);
    if (Number.isNaN(time.getTime())) return fail(Reason.RestoreTimeInvalid, `RestoreJob "${rjName}" .spec.restoreTime ${JSON.stringify(restoreTime)} is not an RFC 3339 time: write e.g. 2024-05-01T12:00:00Z`);
    const policy = backup.spec.backupPolicyName;
    const choice = choosePitr(time, i.backups.filter((b) => b.spec.backupPolicyName === policy), `${ns}/${policy}`);
    if (!choice.ok) return fail(choice.reason === "NoLogfileBackup" ? Reason.NoLogfileBackup : Reason.RestoreTimeOutOfWindow, choice.message);
    const chain = chainOf(choice.base, byName);
    if (!Array.isArray(chain)) return chain;
    planned = [...chain, { backup: choice.log, kind: "logfile" }];
    pitr = { time, base: choice.base, log: choice.log };
  } else {
    if (phase !== BackupPhase.Completed) return { kind: "wait", message: `Backup "${ns}/${name}" is ${phase ?? "New"}; waiting for it to complete` };
    const chain = chainOf(backup, byName);
    if (!Array.isArray(chain)) return chain;
    planned = chain;
  }

  const steps: RestoreStep[] = [];
  for (const s of planned) {
    const toolName = s.backup.status?.backupToolName;
    const tool = toolName ? i.tools.get(toolName) : undefined;
    if (!tool) {
      const what = toolName ? `BackupTool "${toolName}" not found: create it` : `it records no status.backupToolName`;
      return fail(Reason.ToolNotFound, `cannot restore Backup "${ns}/${s.backup.metadata.name}": ${what}`);
    }
    const env = toolEnvProblem(tool);
    if (env) return fail(Reason.ToolUnsuitable, `cannot restore Backup "${ns}/${s.backup.metadata.name}": ${env}`);
    steps.push({ ...s, tool });
  }

  const base = steps[0]!;
  const modes = (["physical", "logical"] as const).filter((m) => commandsOf(base, m).length > 0);
  if (modes.length === 0) return fail(Reason.NoRestoreCommands, `BackupTool "${base.tool.metadata.name}" has neither physical.restoreCommands nor logical.restoreCommands: add them to restore Backup "${ns}/${base.backup.metadata.name}"`);
  for (const s of steps.slice(1)) {
    for (const m of modes) {
      if (commandsOf(s, m).length === 0) {
        const field = s.kind === "incremental" ? `${m}.incrementalRestoreCommands` : `${m}.restoreCommands`;
        return fail(Reason.NoRestoreCommands, `BackupTool "${s.tool.metadata.name}" has no ${field}: add them to restore ${s.kind} Backup "${ns}/${s.backup.metadata.name}"`);
      }
    }
  }

  const repoNames = new Set(steps.map((s) => s.backup.status?.backupRepoName ?? ""));
  if (repoNames.size > 1) return fail(Reason.MixedRepos, `the backups to restore live in different repos (${[...repoNames].join(", ")}): restore them with separate RestoreJobs`);
  const repoName = [...repoNames][0] ?? "";
  let repo: BackupRepo | undefined;
  let legacyPVC: string | undefined;
  if (repoName) {
    repo = i.repos.get(repoName);
    if (!repo) return fail(Reason.RepoNotFound, `BackupRepo "${repoName}" of Backup "${ns}/${base.backup.metadata.name}" not found: recreate it to restore its data`);
    const refused = repoRefusal(repo, ns, i.namespaceLabels);
    if (refused) return fail(Reason.RepoNotAllowed, refused);
  } else {
    legacyPVC = base.backup.status?.persistentVolumeClaimName;
    if (!legacyPVC) return fail(Reason.RepoNotFound, `Backup "${ns}/${base.backup.metadata.name}" records neither status.backupRepoName nor status.persistentVolumeClaimName: its data cannot be found`);
  }

  for (const s of steps) {
    const p = s.backup.status?.manifests?.backupTool?.filePath;
    if (p !== undefined && !isSafeFilePath(`/${p.replace(/^\/+|\/+$/g, "")}`)) {
      return fail(Reason.InvalidRestoreJob, `Backup "${ns}/${s.backup.metadata.name}" records filePath ${JSON.stringify(p.slice(0, 100))}, which is not a plain path under the repo: refusing to restore from it`);
    }
  }
  // Plain files kept in the repo are read at BACKUP_DIR; sealed ones are unpacked into a scratch
  // BACKUP_DIR at the same path: one pod cannot have both.
  const formats = new Set(steps.map((s) => dataFormatOf(s.backup)));
  if (formats.has(BackupDataFormat.PlainFiles) && formats.has(BackupDataFormat.SealedPlainFiles)) {
    return fail(Reason.MixedDataFormats, `the backups to restore mix plain files kept in the repo and sealed plain files (${steps.map((s) => `${s.backup.metadata.name}: ${dataFormatOf(s.backup)}`).join(", ")}): restore them with separate RestoreJobs`);
  }
  // Everything with a recorded format is checked before the target is touched.
  const verify = steps.map((s) => s.backup).filter((b) => dataFormatOf(b) !== undefined);
  return { kind: "ok", plan: { backup, steps, modes, repo, legacyPVC, pitr, verify } };
}

/**
 * Volume sources that reach into the node itself rather than into storage: hostPath (the node's
 * file system), gitRepo (the kubelet runs git on the node; deprecated) and flexVolume (the
 * kubelet runs a node-installed driver with the volume's options). Every other source the
 * schema takes (network disks, ephemeral claims, projections...) is storage the pod is given.
 */
export const NODE_LEVEL_SOURCES = ["hostPath", "gitRepo", "flexVolume"] as const;

/** Why a RestoreJob's volumes or mounts may not be used (node-level volumes, paths that escape), or undefined. */
function unsafeRestoreInput(rj: RestoreJob, allowHostPath: boolean): string | undefined {
  for (const v of rj.spec.targetVolumes ?? []) {
    const nodeLevel = NODE_LEVEL_SOURCES.find((k) => v[k] !== undefined && v[k] !== null);
    if (nodeLevel && !allowHostPath) return `.spec.targetVolumes "${v.name}" is a ${nodeLevel} volume: a restore may write only into the workload's claims (an operator started with DP_ALLOW_HOSTPATH_RESTORE=true allows node-level volumes: ${NODE_LEVEL_SOURCES.join(", ")})`;
  }
  for (const m of rj.spec.targetVolumeMounts ?? []) {
    const bad = pathProblem(m.mountPath, "absolute") ?? (m.subPath ? pathProblem(m.subPath, "relative") : undefined);
    if (bad) return `.spec.targetVolumeMounts "${m.name}": ${bad}`;
  }
  return undefined;
}

/** Why a user-supplied path is refused ("..", NUL, over-long, absolute where relative is meant), or undefined. */
function pathProblem(p: string, kind: "absolute" | "relative"): string | undefined {
  if (p.includes("\0")) return `path ${JSON.stringify(p)} contains NUL`;
  if (p.length > 1024) return `path of ${p.length} characters is over 1024`;
  if (kind === "absolute" && !p.startsWith("/")) return `path ${JSON.stringify(p)} must be absolute`;
  if (kind === "relative" && p.startsWith("/")) return `path ${JSON.stringify(p)} must be relative`;
  if (p.split("/").includes("..")) return `path ${JSON.stringify(p)} contains ".."`;
  return undefined;
}

/** Whether any step's plain files were sealed (the restore pod then unpacks them into a scratch BACKUP_DIR). */
export function hasSealedSteps(plan: RestorePlan): boolean {
  return plan.steps.some((s) => dataFormatOf(s.backup) === BackupDataFormat.SealedPlainFiles);
}

/** The base and incrementals (base first) that restore `b`, each Completed. */
function chainOf(b: Backup, byName: ReadonlyMap<string, Backup>): Array<Omit<RestoreStep, "tool">> | PlanResult {
  const ns = b.metadata.namespace ?? "";
  let names = b.status?.incrementalChain;
  if (!names) {
    // Not recorded: walk spec.parentBackupName (bounded, cycles refused).
    names = [];
    let cur = b.spec.parentBackupName;
    while (cur && names.length <= 256 && !names.includes(cur)) {
      names.unshift(cur);
      cur = byName.get(cur)?.spec.parentBackupName;
    }
  }
  const out: Array<Omit<RestoreStep, "tool">> = [];
  for (const n of [...names, b.metadata.name ?? ""]) {
    const x = byName.get(n);
    if (!x || x.status?.phase !== BackupPhase.Completed) {
      return fail(Reason.ChainIncomplete, `Backup "${ns}/${b.metadata.name}" needs Backup "${ns}/${n}" of its incremental chain, which is ${x ? x.status?.phase ?? "New" : "missing"}: restore a backup whose chain is complete`);
    }
    out.push({ backup: x, kind: out.length === 0 ? "base" : "incremental" });
  }
  return out;
}
