// Pure: deterministic names and labels of everything a BackupRepo creates.
import { LabelBackupRepoName } from "@dataprotection/api";
import { childName } from "@dataprotection/runtime";

export const LabelManagedBy = "app.kubernetes.io/managed-by";
export const ManagedBy = "dataprotection";
/**
 * Annotation a provider's storageClassTemplate may put on the StorageClass: the access
 * modes its volumes support (comma-separated), e.g. "ReadWriteOnce" for a node-local class.
 */
export const AnnotationAccessModes = "dataprotection.kubeblocks.io/access-modes";
/** Label on the pre-check Job and its PVC: the repo's generation it checks. */
export const LabelPreCheckGeneration = "dataprotection.kubeblocks.io/pre-check-generation";

/** The labels of every object a repo creates, so it can find and clean them up. */
export function repoLabels(repoName: string): Record<string, string> {
  return { [LabelBackupRepoName]: repoName, [LabelManagedBy]: ManagedBy };
}

export function generatedStorageClassName(repoName: string): string {
  return childName(`dp-repo-${repoName}`, "");
}

export function csiDriverSecretName(repoName: string): string {
  return childName(`dp-repo-${repoName}`, "csi");
}

export function preCheckJobName(repoName: string, generation: number): string {
  return childName(`dp-repo-${repoName}`, `precheck-${generation}`);
}
