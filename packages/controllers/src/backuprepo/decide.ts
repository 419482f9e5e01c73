// Pure: the decisions of the BackupRepo controller that do not need I/O.
import { AnnotationIsDefaultRepo, LabelBackupRepoName, type Backup, type BackupRepo } from "@dataprotection/api";
import type { KubeObject } from "@dataprotection/runtime";

/** A Backup uses a repo when status.backupRepoName names it, or its repo label does. */
export function usesRepo(backup: Backup & KubeObject, repoName: string): boolean {
  return backup.status?.backupRepoName === repoName || backup.metadata.labels?.[LabelBackupRepoName] === repoName;
}

/** "namespace/name" of every Backup that keeps the repo from being deleted, sorted. */
export function blockingBackups(backups: Array<Backup & KubeObject>, repoName: string): string[] {
  return backups.filter((b) => usesRepo(b, repoName)).map((b) => `${b.metadata.namespace}/${b.metadata.name}`).sort();
}

export function isDefaultRepo(repo: KubeObject): boolean {
  return repo.metadata.annotations?.[AnnotationIsDefaultRepo] === "true";
}

/** The other repos that also claim to be the default (empty when there is no conflict). */
export function otherDefaults(repos: Array<BackupRepo & KubeObject>, repo: KubeObject): string[] {
  if (!isDefaultRepo(repo)) return [];
  return repos.filter((r) => r.metadata.name !== repo.metadata.name && !r.metadata.deletionTimestamp && isDefaultRepo(r)).map((r) => r.metadata.name!).sort();
}

/** How a list of backups reads in a message: a few names, then a count. */
export function describeList(names: string[], max = 5): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")} and ${names.length - max} more`;
}
