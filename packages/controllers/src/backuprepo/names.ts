// Pure: deterministic names and labels of everything a BackupRepo creates.
import { AnnotationAccessModes, LabelBackupRepoName, LabelManagedBy, LabelPreCheckGeneration, ManagedBy } from "@dataprotection/api";
import { childName, labelValue } from "@dataprotection/runtime";

export { AnnotationAccessModes, LabelPreCheckGeneration };

/** The labels of every object a repo creates, so it can find and clean them up. */
export function repoLabels(repoName: string): Record<string, string> {
  return { [LabelBackupRepoName]: labelValue(repoName), [LabelManagedBy]: ManagedBy };
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
