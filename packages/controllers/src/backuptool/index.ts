// Registers the BackupTool controller: status.conditions (Valid, RestoreSupported) and an
// Event whenever the verdict changes.
import type { BackupTool } from "@dataprotection/api";
import { updateStatus, type KubeObject, type Manager, type ReconcileContext, type ObjectKey } from "@dataprotection/runtime";
import { withCondition } from "../backup/decision.ts";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { checkBackupTool, ToolReason } from "./validate.ts";

export async function reconcileBackupTool(req: ObjectKey, ctx: ReconcileContext): Promise<void> {
  const t = ctx.cache.get<BackupTool & KubeObject>(Kinds.BackupTool, req.name);
  if (!t || t.metadata.deletionTimestamp) return;
  const now = new Date(ctx.clock.now());
  const c = checkBackupTool(t);
  const prev = t.status?.conditions?.find((x) => x.type === "Valid");
  let conds = withCondition(t.status?.conditions, "Valid", c.valid ? "True" : "False", c.reason, c.message, now, t.metadata.generation);
  conds = withCondition(conds, "RestoreSupported", c.restorable ? "True" : "False", c.restorable ? ToolReason.RestoreSupported : ToolReason.NoRestoreCommands, c.restoreMessage, now, t.metadata.generation);
  await updateStatus(ctx.client, Kinds.BackupTool, t, (d) => {
    d.status = { ...d.status, observedGeneration: t.metadata.generation, conditions: conds };
  });
  if (!prev || prev.status !== (c.valid ? "True" : "False") || prev.reason !== c.reason) {
    if (c.valid) ctx.events.normal(t, c.reason, `BackupTool "${req.name}" is valid: ${c.message}`);
    else ctx.events.warning(t, c.reason, `BackupTool "${req.name}" is invalid: ${c.message}`);
  }
}

export function registerBackupToolController(manager: Manager, _ctx: OperatorContext): void {
  manager.controller("backuptool").for(Kinds.BackupTool).reconciler(reconcileBackupTool);
}
