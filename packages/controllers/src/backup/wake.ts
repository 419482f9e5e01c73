// Pure: which waiting Backups a pod's event concerns. A New Backup waits for its target pod; with
// 1,000 Backups New at once, waking every one of them on every pod event of the namespace (each
// tool pod alone has several) kept the controller's workers busy with reconciles that found
// nothing changed, and the Backups' own Jobs waited behind them.
import type { V1Pod } from "@kubernetes/client-node";
import type { Backup, BackupPolicy, BackupTool } from "@dataprotection/api";
import { matchesSelector } from "@dataprotection/runtime";
import { pinnedPodName } from "./target.ts";
import { backupTypeOf, runsTargetless, sectionOf } from "./validate.ts";

/**
 * Whether `pod` may be the target `backup` waits for: the pod it pins, or one its policy's
 * selector matches. No policy or no section for its type: no pod concerns it (the policy's own
 * events wake it); nor does any when the policy's tool runs targetless. `toolOf` looks a tool up.
 */
export function podMayTarget(pod: V1Pod, backup: Backup, policy: BackupPolicy | undefined, toolOf: (name: string) => BackupTool | undefined): boolean {
  if (!policy) return false;
  const pinned = pinnedPodName(backup, policy);
  if (pinned) return pod.metadata?.name === pinned;
  const section = sectionOf(policy, backupTypeOf(backup));
  if (!section) return false;
  const selector = section.policy.target.labelsSelector;
  const tool = section.name === "snapshot" ? undefined : toolOf(section.policy.backupToolName);
  if (tool && runsTargetless(tool, selector, undefined)) return false;
  return matchesSelector(pod.metadata?.labels, selector);
}
