// Pure: template values that carry no secret (for agent config and validation of syntax).
import type { BackupRepo } from "@dataprotection/api";
import type { TemplateValues } from "./template.ts";

export function templateValuesWithoutSecrets(repo: BackupRepo): TemplateValues {
  return { Parameters: { ...(repo.spec.config ?? {}) }, GeneratedStorageClassName: repo.status?.generatedStorageClassName ?? "", CSIDriverSecretRef: { Name: "", Namespace: "" } };
}
