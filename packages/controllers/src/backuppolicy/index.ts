// Registers the BackupPolicy controller: for(BackupPolicy); its Backups, and the tools and
// repos it names, wake it. Time comes from the operator's clock (a FakeClock in tests).
import type { Backup, BackupPolicy } from "@dataprotection/api";
import type { KubeObject, Manager, ObjectKey } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { BackupsByParent, BackupsByPolicy, backupParentIndexValues, backupPolicyIndexValues } from "./related.ts";
import { backupPolicyReconciler } from "./reconcile.ts";

type PolicyObject = BackupPolicy & KubeObject;

const keyOf = (p: PolicyObject): ObjectKey => ({ namespace: p.metadata.namespace, name: p.metadata.name ?? "" });

export function registerBackupPolicyController(manager: Manager, ctx: OperatorContext): void {
  // A reconcile reads only its policy's Backups and their descendants: at a shared tick,
  // 1,000 reconciles each scanning a namespace of thousands of Backups cost seconds of CPU.
  manager.cache.addIndex(Kinds.Backup, BackupsByPolicy, backupPolicyIndexValues);
  manager.cache.addIndex(Kinds.Backup, BackupsByParent, backupParentIndexValues);
  const policies = (): PolicyObject[] => manager.cache.list<PolicyObject>(Kinds.BackupPolicy);
  const naming = (field: "backupToolName" | "backupRepoName", name: string | undefined): ObjectKey[] =>
    policies().filter((p) => p.spec.datafile?.[field] === name || p.spec.logfile?.[field] === name).map(keyOf);
  manager
    .controller("backuppolicy")
    .for(Kinds.BackupPolicy)
    .watches(Kinds.Backup, (b) => {
      const policy = (b as Backup & KubeObject).spec?.backupPolicyName;
      return policy ? [{ namespace: b.metadata.namespace, name: policy }] : [];
    })
    .watches(Kinds.BackupTool, (t) => naming("backupToolName", t.metadata.name))
    .watches(Kinds.BackupRepo, (r) => naming("backupRepoName", r.metadata.name))
    // Ticks are requeues; the resync heals a lost timer or a missed event.
    // Many policies share a tick: enough workers to keep the API server busy with their creates.
    .withOptions({ workers: 64, resyncPeriodMs: 5 * 60_000 })
    .reconciler(backupPolicyReconciler(ctx.logKeepFromMarginMs));
}
