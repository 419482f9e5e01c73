import type { Backup, BackupRepo } from "@dataprotection/api";
import { LabelBackupRepoName } from "@dataprotection/api";
import { nameForLabelValue, type KubeObject, type Manager, type ObjectKey } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { isDefaultRepo } from "./decide.ts";
import { reconcileBackupRepo } from "./reconcile.ts";

/**
 * Registers the BackupRepo controller: for(BackupRepo), owns(StorageClass), and watches
 * its provider, the Backups that use it, its pre-check Jobs and the other default repos.
 */
export function registerBackupRepoController(manager: Manager, ctx: OperatorContext): void {
  const repos = () => manager.cache.list<BackupRepo & KubeObject>(Kinds.BackupRepo);
  const key = (name: string | undefined): ObjectKey[] => (name ? [{ name }] : []);
  manager
    .controller("backuprepo")
    .for(Kinds.BackupRepo)
    .owns(Kinds.StorageClass)
    .watches(Kinds.StorageProvider, (p) => repos().filter((r) => r.spec.storageProviderRef === p.metadata.name).map((r) => ({ name: r.metadata.name! })))
    .watches(Kinds.Backup, (b) => {
      const backup = b as Backup & KubeObject;
      return [...new Set([backup.status?.backupRepoName, backup.metadata.labels?.[LabelBackupRepoName]])].flatMap(key);
    })
    .watches(Kinds.Job, (j) => {
      const v = j.metadata.labels?.[LabelBackupRepoName];
      return key(v === undefined ? undefined : nameForLabelValue(v, repos().map((r) => r.metadata.name ?? "")));
    })
    // A default repo appearing or leaving changes whether the others conflict.
    .watches(Kinds.BackupRepo, (r) => (isDefaultRepo(r) || r.metadata.deletionTimestamp ? repos().filter((x) => isDefaultRepo(x) && x.metadata.name !== r.metadata.name).map((x) => ({ name: x.metadata.name! })) : []))
    .withOptions({ resyncPeriodMs: 5 * 60_000 })
    .reconciler((req, rctx) => reconcileBackupRepo(req, rctx, ctx));
}
