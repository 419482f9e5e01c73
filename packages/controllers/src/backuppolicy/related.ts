// Which Backups one policy's reconcile reads, through two cache indexes instead of a scan
// of the namespace: the policy's own Backups, and every Backup descending from one of them
// (retention keeps the ancestors of a kept Backup, whichever policy made it).
import type { Backup } from "@dataprotection/api";
import type { Cache, KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";

type BackupObject = Backup & KubeObject;

/** Backups by "namespace/spec.backupPolicyName". */
export const BackupsByPolicy = "backuppolicy.policy";
/** Backups by "namespace/parentBackupName" (spec or status). */
export const BackupsByParent = "backuppolicy.parent";

export function backupPolicyIndexValues(o: KubeObject): string[] {
  const policy = (o as BackupObject).spec?.backupPolicyName;
  return policy ? [`${o.metadata.namespace ?? ""}/${policy}`] : [];
}

export function backupParentIndexValues(o: KubeObject): string[] {
  const b = o as BackupObject;
  const parents = new Set([b.spec?.parentBackupName, b.status?.parentBackupName].filter((p): p is string => !!p));
  return [...parents].map((p) => `${o.metadata.namespace ?? ""}/${p}`);
}

/** The policy's Backups plus, transitively, every Backup whose parent is among them. */
export function relatedBackups(cache: Cache, namespace: string, policyName: string): BackupObject[] {
  const list = (index: string, value: string): BackupObject[] =>
    cache.list<BackupObject>(Kinds.Backup, { index: { name: index, value: `${namespace}/${value}` } });
  return withDescendants(list(BackupsByPolicy, policyName), (name) => list(BackupsByParent, name));
}

/** roots and everything reachable through childrenOf(name), each once (cyclic parent names end the walk). */
export function withDescendants<T extends KubeObject>(roots: readonly T[], childrenOf: (name: string) => readonly T[]): T[] {
  const found = new Map<string, T>();
  const pending = [...roots];
  for (let b = pending.pop(); b !== undefined; b = pending.pop()) {
    const name = b.metadata.name ?? "";
    if (found.has(name)) continue;
    found.set(name, b);
    pending.push(...childrenOf(name));
  }
  return [...found.values()];
}
