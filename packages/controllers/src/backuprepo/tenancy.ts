// Pure: which namespaces may use a repo (BackupRepo.spec.namespaceSelector). Checked before a
// Backup or RestoreJob gets anything from the repo, so a refused namespace receives no Secret copy.
import type { BackupRepo } from "@dataprotection/api";
import { matchesSelector } from "@dataprotection/runtime";

/** Whether the repo needs the namespace's labels to decide (it has a selector). */
export function repoHasNamespaceSelector(repo: BackupRepo | undefined): boolean {
  return !!repo?.spec.namespaceSelector;
}

/** Why namespace `ns` (with these labels) may not use `repo`, or undefined when it may. */
export function repoRefusal(repo: BackupRepo, ns: string, nsLabels: Readonly<Record<string, string>> | undefined): string | undefined {
  const sel = repo.spec.namespaceSelector;
  if (!sel || matchesSelector(nsLabels ?? {}, sel)) return undefined;
  return `BackupRepo "${repo.metadata?.name}" does not allow namespace "${ns}" (its .spec.namespaceSelector ${JSON.stringify(sel)} does not match the namespace's labels): ask the repo's owner to admit the namespace, or use another repo`;
}
