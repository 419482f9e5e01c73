// Pure: what a provider's templates see when rendered for one repo.
import type { BackupRepo } from "@dataprotection/api";
import type { TemplateValues } from "../storageprovider/template.ts";
import { repoParameters } from "../storageprovider/parameters.ts";
import { csiDriverSecretName, generatedStorageClassName } from "./names.ts";

/** Where the CSI driver Secret lives: the operator's namespace, else the credential's, else "default". */
export function csiDriverSecretNamespace(repo: BackupRepo, operatorNamespace: string | undefined): string {
  return repo.status?.generatedCSIDriverSecret?.namespace ?? operatorNamespace ?? repo.spec.credential?.namespace ?? "default";
}

export function templateValues(repo: BackupRepo, credential: Record<string, string> | undefined, operatorNamespace?: string): TemplateValues {
  const name = repo.metadata?.name ?? "";
  return {
    Parameters: repoParameters(repo, credential),
    GeneratedStorageClassName: repo.status?.generatedStorageClassName || generatedStorageClassName(name),
    CSIDriverSecretRef: {
      Name: repo.status?.generatedCSIDriverSecret?.name ?? csiDriverSecretName(name),
      Namespace: csiDriverSecretNamespace(repo, operatorNamespace),
    },
  };
}
