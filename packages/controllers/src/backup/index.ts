// Registers the Backup controller: for(Backup), owns(Job, StatefulSet); VolumeSnapshots (labelled,
// not owned, so protected ones survive their Backup) wake theirs; pods,
// policies, tools and repos wake the Backups that wait on them.
import type { V1Pod } from "@kubernetes/client-node";
import { BackupPhase, type Backup, type BackupPolicy, type BackupTool } from "@dataprotection/api";
import { nameForLabelValue, specChanged, type KubeObject, type Manager, type ObjectKey } from "@dataprotection/runtime";
import { BackupsByPolicy, backupPolicyIndexValues } from "../backuppolicy/related.ts";
import { Kinds } from "../kinds.ts";
import type { OperatorContext } from "../options.ts";
import { LabelBackupName } from "./job.ts";
import { BackupReconciler } from "./reconcile.ts";
import { podMayTarget } from "./wake.ts";

const waiting = (b: Backup): boolean => !b.status?.phase || b.status.phase === BackupPhase.New;
const keyOf = (b: KubeObject): ObjectKey => ({ namespace: b.metadata.namespace, name: b.metadata.name! });
// Completed and Failed Backups change only through events (their deletion, a policy edit); a
// resync of 10,000 of them each minute would be 10,000 reconciles for nothing.
const settled = (b: Backup & KubeObject): boolean =>
  !b.metadata.deletionTimestamp && (b.status?.phase === BackupPhase.Completed || b.status?.phase === BackupPhase.Failed);

export function registerBackupController(manager: Manager, ctx: OperatorContext): void {
  const cache = manager.cache;
  cache.addIndex(Kinds.Backup, BackupsByPolicy, backupPolicyIndexValues);
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
    // A tool pod wakes its Backup (start problems); another pod the New Backups it may be the target of.
    .watches(Kinds.Pod, (p) => {
      const owner = ownerOf(p);
      if (owner) return [{ namespace: p.metadata.namespace, name: owner }];
      const toolOf = (name: string) => cache.get<BackupTool & KubeObject>(Kinds.BackupTool, name);
      return backups(p.metadata.namespace)
        .filter((b) => waiting(b) && podMayTarget(p as V1Pod, b, cache.get<BackupPolicy & KubeObject>(Kinds.BackupPolicy, b.spec.backupPolicyName, b.metadata.namespace), toolOf))
        .map(keyOf);
    })
    // Only a policy's spec (and annotations) matter to its Backups, not its status written at each tick.
    .watches(
      Kinds.BackupPolicy,
      (p) => cache.list<Backup & KubeObject>(Kinds.Backup, { index: { name: BackupsByPolicy, value: `${p.metadata.namespace ?? ""}/${p.metadata.name}` } }).map(keyOf),
      { updated: specChanged },
    )
    .watches(Kinds.BackupTool, () => backups().filter(waiting).map(keyOf))
    .watches(Kinds.BackupRepo, () => backups().filter(waiting).map(keyOf))
    // A child's change (or deletion) wakes its parent, whose deletion may wait for it.
    .watches(Kinds.Backup, (b) => {
      const parent = (b as Backup & KubeObject).spec?.parentBackupName;
      return parent ? [{ namespace: b.metadata.namespace, name: parent }] : [];
    })
    .withOptions({ workers: 4, resyncPeriodMs: 60_000, resyncFilter: (b) => !settled(b as Backup & KubeObject) })
    .reconciler(new BackupReconciler(ctx));
}
