// Registers the APIManagerBackup and APIManagerRestore controllers with an operator:
// createOperator(opts, [threescaleControllers()]). They drive the generic Backup and RestoreJob
// controllers, which must run in the same operator ("backup", "restorejob").
import { Kinds, type APIManagerRestore } from "@dataprotection/api";
import type { KubeObject, Manager } from "@dataprotection/runtime";
import { APIManagerBackupReconciler, APIManagerRestoreReconciler, type PluginContext, type ThreescaleOptions } from "./reconcile.ts";

export function threescaleControllers(o: ThreescaleOptions = {}): (manager: Manager, ctx: PluginContext) => void {
  return (manager, ctx) => {
    manager.cache.informer(Kinds.BackupRepo);
    // includeDatabases copies the built-in tools it finds.
    manager.cache.informer(Kinds.BackupTool);
    manager.controller("apimanagerbackup").for(Kinds.APIManagerBackup).owns(Kinds.Backup)
      // Optional: a cluster without the 3scale operator's CRD still runs the operator (an
      // APIManagerBackup there finds no APIManager and says so).
      .watches(Kinds.APIManager, (a) => manager.cache.list(Kinds.APIManagerBackup, { namespace: a.metadata.namespace }).map((b) => ({ namespace: b.metadata.namespace, name: b.metadata.name! })), { optional: true })
      .reconciler(new APIManagerBackupReconciler(ctx, o));
    manager.controller("apimanagerrestore").for(Kinds.APIManagerRestore).owns(Kinds.Job).owns(Kinds.RestoreJob)
      // Only the restores of that backup: a busy namespace must not wake every restore in it.
      .watches(Kinds.APIManagerBackup, (b) => manager.cache.list<APIManagerRestore & KubeObject>(Kinds.APIManagerRestore, { namespace: b.metadata.namespace })
        .filter((r) => r.spec?.restoreSource?.apiManagerBackup?.name === b.metadata.name)
        .map((r) => ({ namespace: r.metadata.namespace, name: r.metadata.name! })))
      .reconciler(new APIManagerRestoreReconciler(ctx, o));
  };
}
