// A MetricsSource over the runtime's Cache: lists from the informers' stores, update events
// from their handlers. An informer's initial list arrives as adds, so objects that were
// already terminal when the operator (re)started are never seen as transitions.
import type { Backup, BackupPolicy, BackupRepo, RestoreJob } from "@dataprotection/api";
import type { Cache, Kind, KubeObject } from "@dataprotection/runtime";
import { Kinds } from "../kinds.ts";
import type { MetricsSource } from "./register.ts";

export function cacheSource(cache: Cache, isLeader: () => boolean, onError?: MetricsSource["onError"]): MetricsSource {
  // Informers for every kind the metrics read, also when some controllers are left out.
  const list = <T>(kind: Kind): (() => T[] | undefined) => {
    const informer = cache.informer(kind);
    return () => (informer.hasSynced ? (cache.list<T & KubeObject>(kind) as T[]) : undefined);
  };
  const onUpdate = <T>(kind: Kind) => {
    const informer = cache.informer(kind);
    return (fn: (old: T, cur: T) => void): void => void informer.addHandler({ onUpdate: (old, cur) => fn(old as T, cur as T) });
  };
  return {
    backups: list<Backup>(Kinds.Backup),
    policies: list<BackupPolicy>(Kinds.BackupPolicy),
    repos: list<BackupRepo>(Kinds.BackupRepo),
    onBackupUpdate: onUpdate<Backup>(Kinds.Backup),
    onRestoreJobUpdate: onUpdate<RestoreJob>(Kinds.RestoreJob),
    isLeader,
    ...(onError ? { onError } : {}),
  };
}
