// Pure: the logical restore of a targetless tool (BackupTool.spec.targetless) when the
// RestoreJob selects no pods (empty target.labelsSelector): one Job, run once, with no
// target pod (no DB_HOST, no target volumes, no node), as the tool's service account.
import type { V1Job, V1VolumeMount } from "@kubernetes/client-node";
import type { RestoreJob } from "@dataprotection/api";
import { childName } from "@dataprotection/runtime";
import type { RepoAccess } from "../backuprepo/access.ts";
import { toolServiceAccount } from "../backup/job.ts";
import { runsTargetless } from "../backup/validate.ts";
import { jobShell, stepContainer } from "./job.ts";
import type { RestorePlan } from "./plan.ts";

export const targetlessJobName = (rj: RestoreJob): string => childName(rj.metadata.name ?? "", "logic");

/** Whether the plan's logical restore runs once without target pods. */
export function restoresTargetless(rj: RestoreJob, plan: RestorePlan): boolean {
  const tool = plan.steps[0]?.tool;
  return !!tool && runsTargetless(tool, rj.spec.target.labelsSelector, undefined);
}

export function buildTargetlessJob(rj: RestoreJob, plan: RestorePlan, access: RepoAccess): V1Job {
  const none: V1VolumeMount[] = [];
  const containers = plan.steps.map((s, i) => stepContainer(rj, plan, s, i, "logical", access, none));
  return jobShell(rj, targetlessJobName(rj), "logical", {}, containers, access.volumes, toolServiceAccount(plan.steps[0]!.tool));
}
