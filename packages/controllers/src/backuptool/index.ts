// Registers the BackupTool controller: status.conditions (Valid, RestoreSupported) and an
// Event whenever the verdict changes.
import type { BackupTool, BackupToolStatus } from "@dataprotection/api";
import { applyDecision, findCondition, setCondition, type Decision, type KubeObject, type Manager, type ObjectKey, type ReconcileContext, type ReconcileResult } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { checkBackupTool, ToolReason } from "./validate.ts";

/** Pure: the tool's conditions (Valid, RestoreSupported), and an Event when the verdict changes. */
export function decideBackupTool(t: BackupTool, now: Date): Decision<BackupToolStatus> {
  const c = checkBackupTool(t);
  const gen = t.metadata?.generation;
  const prev = findCondition(t.status?.conditions, "Valid");
  let conditions = setCondition(t.status?.conditions, { type: "Valid", status: c.valid ? "True" : "False", reason: c.reason, message: c.message, observedGeneration: gen }, now);
  conditions = setCondition(conditions, { type: "RestoreSupported", status: c.restorable ? "True" : "False", reason: c.restorable ? ToolReason.RestoreSupported : ToolReason.NoRestoreCommands, message: c.restoreMessage, observedGeneration: gen }, now);
  const changed = !prev || prev.status !== (c.valid ? "True" : "False") || prev.reason !== c.reason;
  const name = t.metadata?.name;
  return {
    status: { ...t.status, observedGeneration: gen, conditions },
    events: !changed ? [] : [c.valid ? { type: "Normal", reason: c.reason, message: `BackupTool "${name}" is valid: ${c.message}` } : { type: "Warning", reason: c.reason, message: `BackupTool "${name}" is invalid: ${c.message}` }],
  };
}

/** observe (the tool, from the cache) -> decide -> apply. */
export async function reconcileBackupTool(req: ObjectKey, ctx: ReconcileContext): Promise<ReconcileResult | void> {
  const t = ctx.cache.get<BackupTool & KubeObject>(Kinds.BackupTool, req.name);
  if (!t || t.metadata.deletionTimestamp) return;
  return applyDecision(ctx, Kinds.BackupTool, t, decideBackupTool(t, new Date(ctx.clock.now())));
}

export function registerBackupToolController(manager: Manager, _ctx: OperatorContext): void {
  manager.controller("backuptool").for(Kinds.BackupTool).reconciler(reconcileBackupTool);
}
