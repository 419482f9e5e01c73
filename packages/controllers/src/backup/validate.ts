// Pure: checks a New Backup against the world and resolves everything its run needs.
import type { V1Container, V1Pod } from "@kubernetes/client-node";
import {
  AnnotationPathPrefix, BackupPhase, BackupType, DeployKind,
  type Backup, type BackupPolicy, type BackupRepo, type BackupTool, type CommonBackupPolicy, type LabelSelector, type SnapshotPolicy,
} from "@dataprotection/api";
import { backupFilePath, type DbSecret } from "./env.ts";
import { repoRefusal } from "../backuprepo/tenancy.ts";
import { resolveDestination, type ClaimToEnsure, type Destination } from "./destination.ts";
import type { RepoAccess } from "../backuprepo/access.ts";
import { Reason } from "./reasons.ts";
import { pinnedPodName, selectTargetPod } from "./target.ts";
import { toolEnvProblem } from "../backuptool/validate.ts";
import { toolImage } from "./job.ts";

export type Section = { name: "datafile" | "logfile"; policy: CommonBackupPolicy } | { name: "snapshot"; policy: SnapshotPolicy };

export function backupTypeOf(b: Backup): BackupType {
  return (b.spec.backupType ?? BackupType.Datafile) as BackupType;
}

/** The policy section a Backup of this type uses, if the policy has it. */
export function sectionOf(policy: BackupPolicy, type: BackupType): Section | undefined {
  if (type === BackupType.Snapshot) return policy.spec.snapshot ? { name: "snapshot", policy: policy.spec.snapshot } : undefined;
  const p = type === BackupType.Logfile ? policy.spec.logfile : policy.spec.datafile;
  return p ? { name: type === BackupType.Logfile ? "logfile" : "datafile", policy: p } : undefined;
}

export interface NewObservation {
  backup: Backup;
  policy?: BackupPolicy;
  tool?: BackupTool;
  repos: readonly BackupRepo[];
  /** Pods of the Backup's namespace. */
  pods: readonly V1Pod[];
  parent?: Backup;
  /** Whether target.secret exists; undefined when the policy names none. */
  secretFound?: boolean;
  /** Whether the tool's spec.serviceAccountName exists in the namespace; undefined when it names none. */
  serviceAccountFound?: boolean;
  /** Labels of the Backup's namespace; read only when a repo has a namespaceSelector. */
  namespaceLabels?: Record<string, string>;
  now: Date;
  targetPodWaitMs: number;
}

export interface BackupPlan {
  type: BackupType;
  policy: BackupPolicy;
  section: Section;
  tool?: BackupTool;
  /** Set by the shell once the repo access exists in the namespace. */
  destination?: ResolvedDestination;
  /** Absent when a targetless tool runs without a target pod (see runsTargetless). */
  target?: { pod: V1Pod; container: V1Container };
  filePath: string;
  secret?: DbSecret;
  parent?: Backup;
  chain?: string[];
}

/** Where the data goes, with the access a tool pod uses. */
export interface ResolvedDestination {
  repoName?: string;
  access: RepoAccess;
  claim?: ClaimToEnsure;
}

export type Validation =
  | { kind: "fail"; reason: Reason; message: string }
  | { kind: "wait"; reason: Reason; message: string; retryAfterMs: number }
  | { kind: "ok"; plan: BackupPlan; destination?: Extract<Destination, { ok: true }> };

const fail = (reason: Reason, message: string): Validation => ({ kind: "fail", reason, message });

/** The path-prefix annotation: "/"-separated names, never "." or "..", so BACKUP_DIR stays under /backupdata/<namespace>. */
const SAFE_PREFIX = /^(?=.{0,128}$)(?:(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+(?:\/(?!\.\.?(?:\/|$))[A-Za-z0-9._-]+)*)?$/;

export function validateNewBackup(o: NewObservation): Validation {
  const b = o.backup;
  const ns = b.metadata?.namespace ?? "";
  const name = b.metadata?.name ?? "";
  const type = backupTypeOf(b);
  const policyName = b.spec.backupPolicyName;
  const policyRef = `${ns}/${policyName}`;
  if (!o.policy) return fail(Reason.PolicyNotFound, `BackupPolicy "${policyRef}" not found: create it or change Backup "${ns}/${name}" .spec.backupPolicyName`);
  const section = sectionOf(o.policy, type);
  if (!section) return fail(Reason.PolicySectionMissing, `BackupPolicy "${policyRef}" has no .spec.${type} section: add it to back up with backupType ${type}`);

  let tool: BackupTool | undefined;
  if (section.name !== "snapshot") {
    const toolName = section.policy.backupToolName;
    tool = o.tool;
    if (!tool) return fail(Reason.ToolNotFound, `BackupTool "${toolName}" not found: create it or change BackupPolicy "${policyRef}" .spec.${section.name}.backupToolName`);
    if (!b.spec.parentBackupName && (tool.spec.backupCommands ?? []).length === 0) {
      return fail(Reason.ToolUnsuitable, `BackupTool "${toolName}" has no backupCommands (a restore-only tool, like the KubeBlocks 0.6 pitr tools), so it cannot make a ${section.name} backup: use a tool with backupCommands in BackupPolicy "${policyRef}" .spec.${section.name}.backupToolName`);
    }
    const kind = tool.spec.deployKind ?? DeployKind.Job;
    const want = section.name === "logfile" ? DeployKind.StatefulSet : DeployKind.Job;
    if (kind !== want) {
      return fail(Reason.ToolUnsuitable, `BackupTool "${toolName}" has deployKind ${kind} but a ${section.name} backup needs ${want}: use another tool in BackupPolicy "${policyRef}" .spec.${section.name}.backupToolName`);
    }
    const env = toolEnvProblem(tool);
    if (env) return fail(Reason.ToolUnsuitable, `${env} (used by BackupPolicy "${policyRef}")`);
    if (b.spec.parentBackupName && !(tool.spec.incrementalBackupCommands ?? []).length) {
      return fail(Reason.ToolUnsuitable, `BackupTool "${toolName}" has no incrementalBackupCommands, so Backup "${ns}/${name}" cannot be incremental: add them or drop .spec.parentBackupName`);
    }
  }

  let parent: Backup | undefined;
  let chain: string[] | undefined;
  if (b.spec.parentBackupName) {
    parent = o.parent;
    const pref = `${ns}/${b.spec.parentBackupName}`;
    if (!parent || parent.metadata?.deletionTimestamp) return fail(Reason.ParentNotFound, `parent Backup "${pref}" not found: create it or change .spec.parentBackupName`);
    const phase = parent.status?.phase;
    if (phase === BackupPhase.Failed) return fail(Reason.ParentNotCompleted, `parent Backup "${pref}" is Failed: choose a Completed parent`);
    if (phase !== BackupPhase.Completed) {
      return { kind: "wait", reason: Reason.WaitingForParent, message: `waiting for parent Backup "${pref}" to complete (phase ${phase ?? "New"})`, retryAfterMs: 5_000 };
    }
    if (backupTypeOf(parent) !== BackupType.Datafile) return fail(Reason.ParentNotCompleted, `parent Backup "${pref}" is a ${backupTypeOf(parent)} backup: the parent of an incremental backup must be a datafile backup`);
    chain = [...(parent.status?.incrementalChain ?? []), parent.metadata!.name!];
  }

  let destination: Extract<Destination, { ok: true }> | undefined;
  if (section.name !== "snapshot") {
    const d = resolveDestination(b, policyRef, section.policy, o.repos, parent?.status?.backupRepoName);
    if (!d.ok) return fail(d.reason, d.message);
    const refused = d.repo ? repoRefusal(d.repo, ns, o.namespaceLabels) : undefined;
    if (refused) return fail(Reason.RepoNotAllowed, refused);
    destination = d;
  }

  const secret = section.policy.target.secret;
  if (secret?.name && o.secretFound === false) {
    return fail(Reason.SecretNotFound, `Secret "${ns}/${secret.name}" (BackupPolicy "${policyRef}" .spec.${section.name}.target.secret) not found: create it or fix the policy`);
  }

  const sa = tool?.spec.serviceAccountName;
  if (sa && o.serviceAccountFound === false) {
    return fail(Reason.ServiceAccountNotFound, `ServiceAccount "${ns}/${sa}" (BackupTool "${tool?.metadata?.name}" .spec.serviceAccountName) not found: create it in namespace ${ns} or change the tool`);
  }

  const prefix = o.policy.metadata?.annotations?.[AnnotationPathPrefix];
  if (prefix !== undefined && !SAFE_PREFIX.test(prefix.replace(/^\/+|\/+$/g, ""))) {
    return fail(Reason.PathInvalid, `BackupPolicy "${policyRef}" annotation ${AnnotationPathPrefix}=${JSON.stringify(prefix.slice(0, 100))} is not a relative path of names (letters, digits, ".", "_", "-"; no "." or ".." segments; at most 128 characters): fix the annotation`);
  }
  const plan = (target?: BackupPlan["target"]): Validation => ({
    kind: "ok",
    plan: { type, policy: o.policy!, section, tool, target, filePath: backupFilePath(ns, name, prefix), secret: secret?.name ? secret : undefined, parent, chain },
    destination,
  });
  if (tool && runsTargetless(tool, section.policy.target.labelsSelector, pinnedPodName(b, o.policy))) {
    if (!toolImage(tool, undefined)) {
      return fail(Reason.ToolUnsuitable, `BackupTool "${tool.metadata?.name}" has an empty image, which means the target pod's first container's image, but it runs without a target pod here (targetless, BackupPolicy "${policyRef}" selects no pod): set the tool's .spec.image`);
    }
    return plan(undefined);
  }

  const containerName = section.name === "snapshot" ? section.policy.hooks?.containerName : undefined;
  const t = selectTargetPod(o.pods, section.policy.target.labelsSelector, pinnedPodName(b, o.policy), containerName);
  if (!t.ok) {
    const created = Date.parse(b.metadata?.creationTimestamp ? String(b.metadata.creationTimestamp) : "") || o.now.getTime();
    const left = created + o.targetPodWaitMs - o.now.getTime();
    if (left > 0) return { kind: "wait", reason: Reason.WaitingForTargetPod, message: t.message, retryAfterMs: Math.min(left, 2_000) };
    return fail(Reason.TargetPodNotFound, `${t.message} (waited ${Math.round(o.targetPodWaitMs / 1000)}s)`);
  }

  if (tool && !toolImage(tool, t.pod.spec)) {
    return fail(Reason.ToolUnsuitable, `BackupTool "${tool.metadata?.name}" has an empty image and the first container of target pod "${t.pod.metadata?.name}" names none: set the tool's .spec.image`);
  }
  return plan({ pod: t.pod, container: t.container });
}

/** An empty selector: no matchLabels and no matchExpressions (Kubernetes would match every pod). */
export function isEmptySelector(s: LabelSelector | undefined): boolean {
  return !s || (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0);
}

/** A targetless tool (spec.targetless) runs without a target pod when the policy selects none and pins none. */
export function runsTargetless(tool: BackupTool, selector: LabelSelector | undefined, pinned: string | undefined): boolean {
  return tool.spec.targetless === true && isEmptySelector(selector) && !pinned;
}
