// Registers the Backup controller: for(Backup), owns(Job, StatefulSet); VolumeSnapshots (labelled,
// not owned, so protected ones survive their Backup) wake theirs; pods,
// policies, tools and repos wake the Backups that wait on them.
import { BackupPhase, type Backup } from "@dataprotection/api";
import { nameForLabelValue, type KubeObject, type Manager, type ObjectKey } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { LabelBackupName } from "./job.ts";
import { BackupReconciler } from "./reconcile.ts";

const waiting = (b: Backup): boolean => !b.status?.phase || b.status.phase === BackupPhase.New;
const keyOf = (b: KubeObject): ObjectKey => ({ namespace: b.metadata.namespace, name: b.metadata.name! });

export function registerBackupController(manager: Manager, ctx: OperatorContext): void {
  const cache = manager.cache;
  const backups = (ns?: string): Array<Backup & KubeObject> => cache.list<Backup & KubeObject>(Kinds.Backup, ns !== undefined ? { namespace: ns } : {});
  // A child's Backup: its label holds labelValue(name), bounded for names over 63 characters.
  const ownerOf = (o: KubeObject): string | undefined => {
    const v = o.metadata.labels?.[LabelBackupName];
    return v === undefined ? undefined : nameForLabelValue(v, backups(o.metadata.namespace).map((b) => b.metadata.name ?? ""));
  };
  manager
    .controller("backup")
    .for(Kinds.Backup)
    .owns(Kinds.Job)
    .owns(Kinds.StatefulSet)
    .watches(Kinds.VolumeSnapshot, (s) => {
      const owner = ownerOf(s);
      return owner ? [{ namespace: s.metadata.namespace, name: owner }] : [];
    }, { optional: true })
    // A tool pod wakes its Backup (start problems); any pod may be the target a New Backup waits for.
    .watches(Kinds.Pod, (p) => {
      const owner = ownerOf(p);
      if (owner) return [{ namespace: p.metadata.namespace, name: owner }];
      return backups(p.metadata.namespace).filter(waiting).map(keyOf);
    })
    .watches(Kinds.BackupPolicy, (p) => backups(p.metadata.namespace).filter((b) => b.spec.backupPolicyName === p.metadata.name).map(keyOf))
    .watches(Kinds.BackupTool, () => backups().filter(waiting).map(keyOf))
    .watches(Kinds.BackupRepo, () => backups().filter(waiting).map(keyOf))
    // A child's change (or deletion) wakes its parent, whose deletion may wait for it.
    .watches(Kinds.Backup, (b) => {
      const parent = (b as Backup & KubeObject).spec?.parentBackupName;
      return parent ? [{ namespace: b.metadata.namespace, name: parent }] : [];
    })
    .withOptions({ workers: 4, resyncPeriodMs: 60_000 })
    .reconciler(new BackupReconciler(ctx));
}
